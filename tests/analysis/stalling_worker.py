"""A Celery worker whose index computation stalls after reading the answers, so that a test can
kill it mid-way (tests/analysis/test_worker.py), and whose effects computation stalls for
STALL_EFFECTS_SECONDS (default 0) inside its read snapshot, so that a test can act while it runs
(tests/analysis/test_isolation_worker.py). Run as a script with the worker's arguments."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")

import django  # noqa: E402

django.setup()

from analysis.pipeline import effects, indices  # noqa: E402
from disagreement.celery import app  # noqa: E402

_compute = indices.wave_index_frame


def stalling_wave_index_frame(*args, **kwargs):
    time.sleep(float(os.environ.get("STALL_SECONDS", "60")))
    return _compute(*args, **kwargs)


indices.wave_index_frame = stalling_wave_index_frame
_read_study_inputs = effects.read_study_inputs


def stalling_read_study_inputs(*args, **kwargs):
    inputs = _read_study_inputs(*args, **kwargs)
    inputs.answers  # noqa: B018 - every wave's answers read, the snapshot transaction open
    time.sleep(float(os.environ.get("STALL_EFFECTS_SECONDS", "0")))
    return inputs


effects.read_study_inputs = stalling_read_study_inputs

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
