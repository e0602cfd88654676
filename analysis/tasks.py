"""Celery tasks: thin wrappers that take ids and call one service each.

Task names are part of the contract with queued messages: `tests/analysis/test_tasks.py` pins them,
and `analysis.pipeline.enqueue` sends the tasks by these names.
"""

from celery import shared_task

from analysis.pipeline import effects, enqueue, indices
from analysis.report import build as report
from common.celery import TASK_OPTIONS


@shared_task(name="analysis.compute_wave_indices", soft_time_limit=540, time_limit=600, **TASK_OPTIONS)
def compute_wave_indices_task(study_id: int, wave_id: int, force: bool = False) -> None:
    indices.compute_wave_indices(study_id=study_id, wave_id=wave_id, force=force)


@shared_task(name="analysis.sweep_indices", soft_time_limit=240, time_limit=300, **TASK_OPTIONS)
def sweep_indices_task() -> None:
    enqueue.sweep_indices()


@shared_task(name="analysis.compute_study_effects", soft_time_limit=540, time_limit=600, **TASK_OPTIONS)
def compute_study_effects_task(study_id: int) -> None:
    effects.compute_study_effects(study_id=study_id)


@shared_task(name="analysis.build_study_report", soft_time_limit=240, time_limit=300, **TASK_OPTIONS)
def build_study_report_task(study_id: int) -> None:
    report.build_study_report(study_id=study_id)
