"""Imported series in the platform: corpus and outcome import (atomic, 4xx on bad files), the
relate page (numbers as scipy computes them, the trend warning, the plot), and access rules."""

import base64
import json

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from scipy import stats

from analysis.cli.base import InputError
from analysis.models import TimeSeries, TimeSeriesPoint
from analysis.series import services as text_services
from tests.factories import MembershipFactory, StudyFactory

pytestmark = pytest.mark.django_db

# Monthly: Jan hate (.675) + fine (0) -> .3375; Feb bad (.625) -> .625; Mar good (0) -> 0; Apr angry .575
CORPUS = (b"date,text,group\n2021-01-04,hate,left\n2021-01-20,fine,right\n2021-02-02,bad,left\n"
          b"2021-03-09,good,right\n2021-04-01,angry,left\n")
OUTCOME = b"period,value\n2021-01,10\n2021-02,30\n2021-03,5\n2021-04,20\n2021-05,8\n"
NEGATIVITY = [0.3375, 0.625, 0.0, 0.575]


def upload(data: bytes, name="corpus.csv"):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def import_both(client, study):
    response = client.post(f"/studies/{study.slug}/text/import/corpus/",
                           {"name": "letters", "period": "month", "file": upload(CORPUS)})
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(f"/studies/{study.slug}/text/import/outcome/",
                           {"name": "posts", "file": upload(OUTCOME, "posts.csv")})
    assert response.status_code == 302
    return TimeSeries.objects.get(study=study, name="letters"), TimeSeries.objects.get(study=study, name="posts")


def test_a_corpus_is_stored_as_a_series_per_period_and_group(owner_client, study):
    letters, posts = import_both(owner_client, study)
    points = {(p.period, p.group): p for p in letters.points.all()}
    assert [p.value for p in letters.points.filter(group="all").order_by("starts_on")] == pytest.approx(NEGATIVITY)
    january = points[("2021-01", "all")]
    assert (january.texts, january.scored, january.starts_on.isoformat()) == (2, 2, "2021-01-01")
    assert january.ci_low <= january.value <= january.ci_high
    assert points[("2021-01", "left")].value == pytest.approx(0.675)
    assert (letters.kind, letters.period, letters.lexicon, letters.texts) == ("corpus", "month", "vader", 5)
    assert len(letters.source_sha256) == 64
    assert posts.period == "month" and posts.points.count() == 5
    page = owner_client.get(f"/studies/{study.slug}/text/")
    assert page.status_code == 200 and b"letters" in page.content and b"posts" in page.content


@pytest.mark.parametrize("data, message", [
    (b"date,text\n2021-01-04,hate\nsoon,bad\n", "corpus.csv:3: column &#x27;date&#x27;"),
    (b"when,text\n2021,hate\n", "missing column &#x27;date&#x27;"),
])
def test_a_bad_corpus_is_a_400_naming_the_line_and_stores_nothing(owner_client, study, data, message):
    response = owner_client.post(f"/studies/{study.slug}/text/import/corpus/",
                           {"name": "letters", "period": "month", "file": upload(data)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TimeSeries.objects.exists() and not TimeSeriesPoint.objects.exists()


def test_a_bad_outcome_and_a_taken_name_are_400s(owner_client, study):
    response = owner_client.post(f"/studies/{study.slug}/text/import/outcome/",
                           {"name": "posts", "file": upload(b"period,value\n2021-01,1\n2021-02,many\n")})
    assert response.status_code == 400 and "column &#x27;value&#x27;: &#x27;many&#x27;" in response.content.decode()
    import_both(owner_client, study)
    response = owner_client.post(f"/studies/{study.slug}/text/import/outcome/", {"name": "posts", "file": upload(OUTCOME)})
    assert response.status_code == 400 and "already has a series named" in response.content.decode()
    assert TimeSeries.objects.filter(name="posts").count() == 1


def test_a_failure_while_storing_leaves_nothing(study, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(TimeSeriesPoint.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        text_services.import_corpus(study=study, name="x", data=CORPUS, filename="c.csv", period="year")
    assert not TimeSeries.objects.exists()


def test_the_relate_page_shows_scipys_numbers_the_warning_and_the_plot(owner_client, study):
    letters, posts = import_both(owner_client, study)
    response = owner_client.get(f"/studies/{study.slug}/text/relate/",
                          {"a": f"{letters.pk}:all", "b": f"{posts.pk}:all", "lags": 1})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Two series that both trend correlate without any link" in html
    assert "first differences" in html and "4 periods in common" in html
    rows = response.context["rows"]
    assert [(r["differenced"], r["lag"]) for r in rows] == [(False, 0), (False, 1), (False, -1), (True, 0),
                                                            (True, 1), (True, -1)]
    spearman = rows[0]["methods"][0]
    expected = stats.spearmanr(NEGATIVITY, [10, 30, 5, 20])
    assert spearman["coefficient"] == pytest.approx(expected.statistic)
    assert spearman["p_value"] == pytest.approx(expected.pvalue)
    assert rows[0]["methods"][2]["coefficient"] == pytest.approx(stats.kendalltau(NEGATIVITY, [10, 30, 5, 20]).statistic)
    figure = json.loads(response.context["charts"][0]["json"])
    assert [trace["name"] for trace in figure["data"]] == ["letters", "posts"]
    rescaled = figure["data"][0]["y"]  # plotly 6 writes arrays as base64 float64
    rescaled = np.frombuffer(base64.b64decode(rescaled["bdata"])) if isinstance(rescaled, dict) else rescaled
    assert list(rescaled) == pytest.approx([0.3375 / 0.625, 1, 0, 0.575 / 0.625])  # rescaled to 0..1
    csv = owner_client.get(f"/studies/{study.slug}/text/relate/", {"a": f"{letters.pk}:all", "b": f"{posts.pk}:all",
                                                             "lags": 1, "format": "csv", "chart": "correlations"})
    assert csv.status_code == 200 and csv.content.decode().startswith("method,lag,differenced,n,coefficient")


def test_relating_a_group_and_refusing_different_periods(owner_client, study):
    letters, posts = import_both(owner_client, study)
    yearly = text_services.import_outcome(study=study, name="yearly", data=b"period,value\n2020,1\n2021,2\n",
                                          filename="y.csv")
    response = owner_client.get(f"/studies/{study.slug}/text/relate/", {"a": f"{letters.pk}:left", "b": f"{posts.pk}:all",
                                                                  "lags": 0})
    assert response.status_code == 200 and response.context["relation"].common == 3
    response = owner_client.get(f"/studies/{study.slug}/text/relate/", {"a": f"{letters.pk}:all", "b": f"{yearly.pk}:all",
                                                                  "lags": 0})
    assert response.status_code == 400 and "different periods" in response.content.decode()
    assert owner_client.get(f"/studies/{study.slug}/text/relate/", {"a": "x", "b": "y", "lags": 0}).status_code == 400
    with pytest.raises(InputError):
        text_services.relate_series(a=letters, b=posts, group_a="nobody")


def test_pages_need_a_login_and_membership(client, study):
    for url in (f"/studies/{study.slug}/text/", f"/studies/{study.slug}/text/relate/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    other = StudyFactory(slug="other")
    foreign = text_services.import_outcome(study=other, name="theirs", data=OUTCOME, filename="o.csv")
    client.force_login(MembershipFactory(study=study).user)
    assert client.get("/studies/other/text/").status_code == 404
    assert client.post("/studies/other/text/import/outcome/", {"name": "x", "file": upload(OUTCOME)}).status_code == 404
    assert client.post(f"/studies/other/text/series/{foreign.pk}/delete/").status_code == 404
    # another study's series id is not a choice here, and cannot be deleted through this study
    response = client.get(f"/studies/{study.slug}/text/relate/", {"a": f"{foreign.pk}:all", "b": f"{foreign.pk}:all"})
    assert response.status_code == 400
    assert client.post(f"/studies/{study.slug}/text/series/{foreign.pk}/delete/").status_code == 404
    assert TimeSeries.objects.filter(pk=foreign.pk).exists()


def test_viewers_read_but_only_owners_and_analysts_import_or_delete(client, study):
    series = text_services.import_outcome(study=study, name="posts", data=OUTCOME, filename="o.csv")
    client.force_login(MembershipFactory(study=study, role="viewer").user)
    page = client.get(f"/studies/{study.slug}/text/")
    assert page.status_code == 200 and b"Import a text corpus" not in page.content
    assert client.post(f"/studies/{study.slug}/text/import/outcome/",
                       {"name": "x", "file": upload(OUTCOME)}).status_code == 403
    assert client.post(f"/studies/{study.slug}/text/series/{series.pk}/delete/").status_code == 403
    client.force_login(MembershipFactory(study=study, role="analyst").user)
    assert client.post(f"/studies/{study.slug}/text/series/{series.pk}/delete/").status_code == 302
    assert not TimeSeries.objects.exists() and not TimeSeriesPoint.objects.exists()


def test_the_admin_lists_series_read_only(client, owner, study):
    text_services.import_outcome(study=study, name="posts", data=OUTCOME, filename="o.csv")
    client.force_login(owner)
    assert client.get("/admin/analysis/timeseries/").status_code == 200
    assert client.get("/admin/analysis/timeseriespoint/").status_code == 200
    assert client.get("/admin/analysis/timeseries/add/").status_code == 403
