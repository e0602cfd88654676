from disagreement.celery import app


def test_registered_task_names_are_pinned():
    # Renaming a task strands the messages already queued under the old name.
    app.loader.import_default_modules()
    ours = sorted(name for name in app.tasks if name.startswith("analysis."))  # surveys.* pinned in tests/surveys
    assert ours == ["analysis.build_study_report", "analysis.compute_study_effects", "analysis.compute_wave_indices", "analysis.resend_lost_runs",
                    "analysis.sweep_indices"]


def test_tasks_ack_late_and_retry_only_transient_errors():
    from django.db import OperationalError

    task = app.tasks["analysis.compute_wave_indices"]
    assert task.acks_late is True and task.time_limit == 660 and task.soft_time_limit == 600
    assert OperationalError in task.autoretry_for and ValueError not in task.autoretry_for


def test_no_task_outlives_the_visibility_timeout_and_lost_runs_are_resent_within_a_minute():
    """Redis must not deliver a task that is still running to a second worker: its visibility
    timeout exceeds every hard time limit. Lost runs are found by their heartbeat instead."""
    from django.conf import settings

    app.loader.import_default_modules()
    # What Redis would use: the project's settings read without the tests' overrides.
    import importlib

    project = importlib.import_module("disagreement.settings")
    limits = [task.time_limit for name, task in app.tasks.items() if not name.startswith("celery.")]
    assert limits and all(limit is not None for limit in limits)
    visibility = project.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    if visibility is not None:  # the Redis transport (a broker URL is set)
        assert visibility > max(limits)
    assert project.CELERY_TASK_TIME_LIMIT + 300 > max(limits)  # the default visibility timeout
    assert settings.CELERY_BEAT_SCHEDULE["resend-lost-runs"] == {"task": "analysis.resend_lost_runs", "schedule": 30}
    lost_after = settings.ANALYSIS_RUN_LOST_AFTER_SECONDS
    assert lost_after + settings.CELERY_BEAT_SCHEDULE["resend-lost-runs"]["schedule"] <= 75  # about a minute
    assert settings.ANALYSIS_HEARTBEAT_SECONDS * 3 <= lost_after
