"""Dashboard pages: the numbers they show and serve as CSV come from the stored results and the
answers, checked against values set or counted by hand."""

import base64
import csv
import datetime as dt
import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone
from django.utils.html import escape

from analysis.models import AnalysisRun, EffectEstimate, IndexResult
from analysis.pipeline.dashboard_store import store_wave_dashboard
from analysis.pipeline.inputs import read_study_items, wave_answers_frame
from surveys.exclusions import exclude_participants
from surveys.models import Exclusion, Intervention, Item, Response
from tests.factories import (
    ArmFactory,
    ConsentVersionFactory,
    GroupingItemFactory,
    ItemFactory,
    MembershipFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db

#: Answers by participant: (arm, side, {wave: (duration s, answers to q1..q4, attention answer)}).
#: Wave 1 median duration = 100 s. P3 speeds in wave 1 (20 s < 100/3); P4 straight-lines in
#: wave 2 (4, 4, 4, 4); P5 fails the attention check in wave 1 (answers 5, expected 3).
PANEL = {
    "P1": ("control", 1, {1: (100, (1, 2, 3, 4), 3), 2: (110, (1, 2, 3, 5), 3), 3: (90, (2, 2, 3, 5), 3)}),
    "P2": ("control", 2, {1: (120, (7, 6, 5, 4), 3), 2: (100, (6, 6, 5, 4), 3)}),
    "P3": ("treated", 1, {1: (20, (1, 1, 2, 2), 3), 2: (100, (2, 1, 2, 3), 3), 3: (100, (2, 1, 2, 3), 3)}),
    "P4": ("treated", 2, {1: (90, (5, 6, 7, 6), 3), 2: (95, (4, 4, 4, 4), 3)}),
    "P5": ("treated", 2, {1: (100, (6, 6, 6, 7), 5)}),
}


def build_dashboard_study(slug: str = "dash") -> SimpleNamespace:
    """Three waves, two arms (intervention at wave 2), a grouping item side (left/right), four
    7-point items and an attention check; five participants with the answers in PANEL; stored
    indices and effects set by hand."""
    now = timezone.now()
    study = StudyFactory(slug=slug, title="Dashboards", primary_outcome="mad_pairwise")
    side = GroupingItemFactory(study=study, code="side", order=0,
                               labels={"en": {"1": "left", "2": "right"}})
    items = [ItemFactory(study=study, code=f"q{i}", order=i) for i in range(1, 5)]
    attention = ItemFactory(study=study, code="check", role=Item.Role.ATTENTION, expected_answer=3, order=9)
    control = ArmFactory(study=study, name="control", is_control=True)
    treated = ArmFactory(study=study, name="treated")
    arms = {"control": control, "treated": treated}
    waves = {n: WaveFactory(study=study, number=n, opens_at=now - dt.timedelta(days=30 - 7 * n),
                            closes_at=now - dt.timedelta(days=23 - 7 * n), state="closed") for n in (1, 2, 3)}
    Intervention.objects.create(wave=waves[2], arm=treated, content={"en": "Note."})
    consent = ConsentVersionFactory(study=study, version=1)
    people = {}
    for pid, (arm, side_value, answers) in PANEL.items():
        person = ParticipantFactory(study=study, public_id=pid, arm=arms[arm], groups={"side": side_value},
                                    consented_at=now - dt.timedelta(days=40), consent_version=consent)
        people[pid] = person
        for number, (duration, values, check) in answers.items():
            wave = waves[number]
            started = wave.opens_at + dt.timedelta(hours=1)
            submission = SubmissionFactory(participant=person, wave=wave, started_at=started,
                                           completed_at=started + dt.timedelta(seconds=duration),
                                           duration_seconds=duration)
            for item, value in zip(items, values, strict=True):
                Response.objects.create(submission=submission, item=item, value=value)
            Response.objects.create(submission=submission, item=attention, value=check)
    # A joined participant who never consented, and a preview that never counts.
    ParticipantFactory(study=study, public_id="P6", arm=None)
    ParticipantFactory(study=study, public_id="PV", arm=control, is_preview=True)
    runs = {n: AnalysisRun.objects.create(study=study, wave=w, kind="indices", status="done", finished_at=now)
            for n, w in waves.items()}
    computed = now - dt.timedelta(hours=1)
    stored = [
        # (wave, item, group, index, value, low, high, n)
        *[(n, None, "arm:control", "mad_pairwise", 0.2 + 0.01 * n, 0.15, 0.3, 9) for n in (1, 2, 3)],
        *[(n, None, "arm:treated", "mad_pairwise", 0.3 - 0.02 * n, 0.2, 0.35, 8) for n in (1, 2, 3)],
        *[(n, None, "all", "mad_pairwise", 0.25, 0.2, 0.3, 17) for n in (1, 2, 3)],
        *[(n, None, "side:1", "mad_pairwise", 0.1 * n, None, None, 7) for n in (1, 2, 3)],
        *[(n, None, "side:2", "mad_pairwise", 0.05 * n, None, None, 10) for n in (1, 2, 3)],
        *[(n, None, "all", "n", 17, None, None, 17) for n in (1, 2, 3)],
        *[(n, None, "arm:control", "n", 9, None, None, 9) for n in (1, 2, 3)],
        *[(n, None, "arm:treated", "n", 8, None, None, 8) for n in (1, 2, 3)],
        *[(n, None, "side:1", "n", 7, None, None, 7) for n in (1, 2, 3)],
        *[(n, None, "side:2", "n", 10, None, None, 10) for n in (1, 2, 3)],
        *[(n, None, "side:1|side:2", "group_gap", -0.1 * n, -0.2 * n, 0.0, 17) for n in (1, 2, 3)],
        *[(n, None, "side:1|side:2", "wasserstein", 0.1 * n, 0.05, 0.4, 17) for n in (1, 2, 3)],
        *[(n, None, "arm:control|arm:treated", "wasserstein", 0.02, 0.0, 0.1, 17) for n in (1, 2, 3)],
        *[(n, "q1", "arm:control", "mean", 1.5 + n, 1.0, 5.0, 2) for n in (1, 2, 3)],
    ]
    for number, wave in waves.items():  # what the pipeline stores beside each wave's indices
        store_wave_dashboard(run=runs[number], wave=wave, items=read_study_items(study_id=study.pk),
                             answers=wave_answers_frame(study_id=study.pk, wave_id=wave.pk))
    codes = {item.code: item for item in items}
    IndexResult.objects.bulk_create([
        IndexResult(study=study, wave=waves[w], item=codes[i] if i else None, group=g, index=x, value=v,
                    ci_low=lo, ci_high=hi, n=count, computed_at=computed, run=runs[w])
        for w, i, g, x, v, lo, hi, count in stored
    ])
    effects_run = AnalysisRun.objects.create(study=study, kind="effects", status="done", finished_at=now, seed=42)
    estimates = [
        # (outcome, method, wave, estimate, low, high, warning)
        ("value", "twfe", None, -0.4, -0.9, 0.1, False),
        ("extremity", "twfe", None, -0.2, -0.5, 0.1, False),
        ("mad_pairwise", "did_bootstrap", None, -0.05, -0.1, 0.0, True),
        ("mean", "did_bootstrap", None, 0.3, -0.2, 0.8, False),
        ("value", "event_study", 1, 0.05, -0.3, 0.4, False),
        ("value", "event_study", 3, -0.5, -1.0, 0.0, False),
    ]
    EffectEstimate.objects.bulk_create([
        EffectEstimate(study=study, arm=treated, outcome=o, item=items[0], wave=waves[w] if w else None, method=m,
                       estimate=e, se=0.2, ci_low=lo, ci_high=hi, p_value=0.04, p_holm=0.04, n=5,
                       attrition_warning=warn, is_primary=o == "mad_pairwise", run=effects_run)
        for o, m, w, e, lo, hi, warn in estimates
    ])
    return SimpleNamespace(study=study, items=items, side=side, arms=arms, waves=waves, people=people,
                           owner=MembershipFactory(study=study).user)


@pytest.fixture
def dash():
    return build_dashboard_study()


def decoded(value):
    """Plotly 6 writes numeric arrays as base64 typed arrays ({"bdata", "dtype"}); plotly.js
    reads them natively. Decode them (recursively) to plain lists."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
        return {key: decoded(v) for key, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def figures(response) -> dict[str, dict]:
    """The plotly figures embedded in a page, by chart name, arrays decoded."""
    html = response.content.decode()
    found = re.findall(r'<script type="application/json" id="figure-([\w-]+)">(.*?)</script>', html, re.S)
    return {name: decoded(json.loads(text)) for name, text in found}


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_trends_draw_one_line_and_band_per_arm_from_the_stored_rows(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/trends/")
    assert response.status_code == 200
    figure = figures(response)["trend"]
    lines = [t for t in figure["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in lines] == ["arm control", "arm treated"]
    assert lines[0]["y"] == pytest.approx([0.21, 0.22, 0.23])
    assert lines[1]["y"] == pytest.approx([0.28, 0.26, 0.24])
    assert len(figure["data"]) == 4  # a band per arm
    assert figure["layout"]["shapes"][0]["x0"] == 2  # the intervention wave
    page = response.content.decode()
    assert "n = 17 behind the points of wave 3" in page  # 9 + 8
    assert "Computed " in page and 'value="mad_pairwise" selected' in page


def test_trends_by_a_grouping_item_add_the_between_group_indices(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/trends/?grouping=side")
    found = figures(response)
    assert [t["name"] for t in found["trend"]["data"] if t.get("mode") == "lines+markers"] == ["side: left", "side: right"]
    between = [t for t in found["between"]["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in between] == ["Group gap (difference of means): side: left − side: right",
                                               "Distribution distance (Wasserstein): side: left − side: right"]
    assert between[0]["y"] == pytest.approx([-0.1, -0.2, -0.3])
    rows = csv_rows(client.get("/studies/dash/trends/?grouping=side&format=csv&chart=between"))
    assert [(r["wave"], r["group"], r["index"], float(r["value"])) for r in rows][:2] == [
        ("1", "side:1|side:2", "group_gap", -0.1), ("2", "side:1|side:2", "group_gap", -0.2)]
    assert len(rows) == 6


def test_trends_of_one_item_and_everyone(client, dash):
    client.force_login(dash.owner)
    rows = csv_rows(client.get("/studies/dash/trends/?index=mean&item=q1&grouping=arm&format=csv&chart=trend"))
    assert [float(r["value"]) for r in rows] == [2.5, 3.5, 4.5]
    found = figures(client.get("/studies/dash/trends/?grouping=all"))
    assert list(found) == ["trend"]  # no pairs for everyone
    assert [t["name"] for t in found["trend"]["data"] if t.get("mode") == "lines+markers"] == ["everyone"]


def test_bad_controls_get_a_400_naming_the_choices_never_a_500(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/trends/?index=nonsense")
    assert response.status_code == 400
    assert "Select a valid choice. nonsense is not one of the available choices." in response.content.decode()
    assert client.get("/studies/dash/distributions/?item=zzz").status_code == 400
    assert client.get("/studies/dash/effects/?sample=half").status_code == 400
    assert client.get("/studies/dash/quality/?speed=2").status_code == 400
    response = client.get("/studies/dash/trends/?format=csv&chart=nope")
    assert response.status_code == 400 and b"this page has: trend, between" in response.content


def test_distributions_count_the_answers_per_wave_group_and_value(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/distributions/?item=q1&grouping=side")
    assert response.status_code == 200
    figure = figures(response)["distribution"]
    assert len(figure["data"]) == 3 * 2  # waves x groups
    # Wave 1, left (side 1): P1 answered 1, P3 answered 1 -> all of it at "1".
    first = figure["data"][0]
    assert first["name"] == "side: left" and first["x"][:2] == ["1", "2"]
    assert first["y"][0] == pytest.approx(1.0)
    rows = csv_rows(client.get("/studies/dash/distributions/?item=q1&grouping=side&format=csv&chart=distribution"))
    counted = {(int(r["wave"]), r["group"], float(r["value"])): int(r["count"]) for r in rows}
    assert counted == {
        (1, "side:1", 1.0): 2, (1, "side:2", 7.0): 1, (1, "side:2", 5.0): 1, (1, "side:2", 6.0): 1,
        (2, "side:1", 1.0): 1, (2, "side:1", 2.0): 1, (2, "side:2", 6.0): 1, (2, "side:2", 4.0): 1,
        (3, "side:1", 2.0): 2,
    }
    assert "n = 11 answers to q1" in response.content.decode()
    assert "Counted with each wave's indices; the latest computation finished" in response.content.decode()


def test_an_excluded_participant_leaves_the_distribution_after_the_recompute(
        client, dash, django_capture_on_commit_callbacks, monkeypatch):
    from analysis.pipeline import enqueue, provenance

    # Few resamples: the distribution does not depend on them, and the recompute stays quick.
    monkeypatch.setitem(provenance.INDEX_PARAMETERS, "bootstrap", 20)
    monkeypatch.setattr(enqueue, "request_study_effects", lambda **kwargs: None)  # not what this test is about
    before = list(AnalysisRun.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        exclude_participants(study_id=dash.study.pk, public_ids=["P5"], reason="test")
    recomputed = AnalysisRun.objects.filter(kind="indices").exclude(pk__in=before)
    assert recomputed.count() == 3 and set(recomputed.values_list("status", flat=True)) == {"done"}
    client.force_login(dash.owner)
    rows = csv_rows(client.get("/studies/dash/distributions/?item=q1&grouping=all&format=csv&chart=distribution"))
    assert sum(int(r["count"]) for r in rows) == 10 and {r["group"] for r in rows} == {"all"}


def test_the_overview_funnel_counts_joined_consented_and_completed_per_arm(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/")
    figure = figures(response)["funnel"]
    assert [t["name"] for t in figure["data"]] == ["control", "treated", "unassigned"]
    assert figure["data"][0]["y"] == [2, 2, 2, 2, 1]
    assert figure["data"][1]["y"] == [3, 3, 3, 2, 1]
    assert figure["data"][2]["y"] == [1, 0, 0, 0, 0]
    rows = csv_rows(client.get("/studies/dash/?format=csv&chart=funnel"))
    assert rows[4] == {"arm": "control", "stage": "wave 3", "step": "4", "count": "1", "share": "0.5"}
    assert "n = 6 participants joined, 6 in the analysis" in response.content.decode()


def test_effects_show_forest_plots_durability_and_the_attrition_warning(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/effects/?item=q1&outcome=value")
    assert response.status_code == 200
    found = figures(response)
    individual = found["individual"]["data"]
    assert len(individual) == 1 and individual[0]["name"] == "treated"
    # On one axis: shares of each outcome's possible range on a 7-point item (width 6): the
    # answer over 6, extremity over 3 (half the scale), the raw values written beside them.
    assert individual[0]["x"] == pytest.approx([-0.4 / 6, -0.2 / 3])
    assert individual[0]["y"] == ["Answer", "Extremity → more disagreement"]
    assert individual[0]["text"] == ["-0.4 [-0.9, 0.1]", "-0.2 [-0.5, 0.1]"]
    assert individual[0]["error_x"]["array"] == pytest.approx([0.5 / 6, 0.3 / 3])
    assert individual[0]["error_x"]["arrayminus"] == pytest.approx([0.5 / 6, 0.3 / 3])
    assert "share of the outcome's possible range" in found["individual"]["layout"]["xaxis"]["title"]["text"]
    indices = found["indices"]["data"][0]
    assert indices["y"] == ["Pairwise distance (MAD) → more disagreement", "Mean answer"]
    assert indices["x"] == pytest.approx([-0.05 / 0.5, 0.3 / 6])
    waves = found["waves"]["data"][0]
    assert waves["x"] == [1, 3] and waves["y"] == [0.05, -0.5]
    page = response.content.decode()
    assert "Differential attrition" in page and "treated: Pairwise distance (MAD) (difference in differences (cluster bootstrap))" in page
    assert "n = 5 participants" in page and "seed 42" in page
    assert "Pairwise distance (MAD) <code>mad_pairwise</code> <span class=\"badge planned\">planned</span>" in page
    rows = csv_rows(client.get("/studies/dash/effects/?item=q1&format=csv&chart=indices"))
    assert [(r["outcome"], float(r["estimate"])) for r in rows] == [("mad_pairwise", -0.05), ("mean", 0.3)]
    table = csv_rows(client.get("/studies/dash/effects/?item=q1&format=csv&chart=table"))
    assert [r["outcome"] for r in table] == ["value", "extremity", "mad_pairwise", "mean"]


def test_the_effects_page_without_estimates_says_so(client, owner, study):
    client.force_login(owner)
    response = client.get(f"/studies/{study.slug}/effects/")
    assert response.status_code == 200 and b"No effects are stored yet" in response.content


def test_quality_flags_the_planted_speeder_straightliner_and_attention_failure(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/quality/")
    assert response.status_code == 200
    figure = figures(response)["quality"]
    assert [t["name"] for t in figure["data"]] == ["attention check failed", "speeder", "straight-lining"]
    assert figure["data"][0]["y"] == pytest.approx([1 / 5, 0, 0])
    assert figure["data"][1]["y"] == pytest.approx([1 / 5, 0, 0])
    assert figure["data"][2]["y"] == pytest.approx([0, 1 / 4, 0])
    rows = csv_rows(client.get("/studies/dash/quality/?format=csv&chart=flagged"))
    assert {(r["participant"], r["attention"], r["speeder"], r["straightlining"]) for r in rows} == {
        ("P3", "", "1", ""), ("P4", "", "", "2"), ("P5", "1", "", "")}
    summary = csv_rows(client.get("/studies/dash/quality/?format=csv&chart=quality"))
    assert [(r["wave"], r["submissions"], r["median_duration"]) for r in summary] == [
        ("1", "5", "100.0"), ("2", "4", "100.0"), ("3", "2", "95.0")]
    # Half the median: 20 s and nothing else in wave 1 (50 s); still three flagged participants.
    assert len(csv_rows(client.get("/studies/dash/quality/?speed=0.5&format=csv&chart=flagged"))) == 3


def test_excluding_flagged_participants_is_recorded_and_recomputes(client, dash, django_capture_on_commit_callbacks,
                                                                   monkeypatch):
    from analysis.pipeline import enqueue

    sent = []
    monkeypatch.setattr(enqueue, "dispatch", lambda name, kwargs, **options: sent.append((name, kwargs)) or True)
    client.force_login(dash.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/studies/dash/quality/exclude/",
                               {"participants": ["P3", "P5"], "reason": "careless answering"})
    assert response.status_code == 302 and response["Location"] == "/studies/dash/quality/?speed=0.33"
    exclusions = Exclusion.objects.order_by("participant__public_id")
    assert [(e.participant.public_id, e.reason, e.excluded_by) for e in exclusions] == [
        ("P3", "careless answering", dash.owner), ("P5", "careless answering", dash.owner)]
    queued = AnalysisRun.objects.filter(kind="indices", status="queued")
    assert sorted(queued.values_list("wave__number", flat=True)) == [1, 2, 3]  # one per wave with answers
    assert sorted(kwargs["wave_id"] for _name, kwargs in sent) == sorted(w.pk for w in dash.waves.values())
    page = client.get("/studies/dash/quality/").content.decode()
    assert "careless answering" in page and page.count(">excluded<") == 2


def test_exclusion_input_errors_are_400_and_store_nothing(client, dash):
    client.force_login(dash.owner)
    nobody = client.post("/studies/dash/quality/exclude/", {"participants": [], "reason": "x"})
    assert nobody.status_code == 400 and b"This field is required." in nobody.content
    unflagged = client.post("/studies/dash/quality/exclude/", {"participants": ["P1"], "reason": "x"})
    assert unflagged.status_code == 400 and b"P1 is not one of the available choices" in unflagged.content
    no_reason = client.post("/studies/dash/quality/exclude/", {"participants": ["P3"], "reason": " "})
    assert no_reason.status_code == 400
    assert not Exclusion.objects.exists() and not AnalysisRun.objects.filter(status="queued").exists()


def test_a_viewer_sees_the_flags_but_cannot_exclude(client, dash):
    viewer = MembershipFactory(study=dash.study, role="viewer").user
    client.force_login(viewer)
    assert b'id="exclude-form"' not in client.get("/studies/dash/quality/").content
    response = client.post("/studies/dash/quality/exclude/", {"participants": ["P3"], "reason": "x"})
    assert response.status_code == 403 and not Exclusion.objects.exists()


def test_every_chart_offers_csv_and_png(client, dash):
    client.force_login(dash.owner)
    for url in ("/studies/dash/", "/studies/dash/trends/", "/studies/dash/distributions/",
                "/studies/dash/effects/", "/studies/dash/quality/"):
        html = client.get(url).content.decode()
        names = re.findall(r'id="figure-([\w-]+)"', html)
        assert names, url
        for name in names:
            assert f"format=csv&amp;chart={name}" in html
            assert f'data-png="plot-{name}"' in html
        assert '<script src="/static/analysis/vendor/plotly.min.js">' in html
        assert not re.search(r'(src|href)="(https?:)?//', html), url  # nothing from another host


# --- Stored dashboard tables (the pages read them instead of the answers) ---------------------------


def test_the_pipeline_stores_the_answer_counts_and_submission_quality_with_the_indices(dash):
    from analysis.models import SubmissionQuality, WaveAnswerCount
    from analysis.pipeline.indices import compute_wave_indices

    WaveAnswerCount.objects.all().delete()
    SubmissionQuality.objects.all().delete()
    run = compute_wave_indices(study_id=dash.study.pk, wave_id=dash.waves[1].pk)
    assert run.status == "done"
    counts = {(r.item.code, r.grouping, r.group, r.value): r.count
              for r in WaveAnswerCount.objects.filter(wave=dash.waves[1]).select_related("item")}
    # Wave 1 answers to q1: P1 1, P2 7, P3 1, P4 5, P5 6 (sides 1, 2, 1, 2, 2; arms c, c, t, t, t).
    assert {k[2:]: v for k, v in counts.items() if k[:2] == ("q1", "side")} == {
        ("side:1", 1.0): 2, ("side:2", 7.0): 1, ("side:2", 5.0): 1, ("side:2", 6.0): 1}
    assert {k[2:]: v for k, v in counts.items() if k[:2] == ("q1", "arm")} == {
        ("arm:control", 1.0): 1, ("arm:control", 7.0): 1, ("arm:treated", 1.0): 1, ("arm:treated", 5.0): 1,
        ("arm:treated", 6.0): 1}
    assert sum(v for k, v in counts.items() if k[1] == "all") == 5 * 4  # four items, five people
    assert {r.run_id for r in WaveAnswerCount.objects.filter(wave=dash.waves[1])} == {run.pk}
    quality = {r.participant.public_id: r for r in SubmissionQuality.objects.filter(wave=dash.waves[1])
               .select_related("participant")}
    assert sorted(quality) == ["P1", "P2", "P3", "P4", "P5"]
    p5 = quality["P5"]
    assert (p5.duration_seconds, p5.likert_answered, p5.likert_min, p5.likert_max, p5.attention_answered,
            p5.attention_failed) == (100, 4, 6, 7, 1, 1)
    assert (quality["P3"].duration_seconds, quality["P3"].attention_failed) == (20, 0)
    # Unchanged inputs: the run is skipped and the stored tables stay; lost tables come back.
    SubmissionQuality.objects.filter(wave=dash.waves[1]).delete()
    again = compute_wave_indices(study_id=dash.study.pk, wave_id=dash.waves[1].pk)
    assert again.status == "skipped"
    assert SubmissionQuality.objects.filter(wave=dash.waves[1]).count() == 5
    assert WaveAnswerCount.objects.filter(wave=dash.waves[1]).count() == len(counts)


def test_an_unfinished_submission_and_a_preview_are_stored_as_the_screens_expect(dash):
    from analysis.models import SubmissionQuality
    from analysis.pipeline.indices import compute_wave_indices

    wave = dash.waves[3]
    late = ParticipantFactory(study=dash.study, public_id="P7", arm=dash.arms["control"], groups={"side": 1})
    unfinished = SubmissionFactory(participant=late, wave=wave, completed_at=None, duration_seconds=None)
    Response.objects.create(submission=unfinished, item=dash.items[0], value=3)
    Response.objects.create(submission=unfinished, item=dash.items[1], missing="dont_know")
    preview = ParticipantFactory(study=dash.study, public_id="PW", arm=dash.arms["control"], is_preview=True)
    Response.objects.create(submission=SubmissionFactory(participant=preview, wave=wave), item=dash.items[0], value=7)
    compute_wave_indices(study_id=dash.study.pk, wave_id=wave.pk, force=True)
    stored = {r.participant.public_id: r for r in SubmissionQuality.objects.filter(wave=wave)
              .select_related("participant")}
    assert sorted(stored) == ["P1", "P3", "P7"]
    p7 = stored["P7"]
    assert (p7.duration_seconds, p7.likert_answered, p7.likert_min, p7.likert_max, p7.attention_answered,
            p7.attention_failed) == (None, 1, 3, 3, 0, 0)


def test_the_analysis_state_counts_runs_and_names_the_latest_failure(dash):
    from analysis.pipeline.state import analysis_state

    other = StudyFactory(slug="other")
    AnalysisRun.objects.create(study=other, kind="effects", status="running")

    now = timezone.now()
    AnalysisRun.objects.create(study=dash.study, wave=dash.waves[1], kind="indices", status="failed",
                               finished_at=now - dt.timedelta(hours=2), error="older")
    AnalysisRun.objects.create(study=dash.study, wave=dash.waves[2], kind="indices", status="failed",
                               finished_at=now - dt.timedelta(hours=1), error="newer")
    AnalysisRun.objects.create(study=dash.study, wave=dash.waves[3], kind="indices", status="queued")
    state = analysis_state(study_id=dash.study.pk)
    assert (state["queued"], state["running"], state["failed_last_day"], state["last_error"]) == (1, 0, 2, "newer")
    # The fixture's runs finished last (now), done.
    assert (state["last_status"], state["last_finished_at"][:10]) == ("done", now.isoformat()[:10])
    everywhere = analysis_state()  # /healthz: every study
    assert (everywhere["queued"], everywhere["running"], everywhere["failed_last_day"]) == (1, 1, 2)


def test_effects_offer_items_pooled_and_a_group(client, dash):
    run = AnalysisRun.objects.get(kind="effects")
    treated = dash.arms["treated"]
    EffectEstimate.objects.bulk_create([
        EffectEstimate(study=dash.study, arm=treated, outcome="constraint", item=None, wave=None,
                       method="did_bootstrap", estimate=0.07, se=0.1, ci_low=-0.1, ci_high=0.2, n=5, run=run),
        EffectEstimate(study=dash.study, arm=treated, outcome="mad_pairwise", item=dash.items[0], wave=None,
                       group="side:1", method="did_bootstrap", estimate=-0.2, se=0.1, ci_low=-0.4, ci_high=0.0, n=2,
                       run=run),
    ])
    client.force_login(dash.owner)
    page = client.get("/studies/dash/effects/")
    assert 'value="pooled"' in page.content.decode() and 'value="side:1"' in page.content.decode()
    found = figures(client.get("/studies/dash/effects/?item=pooled&outcome=constraint"))
    assert "individual" not in found  # no answers-level estimates pooled over items
    # constraint lies in 0..1: its share of the range is the raw value
    assert found["indices"]["data"][0]["y"] == ["Constraint (item correlation) → more disagreement"]
    assert found["indices"]["data"][0]["x"] == [0.07]
    within = client.get("/studies/dash/effects/?item=q1&group=side:1")
    assert figures(within)["indices"]["data"][0]["x"] == [-0.2 / 0.5]
    assert "within side: left" in within.content.decode()
    # The everyone view leaves the group rows out; the table's CSV has them all.
    assert figures(client.get("/studies/dash/effects/?item=q1"))["indices"]["data"][0]["x"] == \
        pytest.approx([-0.05 / 0.5, 0.3 / 6])
    table = csv_rows(client.get("/studies/dash/effects/?item=q1&group=side:1&format=csv&chart=table"))
    assert sorted(r["group"] for r in table) == ["all", "all", "all", "all", "side:1"]
    assert client.get("/studies/dash/effects/?group=side:9").status_code == 400


@pytest.mark.parametrize("path", ["", "trends/", "effects/"])
def test_every_study_page_shows_each_run_and_reloads_itself_while_one_is_active(client, dash, path):
    client.force_login(dash.owner)
    page = client.get(f"/studies/dash/{path}").content.decode()
    strip = re.search(r'<section class="analysis-runs.*?</section>', page, re.S).group(0)
    assert re.search(r"effects\s*<strong>done</strong>", strip)
    assert len(re.findall(r"<strong>done</strong>", strip)) >= 2
    assert 'http-equiv="refresh"' not in page and ">Refresh</a>" not in page  # nothing running

    AnalysisRun.objects.create(study=dash.study, wave=dash.waves[3], kind="indices", status="running",
                               started_at=timezone.now(), heartbeat_at=timezone.now())
    AnalysisRun.objects.create(study=dash.study, kind="effects", status="queued")
    page = client.get(f"/studies/dash/{path}").content.decode()
    strip = re.search(r'<section class="analysis-runs.*?</section>', page, re.S).group(0)
    assert re.search(r"wave 3 indices\s*<strong>running</strong>", strip)
    assert re.search(r"effects\s*<strong>queued</strong>", strip)
    assert '<meta http-equiv="refresh" content="5">' in page  # reloads without JavaScript
    assert f'<a href="/studies/dash/{path}">Refresh</a>' in strip


# --- Reading the dashboards: labels, help links, empty charts -----------------------------------


def test_drop_downs_and_charts_use_labels_and_every_chart_links_to_the_glossary(client, dash):
    client.force_login(dash.owner)
    response = client.get("/studies/dash/trends/?index=mad_pairwise")
    page = response.content.decode()
    assert '<option value="mad_pairwise" selected>Pairwise distance (MAD)</option>' in page
    trend = figures(response)["trend"]["layout"]
    assert trend["title"]["text"].startswith("Pairwise distance (MAD)")
    assert trend["yaxis"]["title"]["text"] == "Pairwise distance (MAD) (↑ more disagreement)"
    assert 'href="/studies/dash/glossary/#mad_pairwise"' in page
    mean = figures(client.get("/studies/dash/trends/?index=mean&item=q1"))["trend"]["layout"]
    assert mean["yaxis"]["title"]["text"] == "Mean answer (q1's scale)"  # a position: no direction
    for url in ("/studies/dash/", "/studies/dash/distributions/", "/studies/dash/effects/?item=q1",
                "/studies/dash/quality/"):
        html = client.get(url).content.decode()
        assert html.count('class="chart-help"') == html.count('<figure class="chart"') > 0, url


def test_the_pooled_answer_event_study_says_why_it_is_empty(client, dash):
    EffectEstimate.objects.create(study=dash.study, arm=dash.arms["treated"], outcome="constraint", item=None,
                                  wave=None, method="did_bootstrap", estimate=0.07, se=0.1, ci_low=-0.1, ci_high=0.2,
                                  n=5, run=AnalysisRun.objects.get(kind="effects"))
    client.force_login(dash.owner)
    response = client.get("/studies/dash/effects/?item=pooled&outcome=value")
    assert response.status_code == 200
    waves = figures(response)["waves"]
    assert waves["data"] == []
    assert "estimated per item and never pooled over items" in waves["layout"]["annotations"][0]["text"]
    assert "estimated per item and never pooled over items" in response.content.decode()  # said without JavaScript


def test_the_event_study_marks_its_reference_wave_at_zero(client, dash):
    client.force_login(dash.owner)
    waves = figures(client.get("/studies/dash/effects/?item=q1&outcome=value"))["waves"]["data"][0]
    # intervention at wave 2: wave 1 is the regression's reference, stored here as a placebo row
    assert waves["marker"]["symbol"][0] in ("circle-open", "diamond-open")


def test_the_glossary_lists_every_index_with_its_reading(client, dash):
    from analysis.stats import glossary

    client.force_login(dash.owner)
    page = client.get("/studies/dash/glossary/").content.decode()
    for term in glossary.TERMS:
        assert f'id="{term.name}"' in page and escape(term.label) in page
    assert "lower = more disagreement" in page and "Tastle" in page
