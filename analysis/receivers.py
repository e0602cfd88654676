"""Receivers for signals sent by `surveys`."""

import logging

logger = logging.getLogger(__name__)


def on_wave_closed(sender, *, study_id: int, wave_id: int, **kwargs) -> None:
    """A wave closed: its indices are due. The pipeline issue wires the Celery task here."""
    logger.info("wave %s of study %s closed; indices are due", wave_id, study_id)
