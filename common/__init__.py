"""Plumbing shared by the apps: no models, and no import of `surveys` or `analysis`."""
