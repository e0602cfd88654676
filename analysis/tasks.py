"""Celery tasks: thin wrappers that take ids and call one service each (STYLE.md).

Task names are part of the contract with queued messages: `tests/analysis/test_tasks.py` pins them.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from analysis.pipeline import services

#: Errors worth retrying: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)

COMMON = {
    "acks_late": True,  # the services are idempotent, so a redelivery after a crash is safe
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}


@shared_task(name="analysis.compute_wave_indices", soft_time_limit=540, time_limit=600, **COMMON)
def compute_wave_indices_task(study_id: int, wave_id: int, force: bool = False) -> None:
    services.compute_wave_indices(study_id=study_id, wave_id=wave_id, force=force)


@shared_task(name="analysis.sweep_indices", soft_time_limit=240, time_limit=300, **COMMON)
def sweep_indices_task() -> None:
    services.sweep_indices()


@shared_task(name="analysis.compute_study_effects", soft_time_limit=540, time_limit=600, **COMMON)
def compute_study_effects_task(study_id: int) -> None:
    services.compute_study_effects(study_id=study_id)
