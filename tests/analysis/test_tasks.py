from disagreement.celery import app


def test_registered_task_names_are_pinned():
    # Renaming a task strands the messages already queued under the old name.
    app.loader.import_default_modules()
    ours = sorted(name for name in app.tasks if name.startswith("analysis."))  # surveys.* pinned in tests/surveys
    assert ours == ["analysis.build_study_report", "analysis.compute_study_effects", "analysis.compute_wave_indices",
                    "analysis.sweep_indices"]


def test_tasks_ack_late_and_retry_only_transient_errors():
    from django.db import OperationalError

    task = app.tasks["analysis.compute_wave_indices"]
    assert task.acks_late is True and task.time_limit == 600 and task.soft_time_limit == 540
    assert OperationalError in task.autoretry_for and ValueError not in task.autoretry_for
