"""Every CSV the platform writes neutralizes cells a spreadsheet would run (`common.csvsafe`):
API exports long and wide, the codebook, dashboard CSVs, my-data and the Prolific list."""

import csv
import io

import pandas as pd
import pytest

from common import csvsafe
from surveys.models import Item, Response
from tests.api.conftest import client_for

PAYLOADS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-cmd", "'-cmd"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-3", "-3"), ("+1.5e3", "+1.5e3"), ("-0.25", "-0.25"), ("a=b", "a=b"), ("", ""), (-3, -3), (2.5, 2.5),
    (None, None), (True, True),
])
def test_neutralize(value, expected):
    assert csvsafe.neutralize(value) == expected


def test_the_frame_writer_keeps_numbers_and_neutralizes_text():
    text = csvsafe.frame_to_csv(pd.DataFrame({"n": [-1, 2], "label": ["=evil()", "fine"]}))
    assert text.splitlines() == ["n,label", "-1,'=evil()", "2,fine"]


def _plant(data):
    """Free-text answers and an item prompt that start like formulas."""
    story = data.items["story"]
    rows = Response.objects.filter(item=story)
    first = rows.first()
    first.text = PAYLOADS[0]
    first.save()
    Item.objects.filter(pk=story.pk).update(prompt={"en": "=IMPORTXML(A1)"})
    return first


def _cells(body: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for cell in row]


def _no_live_formula(cells: list[str]) -> None:
    live = [c for c in cells if c[:1] in csvsafe.TRIGGERS and not csvsafe._NUMBER.fullmatch(c)]
    assert live == []


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["long", "wide"])
def test_api_csv_exports_neutralize_free_text(data, shape):
    _plant(data)
    response = client_for(data, "analyst").get(f"/api/v1/studies/panel/export/?format=csv&shape={shape}")
    cells = _cells(b"".join(response.streaming_content))
    assert "'" + PAYLOADS[0] in cells
    _no_live_formula(cells)


@pytest.mark.django_db
def test_parquet_keeps_the_raw_text(data):
    import pyarrow.parquet as pq

    _plant(data)
    response = client_for(data, "analyst").get("/api/v1/studies/panel/export/?format=parquet")
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    assert PAYLOADS[0] in table.column("text").to_pylist()


@pytest.mark.django_db
def test_the_wide_codebook_csv_neutralizes_prompts(data):
    _plant(data)
    response = client_for(data, "analyst").get("/api/v1/studies/panel/export/codebook/?format=csv&shape=wide")
    assert response.status_code == 200
    cells = _cells(response.content)
    assert "'=IMPORTXML(A1)" in cells
    _no_live_formula(cells)


@pytest.mark.django_db
def test_dashboard_csvs_neutralize_labels(client, data):
    from analysis.dashboards.views import _csv

    body = _csv(pd.DataFrame({"arm": ["=evil()"], "count": [-3]}), "x").content
    assert _cells(body) == ["arm", "count", "'=evil()", "-3"]


@pytest.mark.django_db
def test_the_sql_rule_matches_the_python_rule():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the SQL rule serves PostgreSQL's COPY")
    values = ["=1+1", "-3", "+1.5e3", "-cmd", "abc", "\tx", "\rx", "@x", "-0.25", "", "a=b", ".5", "-.5e-3"]
    with connection.cursor() as cursor:
        for value in values:
            cursor.execute(f"SELECT {csvsafe.neutralize_sql('%s')}", [value])
            assert cursor.fetchone()[0] == csvsafe.neutralize(value), value
