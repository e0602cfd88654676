"""Real Celery workers for tests: PostgreSQL, Redis, and worker (and beat) processes the test starts.

These tests are slow (`make test-slow`, run by `.ci/run` with DATABASE_URL set) and skip on
SQLite or when Redis is not reachable. A test module takes a Redis database of its own, so that two
modules, or two checkouts on one machine, never read each other's messages:

    pytestmark = WORKER_TESTS
    broker = broker_fixture(db=REDIS_DB + 1)

`TEST_REDIS_URL` names the server (default redis://127.0.0.1:6379) and `TEST_REDIS_DB` the first
database the worker tests use (default 11; the scheduling test takes the next one).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "11"))
WORKER_OPTIONS = ["--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                  "--without-heartbeat"]
CELERY = [sys.executable, "-m", "celery", "-A", "disagreement"]

WORKER_TESTS = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="worker tests need PostgreSQL (DATABASE_URL)"),
]


def redis_url(db: int) -> str:
    return f"{REDIS_SERVER}/{db}"


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        return False


def broker_fixture(*, db: int, **conf):
    """A `broker` fixture: this process sends tasks to Redis database `db` (emptied first) instead
    of running them eagerly; `conf` sets more Celery options for the test. Yields the broker URL."""

    @pytest.fixture
    def broker(settings):
        from disagreement.celery import app

        url = redis_url(db)
        if not redis_reachable(url):
            pytest.skip(f"Redis not reachable at {url}")
        import redis

        redis.Redis.from_url(url).flushdb()
        previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager", *conf)}
        app.conf.update(broker_url=url, task_always_eager=False, **conf)
        settings.CELERY_TASK_ALWAYS_EAGER = False
        app._pool = None  # a fresh producer pool for the new broker URL
        yield url
        app.conf.update(previous)
        app._pool = None

    return broker


class Processes:
    """The Celery processes of one test, each writing its log to a file; all stopped at the end."""

    def __init__(self, folder: Path, broker_url: str):
        self.folder, self.broker_url, self.running = folder, broker_url, []

    def environment(self, **extra: str) -> dict:
        """This process's environment, pointed at the test database and the test's broker."""
        db = connection.settings_dict
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "disagreement.settings",  # not the tests' eager settings
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": self.broker_url,
            **extra,
        }

    def start(self, command: list[str] | None = None, *, name: str = "worker", **env: str) -> subprocess.Popen:
        """Start `command` (default: a Celery worker of the project) with `env` added to the environment."""
        log = self.folder / f"{name}-{len(self.running)}.log"
        process = subprocess.Popen(command or [*CELERY, "worker", *WORKER_OPTIONS], cwd=ROOT,
                                   env=self.environment(**env), stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.log = log
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> str:
        """Stop the process (its whole process group) and return what it logged."""
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return process.log.read_bytes().decode(errors="replace")


@pytest.fixture
def celery_processes(broker, tmp_path):
    """Start Celery workers and beat for this test (`Processes`); whatever still runs at the end is stopped."""
    processes = Processes(tmp_path, broker)
    yield processes
    for process in processes.running:
        processes.stop(process, signal.SIGKILL)


def wait_for(predicate, *, timeout: float = 120.0, what: str = "condition", interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
