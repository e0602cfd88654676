"""The tests' settings: the project's, with Celery tasks run inside the caller (eager), so a test
sees a computation's result without a worker. Tests of real workers switch to a broker
(`tests/plugins/celery_worker.py`); the processes they start use the project's settings."""

from disagreement.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
