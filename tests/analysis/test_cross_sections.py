"""Repeated cross-sections as a study: `import_responses` (weights, counts), periods on a time
axis, stored weighted indices, bad weights refused with one line and nothing stored."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analysis.models import IndexResult
from analysis.pipeline.indices import compute_wave_indices
from analysis.series.cross_sections import period_start, seed_gss_demo
from surveys.models import Participant, Study

pytestmark = pytest.mark.django_db

COUNTS = """wave,item,category,count
1974,x,1,10
1974,x,2,20
1974,x,3,10
1976,x,1,5
1976,x,3,15
2021,x,2,4
"""

ANSWERS = """participant,wave,item,value,w
a,1990,q,1,2
b,1990,q,3,1
c,1990,q,3,1
a,1992,q,2,5
"""


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_responses", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_period_labels():
    assert str(period_start(1974)) == "1974-01-01"
    assert str(period_start("2021-06")) == "2021-06-01"
    assert str(period_start("2021-06-15")) == "2021-06-15"


def test_counts_import_as_periods_with_frequency_weights(tmp_path):
    _, err = run("rcs", write(tmp_path, COUNTS), "--counts", "--no-compute")
    assert "3 periods" in err
    study = Study.objects.get(slug="rcs")
    assert study.design == Study.Design.CROSS_SECTION
    assert study.weight_kind == Study.WeightKind.FREQUENCY
    waves = list(study.waves.order_by("number"))
    assert [w.period for w in waves] == ["1974", "1976", "2021"]
    assert [w.opens_at.year for w in waves] == [1974, 1976, 2021]  # irregular spacing kept
    assert sorted(Participant.objects.filter(study=study).values_list("weight", flat=True)) == [4, 5, 10, 10, 15, 20]
    compute_wave_indices(study_id=study.pk, wave_id=waves[0].pk)
    stored = {r.index: r for r in IndexResult.objects.filter(wave=waves[0], item__code="x", group="all")}
    # 10 x 1, 20 x 2, 10 x 3: the expanded file's n, mean and sd.
    assert stored["n"].value == 40
    assert stored["mean"].value == pytest.approx(2.0)
    assert stored["sd"].value == pytest.approx((20 / 39) ** 0.5)
    assert stored["mean"].ci_low < 2.0 < stored["mean"].ci_high


def test_weighted_respondents_import(tmp_path):
    run("wrcs", write(tmp_path, ANSWERS), "--weight", "w", "--weight-kind", "sampling", "--scale-min", "1",
        "--scale-max", "3", "--no-compute")
    study = Study.objects.get(slug="wrcs")
    assert study.weight_kind == "sampling"
    wave = study.waves.get(period="1990")
    compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    stored = {r.index: r for r in IndexResult.objects.filter(wave=wave, item__code="q", group="all")}
    assert stored["mean"].value == pytest.approx((2 * 1 + 3 + 3) / 4)
    assert stored["n"].value == 3  # sampling weights: n = respondents


@pytest.mark.parametrize(("cell", "message"), [
    ("-1", "data.csv:2: column 'w': negative weight -1"),
    ("", "data.csv:2: column 'w': missing weight"),
])
def test_bad_weights_refused_and_nothing_stored(tmp_path, cell, message):
    text = ANSWERS.replace("a,1990,q,1,2", f"a,1990,q,1,{cell}")
    with pytest.raises(CommandError) as error:
        run("bad", write(tmp_path, text), "--weight", "w")
    assert str(error.value) == message or str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert not Study.objects.filter(slug="bad").exists()


def test_zero_sum_weights_refused(tmp_path):
    text = "participant,wave,item,value,w\na,1990,q,1,0\nb,1990,q,2,0\n"
    with pytest.raises(CommandError, match="the weights of period 1990 sum to 0"):
        run("zero", write(tmp_path, text), "--weight", "w")
    assert not Study.objects.filter(slug="zero").exists()


def test_existing_slug_refused(tmp_path):
    run("twice", write(tmp_path, COUNTS), "--counts", "--no-compute")
    with pytest.raises(CommandError, match="exists already"):
        run("twice", write(tmp_path, COUNTS), "--counts", "--no-compute")


def test_gss_demo_study_from_the_example():
    study, created = seed_gss_demo()
    assert created
    assert study.waves.count() == 35  # 1972..2024, annual then biennial, 2021 after 2018
    assert study.items.count() == 16
    polviews = study.items.get(code="polviews")
    assert polviews.labels["en"]["1"] == "extremely liberal"
    assert Participant.objects.filter(study=study).count() == 1789
    total = sum(Participant.objects.filter(study=study).values_list("weight", flat=True))
    assert total == 718168  # the README's self-check
    assert seed_gss_demo() == (study, False)


@pytest.fixture
def gss_client(client, django_user_model):
    user = django_user_model.objects.create_user("gss-owner", password="x")
    study, _ = seed_gss_demo(owner="gss-owner")
    for wave in study.waves.filter(period__in=["1972", "1973", "1974"]):
        compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    client.force_login(user)
    return client


def test_gss_pages_show_periods_on_a_time_axis_and_period_differences(gss_client):
    trends = gss_client.get("/studies/gss/trends/?index=mad_pairwise&item=polviews&grouping=all")
    assert trends.status_code == 200
    assert b'"type": "date"' in trends.content or b'"type":"date"' in trends.content
    assert b"1974-01-01" in trends.content
    distributions = gss_client.get("/studies/gss/distributions/?item=polviews")
    assert distributions.status_code == 200
    assert b'"text": "1974"' in distributions.content or b'"text":"1974"' in distributions.content
    from analysis.models import WaveAnswerCount

    stored = WaveAnswerCount.objects.filter(study__slug="gss", wave__period="1974", item__code="polviews",
                                            grouping="all").order_by("value").values_list("count", flat=True)
    assert list(stored) == [22, 201, 207, 564, 221, 160, 35]  # weighted counts, as in the README
    effects = gss_client.get("/studies/gss/effects/?item=pooled&index=mad_pairwise")
    assert effects.status_code == 200
    text = effects.content.decode()
    assert "panel estimators" in text and "do not apply" in text
    assert "<td>1972</td><td>1973</td>" in text
    csv = gss_client.get("/studies/gss/effects/?item=pooled&index=mad_pairwise&format=csv&chart=steps")
    assert csv.status_code == 200
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("from_period,to_period,difference")
    assert len(lines) == 3  # 1972->1973, 1973->1974
    assert gss_client.get("/studies/gss/effects/?index=nonsense").status_code == 400
    for page in ("", "quality/"):
        assert gss_client.get(f"/studies/gss/{page}").status_code == 200, page
