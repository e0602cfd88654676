"""Pure numerical core: indices, bootstrap, effect estimators, panel simulation, text measure.

Nothing in this package imports Django, DRF or Celery (enforced by import-linter).
"""
