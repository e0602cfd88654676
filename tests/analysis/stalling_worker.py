"""A Celery worker whose index computation stalls after reading the answers, so that a test can
kill it mid-way (tests/analysis/test_worker.py). Run as a script with the worker's arguments."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")

import django  # noqa: E402

django.setup()

from analysis.pipeline import indices  # noqa: E402
from disagreement.celery import app  # noqa: E402

_compute = indices.wave_index_frame


def stalling_wave_index_frame(*args, **kwargs):
    time.sleep(float(os.environ.get("STALL_SECONDS", "60")))
    return _compute(*args, **kwargs)


indices.wave_index_frame = stalling_wave_index_frame

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
