"""Celery tasks of the survey side: thin wrappers that take ids and call one service (docs/architecture.md).

Task names are part of the contract with queued messages: `tests/surveys/test_scheduling.py` pins them.
"""

from celery import shared_task

from common.celery import TASK_OPTIONS
from surveys import messaging, retention, scheduling

# A failed e-mail is not a transient error: the service records it and the schedule retries that
# message with backoff. Claimed rows are never sent twice, so a redelivered batch is safe.


@shared_task(name="surveys.advance_schedule", soft_time_limit=240, time_limit=300, **TASK_OPTIONS)
def advance_schedule_task() -> None:
    scheduling.advance_schedule()


@shared_task(name="surveys.send_message_batch", soft_time_limit=240, time_limit=300, **TASK_OPTIONS)
def send_message_batch_task(message_ids: list[int]) -> None:
    messaging.send_message_batch(message_ids=message_ids)


@shared_task(name="surveys.delete_expired_data", soft_time_limit=540, time_limit=600, **TASK_OPTIONS)
def delete_expired_data_task() -> None:
    retention.delete_expired_data()
