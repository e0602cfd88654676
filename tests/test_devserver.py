"""`make demo`'s supervisor (`disagreement/devserver.py`): with nothing installed it serves the
demo, a worker computes what a request enqueues on the embedded broker, and Ctrl-C stops every
process it started."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except Exception:  # noqa: BLE001 - not up yet
        return 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_demo_serves_the_demo_computes_in_a_worker_and_ctrl_c_stops_everything(tmp_path):
    # What a fresh machine has: no DATABASE_URL, no broker, no eager flag (only a private folder).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", CELERY_STATE_DIR=str(tmp_path / "var"))
    port = _free_port()
    env["SITE_URL"] = f"http://127.0.0.1:{port}"

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput")
    link = re.search(r"Participant link: (\S+)", manage("seed_demo", "--participants", "60")).group(1)
    log = (tmp_path / "demo.log").open("w+b")
    demo = subprocess.Popen([sys.executable, "-m", "disagreement.devserver", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while _get(f"http://127.0.0.1:{port}/healthz") != 200:
            assert demo.poll() is None and time.monotonic() < deadline, log.name
            time.sleep(0.5)
        assert _get(link) == 200 and _get(f"http://127.0.0.1:{port}/accounts/login/") == 200
        output = Path(log.name).read_text()
        pids = {name: int(pid) for name, pid in re.findall(r"^\s+(web|worker|beat)\s.*\(pid (\d+)\)", output, re.M)}
        assert set(pids) == {"web", "worker", "beat"}, output

        # A recompute only enqueues (no computation in the caller); the worker computes it.
        started = time.perf_counter()
        manage("shell", "-c", "from analysis.pipeline.enqueue import recompute_study; "
               "from surveys.models import Study; recompute_study(study_id=Study.objects.get(slug='demo').pk)")
        script = ("from analysis.models import AnalysisRun as R; "
                  "print(R.objects.filter(status__in=['queued','running']).count(), "
                  "R.objects.filter(parameters__force=True, status='done').count())")
        while True:
            active, forced = map(int, manage("shell", "-c", script).split()[-2:])
            if active == 0 and forced:
                break
            assert time.monotonic() - started < 180, Path(log.name).read_text()
            time.sleep(1)
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        code = demo.wait(timeout=60)
    assert code == 0
    assert "demo: stopped worker" in Path(log.name).read_text()
    for name, pid in pids.items():
        assert not _group_alive(pid), f"{name} still runs"
