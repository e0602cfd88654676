"""Signals through which `surveys` tells the rest of the platform what happened.

`surveys` never imports `analysis`; analysis connects its receivers in
`analysis.apps.AnalysisConfig.ready()`.
"""

from django.dispatch import Signal

#: Sent once when a wave closes (its state becomes ``closed``), after the transaction commits.
#: Keyword arguments: ``study_id`` (int), ``wave_id`` (int, the Wave's primary key).
wave_closed = Signal()

#: Sent after the transaction commits when answers that enter analysis changed outside the
#: normal flow of an open wave: a participant withdrew (withdrawn participants leave analysis)
#: and possibly had all their answers deleted; answers were deleted at the end of the retention
#: period; a researcher excluded participants (`surveys.exclusions`; every wave with answers,
#: since each wave's results record the exclusions they applied). Results computed for these
#: waves are stale. Keyword arguments: ``study_id`` (int), ``wave_ids`` (list of int, the Waves'
#: primary keys, sorted; may be empty when the participant had answered nothing), ``deleted``
#: (bool, whether the answers were deleted or only left out). Never sent for preview participants.
answers_changed = Signal()
