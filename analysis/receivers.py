"""Receivers for signals sent by `surveys` (connected in AnalysisConfig.ready)."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def on_wave_closed(sender, *, study_id: int, wave_id: int, **kwargs) -> None:
    """A wave closed: queue its indices (after the closing transaction commits)."""
    from analysis.pipeline.services import request_wave_indices

    transaction.on_commit(lambda: request_wave_indices(study_id=study_id, wave_id=wave_id))


def on_answers_changed(sender, *, study_id: int, wave_ids: list[int], **kwargs) -> None:
    """A participant withdrew (and perhaps deleted their answers): recompute those waves."""
    from analysis.pipeline.services import request_wave_indices

    def queue() -> None:
        for wave_id in wave_ids:
            request_wave_indices(study_id=study_id, wave_id=wave_id)

    transaction.on_commit(queue)
