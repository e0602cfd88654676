"""`make demo`'s last step: the web server, a Celery worker and Celery beat, together, the way
production runs them (requests enqueue, the worker computes, beat sends the periodic sweeps).

    python -m disagreement.devserver [--host 127.0.0.1] [--port 8000] [--concurrency 2]

With nothing configured the three share the SQLite file and the embedded broker (kombu's
filesystem transport, message files under `var/broker`): nothing to install. With
`DATABASE_URL` / `CELERY_BROKER_URL` set they use PostgreSQL / Redis instead. Each child's
output is printed with its name in front. Ctrl-C (or SIGTERM) stops all three, each with its
own processes (the worker's pool), and so does any one of them exiting.
"""

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_S = 10


def _die_with_parent() -> None:
    """In the child before exec (Linux): receive SIGTERM when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def commands(*, host: str, port: int, concurrency: int) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "disagreement"]
    return {
        "web": [python, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
                   "--without-gossip", "--without-mingle"],
        "beat": [*celery, "beat", "--loglevel", "INFO"],
    }


def _relay(name: str, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for process in children.values():
        if process.poll() is None:  # the leader stops its own processes (the worker its pool)
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for name, process in children.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # the process group may outlive its leader (a pool child): make sure it is gone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        print(f"demo: stopped {name} (pid {process.pid})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    broker = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER:
        print("demo: CELERY_TASK_ALWAYS_EAGER is set; the demo runs tasks in a worker, unset it", file=sys.stderr)
        return 2
    where_broker = (f"embedded, message files in {settings.EMBEDDED_BROKER_DIR}" if broker == "filesystem://"
                    else broker.split("@")[-1])
    database = settings.DATABASES["default"]
    where_db = database["NAME"] if database["ENGINE"].endswith("sqlite3") else \
        f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}/{database['NAME']}"

    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands(host=options.host, port=options.port,
                                      concurrency=options.concurrency).items():
            # Own process group: the terminal's Ctrl-C reaches only this supervisor, which stops
            # each child with all its processes, in order, and waits for them.
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)
            children[name] = process
            threading.Thread(target=_relay, args=(name, process.stdout), daemon=True).start()
        print(
            "\ndemo: running; Ctrl-C stops all three\n"
            f"  web     http://{options.host}:{options.port}/  (pid {children['web'].pid})\n"
            f"  worker  {options.concurrency} processes computing analyses (pid {children['worker'].pid})\n"
            f"  beat    periodic sweeps and the wave schedule (pid {children['beat'].pid})\n"
            f"  broker  {where_broker}\n"
            f"  database {where_db}\n",
            flush=True,
        )
        while not stopping.is_set():
            exited = [name for name, process in children.items() if process.poll() is not None]
            if exited:
                print(f"demo: {', '.join(exited)} exited; stopping the others", file=sys.stderr, flush=True)
                return 1
            stopping.wait(0.5)
        print("\ndemo: stopping web, worker and beat", flush=True)
        return 0
    finally:
        _stop(children)


if __name__ == "__main__":
    sys.exit(main())
