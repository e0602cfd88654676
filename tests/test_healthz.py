import json

import pytest
from django.db import connection
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_eager_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert {k: body[k] for k in ("database", "broker", "status")} == {"database": "ok", "broker": "eager", "status": "ok"}
    assert body["analysis"] == {"queued": 0, "running": 0, "overdue": 0, "failed_last_day": 0, "last_error": None,
                                "last_finished_at": None, "last_status": None}


def test_healthz_is_degraded_while_a_run_is_overdue(client):
    from django.utils import timezone

    from analysis.models import AnalysisRun
    from tests.factories import StudyFactory

    long_ago = timezone.now() - timezone.timedelta(minutes=5)
    run = AnalysisRun.objects.create(study=StudyFactory(), kind="effects", status="running",
                                     started_at=long_ago, heartbeat_at=timezone.now())
    body = json.loads(client.get("/healthz").content)
    assert body["status"] == "ok" and body["analysis"]["running"] == 1 and body["analysis"]["overdue"] == 0
    AnalysisRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)  # its worker died
    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 200 and body["status"] == "degraded" and body["analysis"]["overdue"] == 1


def test_healthz_reports_an_unreachable_broker(client):
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        from disagreement.celery import app

        previous = app.conf.broker_url
        app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
        try:
            response = client.get("/healthz")
        finally:
            app.conf.broker_url = previous
    assert response.status_code == 200
    assert json.loads(response.content)["broker"] == "error"


def test_healthz_answers_503_when_the_database_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["database"] == "error"


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405
