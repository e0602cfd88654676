"""Celery plumbing shared by both apps: tasks are sent by name, a broker outage fails no request,
and every task has the same retry and acknowledgement options."""

import logging

import pytest
from django.db import OperationalError

from common.celery import (
    TASK_OPTIONS,
    TRANSIENT_ERRORS,
    dispatch,
    dispatch_on_commit,
    registered_task,
)

TASKS = ("analysis.compute_wave_indices", "analysis.sweep_indices", "analysis.compute_study_effects",
         "surveys.advance_schedule", "surveys.send_message_batch", "surveys.delete_expired_data")


@pytest.mark.parametrize("name", TASKS)
def test_every_task_is_found_by_name_with_the_shared_options(name):
    task = registered_task(name)
    assert task.name == name
    assert (task.acks_late, task.reject_on_worker_lost, task.max_retries, task.ignore_result) == (True, True, 8, True)
    assert tuple(task.autoretry_for) == TRANSIENT_ERRORS and OperationalError in task.autoretry_for
    assert ValueError not in task.autoretry_for
    assert task.retry_backoff == TASK_OPTIONS["retry_backoff"]


def test_an_unknown_task_name_is_an_error_not_a_log_line():
    with pytest.raises(KeyError):
        dispatch("analysis.no_such_task", {}, catch_up="never")


def test_dispatch_sends_the_keyword_arguments(monkeypatch):
    sent = []
    task = registered_task("surveys.send_message_batch")
    monkeypatch.setattr(task, "apply_async", lambda **options: sent.append(options))
    assert dispatch("surveys.send_message_batch", {"message_ids": [1, 2]}, catch_up="later") is True
    assert sent == [{"kwargs": {"message_ids": [1, 2]}}]


def test_a_broker_outage_is_logged_and_not_raised(monkeypatch, caplog):
    def refuse(**options):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(registered_task("analysis.sweep_indices"), "apply_async", refuse)
    with caplog.at_level(logging.WARNING, logger="common.celery"):
        assert dispatch("analysis.sweep_indices", catch_up="the periodic sweep will retry") is False
    assert "could not dispatch analysis.sweep_indices; the periodic sweep will retry" in caplog.text


@pytest.mark.django_db
def test_dispatch_on_commit_waits_for_the_commit(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(registered_task("analysis.sweep_indices"), "apply_async", lambda **options: sent.append(1))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dispatch_on_commit("analysis.sweep_indices", catch_up="later")
        assert sent == []
    assert len(callbacks) == 1 and sent == [1]
