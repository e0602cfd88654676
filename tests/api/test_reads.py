"""Participants, responses (cursor paginated, filtered), indices and effects."""

import math

import pytest
from django.utils import timezone

from analysis.models import AnalysisRun, EffectEstimate, IndexResult
from tests.api.conftest import ANSWERS

pytestmark = pytest.mark.django_db
BASE = "/api/v1/studies/panel/"


def all_pages(client, url):
    rows, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        url, pages = body["next"], pages + 1
    return rows, pages


def test_responses_page_through_every_answer_with_a_cursor(data, analyst_client):
    client = analyst_client
    rows, pages = all_pages(client, BASE + "responses/?page_size=3")
    assert pages == 4
    pid = {k: p.public_id for k, p in data.participants.items()}
    expected = [(pid[a[0]], a[1], a[2], a[3], a[4], a[5], a[6]) for a in ANSWERS if a[0] in ("p1", "p2")]
    got = [(r["participant"], r["wave"], r["item"], r["value"], r["text"], r["missing"], r["response_time_ms"])
           for r in rows]
    assert sorted(got, key=str) == sorted(expected, key=str)
    first = next(r for r in rows if r["participant"] == pid["p2"])
    assert first["arm"] == "contact" and first["groups"] == {"side": 2}
    assert "token" not in str(rows) and "PID-" not in str(rows)


@pytest.mark.parametrize(("query", "keep"), [
    ("wave=2", lambda a: a[1] == 2),
    ("item=warmth", lambda a: a[2] == "warmth"),
    ("arm=control", lambda a: a[0] == "p1"),
    ("group=side:2", lambda a: a[0] == "p2"),
    ("group=arm:contact", lambda a: a[0] == "p2"),
])
def test_responses_filter_by_wave_item_arm_and_group(data, query, keep, owner_client):
    rows, _pages = all_pages(owner_client, BASE + f"responses/?{query}")
    pid = {k: p.public_id for k, p in data.participants.items()}
    assert sorted((r["participant"], r["wave"], r["item"]) for r in rows) == sorted(
        (pid[a[0]], a[1], a[2]) for a in ANSWERS if a[0] in ("p1", "p2") and keep(a))


def test_responses_with_excluded_participants_on_request_but_never_previews(data, owner_client):
    rows, _pages = all_pages(owner_client, BASE + "responses/?include_excluded=true")
    pid = {k: p.public_id for k, p in data.participants.items()}
    assert {r["participant"] for r in rows} == {pid["p1"], pid["p2"], pid["p3"], pid["p5"]}


@pytest.mark.parametrize("query", ["group=side", "group=nope:1", "wave=x", "include_excluded=perhaps", "cursor=zzz"])
def test_bad_response_filters_are_400(data, query, owner_client):
    response = owner_client.get(BASE + f"responses/?{query}")
    assert response.status_code in (400, 404) if query.startswith("cursor") else response.status_code == 400


def test_participants_show_status_and_external_ids_only_to_owners_who_ask(data, owner_client, analyst_client):
    body = analyst_client.get(BASE + "participants/").json()
    pid = {k: p.public_id for k, p in data.participants.items()}
    status = {r["id"]: r["status"] for r in body["results"]}
    assert status == {pid["p1"]: "active", pid["p2"]: "active", pid["p3"]: "excluded", pid["p5"]: "withdrawn"}
    assert all("external_id" not in r for r in body["results"])
    assert analyst_client.get(BASE + "participants/?include_external_id=true").status_code == 403
    body = owner_client.get(BASE + "participants/?include_external_id=true").json()
    assert {r["id"]: r["external_id"] for r in body["results"]}[pid["p1"]] == "PID-1"
    body = owner_client.get(BASE + "participants/?status=excluded").json()
    assert [r["id"] for r in body["results"]] == [pid["p3"]]
    body = owner_client.get(BASE + "participants/?group=side:1").json()
    assert {r["id"] for r in body["results"]} == {pid["p1"], pid["p5"]}


@pytest.fixture
def results(data):
    now = timezone.now()
    run = AnalysisRun.objects.create(study=data.study, kind="indices", wave=data.waves[1], status="done")
    rows = [
        (data.items["reasons"], "all", "mean", 4.0, 3.1, 4.9, 2),
        (data.items["reasons"], "side:1", "mean", 2.0, None, None, 1),
        (None, "all", "constraint", 0.5, 0.2, 0.8, 2),
        (data.items["warmth"], "all", "bimodality", math.nan, None, None, 2),
    ]
    for item, group, index, value, low, high, n in rows:
        IndexResult.objects.create(study=data.study, wave=data.waves[1], item=item, group=group, index=index,
                                   value=value, ci_low=low, ci_high=high, n=n, computed_at=now, run=run)
    effects_run = AnalysisRun.objects.create(study=data.study, kind="effects", status="done")
    EffectEstimate.objects.create(study=data.study, arm=data.treated, outcome="value", item=None, wave=None,
                                  method="twfe", estimate=-0.3, se=0.1, ci_low=-0.5, ci_high=-0.1, p_value=0.003,
                                  p_holm=0.006, n=2, run=effects_run, is_primary=True, p_plan_holm=0.009)
    EffectEstimate.objects.create(study=data.study, arm=data.treated, outcome="mad_pairwise", wave=data.waves[2],
                                  item=data.items["reasons"], method="did", estimate=0.01, n=2, run=effects_run)
    return run


def test_indices_filter_and_non_finite_values_are_null(data, results, viewer_client):
    client = viewer_client
    body = client.get(BASE + "indices/").json()
    assert body["count"] == 4
    body = client.get(BASE + "indices/?item=reasons&group=side:1").json()
    assert [(r["item"], r["group"], r["index"], r["value"], r["ci_low"], r["n"]) for r in body["results"]] == [
        ("reasons", "side:1", "mean", 2.0, None, 1)]
    body = client.get(BASE + "indices/?item=pooled").json()
    assert [(r["item"], r["index"], r["value"], r["ci_low"], r["ci_high"]) for r in body["results"]] == [
        (None, "constraint", 0.5, 0.2, 0.8)]
    body = client.get(BASE + "indices/?index=bimodality&wave=1").json()
    assert body["results"][0]["value"] is None and body["results"][0]["run"] == results.pk
    assert client.get(BASE + "indices/?wave=2").json()["count"] == 0
    assert client.get(BASE + "indices/?wave=two").status_code == 400


def test_effects_filter_by_wave_or_pooled(data, results, viewer_client):
    client = viewer_client
    body = client.get(BASE + "effects/?wave=pooled").json()
    assert [(r["arm"], r["outcome"], r["wave"], r["estimate"], r["p_holm"]) for r in body["results"]] == [
        ("contact", "value", None, -0.3, 0.006)]
    assert [(r["analysis"], r["p_plan_holm"]) for r in body["results"]] == [("planned", 0.009)]
    body = client.get(BASE + "effects/?wave=2&outcome=mad_pairwise").json()
    assert [(r["item"], r["method"], r["estimate"]) for r in body["results"]] == [("reasons", "did", 0.01)]
    assert [(r["analysis"], r["p_plan_holm"]) for r in body["results"]] == [("exploratory", None)]
    assert client.get(BASE + "effects/?wave=soon").status_code == 400
