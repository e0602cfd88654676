"""Signals through which `surveys` tells the rest of the platform what happened.

`surveys` never imports `analysis`; analysis connects its receivers in
`analysis.apps.AnalysisConfig.ready()`.
"""

from django.dispatch import Signal

#: Sent once when a wave closes (its state becomes ``closed``), after the transaction commits.
#: Keyword arguments: ``study_id`` (int), ``wave_id`` (int, the Wave's primary key).
wave_closed = Signal()
