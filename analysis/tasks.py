"""Celery tasks: thin wrappers that take ids and call one service each.

Task names are part of the contract with queued messages: `tests/analysis/test_tasks.py` pins them,
and `analysis.pipeline.enqueue` sends the tasks by these names.
"""

from celery import shared_task

from analysis.pipeline import effects, enqueue, indices
from analysis.report import build as report
from common.celery import COMPUTE_LIMITS, SWEEP_LIMITS, TASK_OPTIONS


@shared_task(name="analysis.compute_wave_indices", **COMPUTE_LIMITS, **TASK_OPTIONS)
def compute_wave_indices_task(study_id: int, wave_id: int, force: bool = False, run_id: int | None = None) -> None:
    indices.compute_wave_indices(study_id=study_id, wave_id=wave_id, force=force, run_id=run_id)


@shared_task(name="analysis.sweep_indices", **SWEEP_LIMITS, **TASK_OPTIONS)
def sweep_indices_task() -> None:
    enqueue.sweep_indices()


@shared_task(name="analysis.resend_lost_runs", **SWEEP_LIMITS, **TASK_OPTIONS)
def resend_lost_runs_task() -> None:
    enqueue.resend_lost_runs()


@shared_task(name="analysis.compute_study_effects", **COMPUTE_LIMITS, **TASK_OPTIONS)
def compute_study_effects_task(study_id: int, run_id: int | None = None) -> None:
    effects.compute_study_effects(study_id=study_id, run_id=run_id)


@shared_task(name="analysis.build_study_report", **COMPUTE_LIMITS, **TASK_OPTIONS)
def build_study_report_task(study_id: int, run_id: int | None = None) -> None:
    report.build_study_report(study_id=study_id, run_id=run_id)
