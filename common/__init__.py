"""Plumbing shared by the apps: who may do what, API, Celery and fast-SQL helpers (no models)."""
