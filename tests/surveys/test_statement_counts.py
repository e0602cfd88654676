"""How many SQL statements a participant's submission costs (docs/participant-pages.md, "What a
page costs"): the GET of the wave page, the POST of its answers and the page the redirect names,
as the generic load client of bench/submit.py makes them. Upper bounds, so that a change that adds
a round trip to the hot path fails here rather than in a benchmark. Transactional: the requests
run outside any transaction, as they do in production (inside one, writes take savepoints)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys import selectors
from surveys.models import Response, Submission

pytestmark = pytest.mark.django_db(transaction=True)

#: Upper bounds per request: (PostgreSQL, SQLite). On PostgreSQL several writes that commit
#: together are one statement (common/fastsql.py execute_together).
BOUNDS = {
    # token (with whether baseline is due), waves with the submissions, the intervention, the
    # wave's items (on PostgreSQL only when this process has not built their version yet); the new
    # submission with its count
    "GET": (5, 8),
    # token, the wave with the submission, the wave's items (as above); BEGIN, the locked
    # submission, the answers with the resume point and the completion count, COMMIT
    "POST": (6, 9),
    # token, waves with the submissions: the end page
    "after": (2, 2),
}


def bound(step: str) -> int:
    return BOUNDS[step][0 if connection.vendor == "postgresql" else 1]


def statements(client, method: str, path: str, data=None) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path) if method == "GET" else client.post(path, data)
    return response, [query["sql"] for query in queries.captured_queries]


def test_a_submission_costs_at_most_its_statements(survey, enroll, client):
    survey.study.items_per_page = 10  # the whole wave on one page, as in bench/submit.py
    survey.study.save()
    participant, secret = enroll()
    selectors.seconds_per_item(survey.study.pk)  # cached for ten minutes: not part of a page view
    path = f"/p/{secret}/"

    response, sql = statements(client, "GET", path)
    assert response.status_code == 200
    assert len(sql) <= bound("GET"), sql
    html = response.content.decode()
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    data.update({"i_reasons": "5", "i_understand": "6", "i_threat": "dk", "i_marry": "2", "i_warmth": "40",
                 "i_story": "", "i_attention": "3"})

    response, sql = statements(client, "POST", path, data)
    assert response.status_code == 303
    assert len(sql) <= bound("POST"), sql

    response, sql = statements(client, "GET", response["Location"])
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    assert len(sql) <= bound("after"), sql

    submission = Submission.objects.get(participant=participant)
    assert submission.completed_at is not None
    assert Response.objects.filter(submission=submission).count() == 7


def test_a_double_submit_stores_the_answers_once(survey, enroll, client):
    survey.study.items_per_page = 10
    survey.study.save()
    participant, secret = enroll()
    path = f"/p/{secret}/"
    html = client.get(path).content.decode()
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    data.update({"i_reasons": "5", "i_understand": "6", "i_threat": "dk", "i_marry": "2", "i_warmth": "40",
                 "i_story": "", "i_attention": "3"})
    assert client.post(path, data).status_code == 303
    data["i_reasons"] = "1"
    second = client.post(path, data)
    assert second.status_code == 303 and second["Location"].endswith("?stale=1")
    stored = dict(Response.objects.filter(submission__participant=participant).values_list("item__code", "value"))
    assert len(stored) == 7 and stored["reasons"] == 5.0
