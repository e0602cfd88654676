"""Celery plumbing shared by the apps: which errors a task retries, the options every task takes,
and sending a task without failing the request that sends it.

Services send tasks by their registered names (`dispatch("analysis.compute_wave_indices", ...)`),
never by importing the task functions: the tasks modules import the services they wrap, so a
service that imported its task back would close an import cycle. The names are pinned by tests.
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)

#: Errors worth retrying: the database or the broker was briefly unreachable. An error of the
#: work itself (bad data, a failed e-mail the service records) is not one of them.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)

#: Options of every task. The services they call are idempotent, so a redelivery after a crash
#: (acks_late, reject_on_worker_lost) is safe; results live in our own tables.
TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}


#: Time limits of a computation (indices, effects): a soft limit (the task fails its run and
#: stops), then the hard one. The broker's visibility timeout exceeds the hard limit (settings).
COMPUTE_LIMITS = {"soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
                  "time_limit": settings.CELERY_TASK_TIME_LIMIT}
#: Time limits of the periodic sweeps and schedule ticks.
SWEEP_LIMITS = {"soft_time_limit": 240, "time_limit": 300}


def registered_task(name: str):
    """The task registered under `name` in the current Celery app (eager in tests, as configured).
    A process that never imported the tasks modules (a web worker) imports them on first use."""
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery: every app's tasks module
    return app.tasks[name]


def dispatch(name: str, kwargs: dict | None = None, *, catch_up: str) -> bool:
    """Send the task `name` with `kwargs`. A broker outage is logged, not raised (no participant's
    or researcher's request fails for it); `catch_up` says what sends the work later."""
    task = registered_task(name)  # an unknown name is a programming error: raised, not logged
    try:
        task.apply_async(kwargs=kwargs or {})
    except Exception:  # noqa: BLE001 - kombu/redis raise many types; none may fail the caller
        logger.warning("could not dispatch %s; %s", name, catch_up, exc_info=True)
        return False
    return True


def dispatch_on_commit(name: str, kwargs: dict | None = None, *, catch_up: str) -> None:
    """`dispatch` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: dispatch(name, kwargs, catch_up=catch_up))
