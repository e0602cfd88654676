"""Celery tasks of the survey side: thin wrappers that take ids and call one service (STYLE.md).

Task names are part of the contract with queued messages: `tests/surveys/test_scheduling.py` pins them.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from surveys import messaging, retention, scheduling

#: Errors worth retrying: the database or the broker was briefly unreachable. A failed e-mail is
#: not one of them: the service records it and the schedule retries that message with backoff.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)

COMMON = {
    "acks_late": True,  # the services are idempotent (claimed rows are never sent twice)
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}


@shared_task(name="surveys.advance_schedule", soft_time_limit=240, time_limit=300, **COMMON)
def advance_schedule_task() -> None:
    scheduling.advance_schedule()


@shared_task(name="surveys.send_message_batch", soft_time_limit=240, time_limit=300, **COMMON)
def send_message_batch_task(message_ids: list[int]) -> None:
    messaging.send_message_batch(message_ids=message_ids)


@shared_task(name="surveys.delete_expired_data", soft_time_limit=540, time_limit=600, **COMMON)
def delete_expired_data_task() -> None:
    retention.delete_expired_data()
