"""Plumbing shared by the apps (access rules, API, Celery, fast SQL): no models, imports neither app."""
