"""Receivers for signals sent by `surveys` (connected in AnalysisConfig.ready)."""

from django.db import transaction

from analysis.pipeline.enqueue import request_wave_indices


def on_wave_closed(sender, *, study_id: int, wave_id: int, **kwargs) -> None:
    """A wave closed: queue its indices (after the closing transaction commits)."""
    transaction.on_commit(lambda: request_wave_indices(study_id=study_id, wave_id=wave_id))


def on_answers_changed(sender, *, study_id: int, wave_ids: list[int], **kwargs) -> None:
    """Answers that enter analysis changed (a withdrawal, an exclusion, deleted data): recompute
    those waves."""

    def queue() -> None:
        for wave_id in wave_ids:
            request_wave_indices(study_id=study_id, wave_id=wave_id)

    transaction.on_commit(queue)


def on_study_saved(sender, *, instance, **kwargs) -> None:
    """A study saved out of draft (launched): freeze its analysis plan, with hash and time."""
    if instance.status != instance.Status.DRAFT:
        from analysis.planning import freeze_plan

        freeze_plan(study=instance)


def on_participant_deleted(sender, *, instance, **kwargs) -> None:
    """A participant was deleted with their data-quality rows: the stored count of flagged
    participants is recounted after the deletion commits."""
    from analysis.pipeline.quality_store import recount_flagged_on_commit

    recount_flagged_on_commit(instance.study_id)
