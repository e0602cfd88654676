"""Round trips: every export format read back with pandas / pyreadstat equals the database
content (the known answers of tests/api/conftest.py), labels included; plus filters, the
codebook with its provenance, the audit log and streaming."""

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from analysis.api import exports
from analysis.models import AnalysisRun
from analysis.pipeline.provenance import CODE_VERSION
from surveys.models import ApiToken, ExportAudit
from tests.api.conftest import ANSWERS, T0, client_for

pytestmark = pytest.mark.django_db

SIDE = {"p1": 1, "p2": 2, "p3": 2, "p4": 1, "p5": 1}
ARM = {"p1": "control", "p2": "contact", "p3": "control", "p4": "contact", "p5": "contact"}


def expected_long(data, keys=("p1", "p2")) -> pd.DataFrame:
    """The answers of `keys`, built from the fixture's constants (not from the database)."""
    import datetime as dt

    rows = []
    for n, (key, wave, code, value, text, missing, ms) in enumerate(ANSWERS):
        if key in keys:
            rows.append({"participant": data.participants[key].public_id, "wave": wave, "item": code,
                         "value": np.nan if value is None else float(value), "text": text, "missing": missing,
                         "answered_at": pd.Timestamp(T0 + dt.timedelta(minutes=n)), "response_time_ms": ms,
                         "arm": ARM[key], "side": SIDE[key]})
    return pd.DataFrame(rows)


def fetch(data, query: str, who: str = "analyst"):
    response = client_for(data, who).get(f"/api/v1/studies/panel/export/?{query}")
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, b"".join(response.streaming_content)


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["value"] = frame["value"].astype(float)
    frame["wave"] = frame["wave"].astype(int)
    frame["side"] = frame["side"].astype(float).astype(int)
    frame["response_time_ms"] = frame["response_time_ms"].astype(float)
    for column in ("text", "missing"):
        frame[column] = frame[column].fillna("")
    frame["answered_at"] = pd.to_datetime(frame["answered_at"], utc=True).dt.tz_localize(None).astype("datetime64[ms]")
    return frame.sort_values(["participant", "answered_at"]).reset_index(drop=True)


def test_long_csv_equals_the_answers(data):
    response, body = fetch(data, "format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="panel_long_')
    frame = pd.read_csv(io.BytesIO(body), keep_default_na=False, na_values=[""])
    assert list(frame.columns) == ["participant", "wave", "item", "value", "text", "missing", "answered_at",
                                   "response_time_ms", "arm", "side"]
    pd.testing.assert_frame_equal(normalise(frame), normalise(expected_long(data)), check_dtype=False)
    assert 'We argued about dinner, ""politely"".' in body.decode()  # quotes survive


def test_long_parquet_equals_the_answers_and_carries_the_codebook(data):
    response, body = fetch(data, "format=parquet")
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(body))
    assert str(table.schema.field("value").type) == "double"
    assert str(table.schema.field("answered_at").type) == "timestamp[ms, tz=UTC]"
    frame = table.to_pandas()
    pd.testing.assert_frame_equal(normalise(frame), normalise(expected_long(data)), check_dtype=False)
    codebook = json.loads(table.schema.metadata[b"disagreement.codebook"])
    assert codebook["provenance"]["code_version"] == CODE_VERSION


def wide_expected(data) -> dict:
    p1, p2 = data.participants["p1"].public_id, data.participants["p2"].public_id
    return {
        p1: {"arm": "control", "side": 1, "reasons_w1": 2, "understand_w1": 5, "threat_w1": np.nan,
             "warmth_w1": 35, "story_w1": 'We argued about dinner, "politely".', "reasons_w2": 3,
             "attention_w2": np.nan},
        p2: {"arm": "contact", "side": 2, "reasons_w1": 6, "understand_w1": np.nan, "threat_w1": np.nan,
             "warmth_w1": 81, "story_w1": "", "reasons_w2": 7, "attention_w2": 3},
    }


def check_wide(frame: pd.DataFrame, data) -> None:
    expected = wide_expected(data)
    assert list(frame.columns) == ["participant", "arm", "side", "reasons_w1", "understand_w1", "threat_w1",
                                   "warmth_w1", "story_w1", "reasons_w2", "attention_w2"]
    assert sorted(frame["participant"]) == sorted(expected)
    for _, row in frame.iterrows():
        want = expected[row["participant"]]
        for column, value in want.items():
            got = row[column]
            if column in ("arm", "story_w1"):
                assert (got if isinstance(got, str) else "") == value, column
            elif np.isnan(value):
                assert pd.isna(got), column
            else:
                assert float(got) == value, column


def test_wide_csv_has_one_row_per_participant(data):
    _response, body = fetch(data, "format=csv&shape=wide")
    check_wide(pd.read_csv(io.BytesIO(body)), data)


def test_wide_parquet_has_one_row_per_participant(data):
    _response, body = fetch(data, "format=parquet&shape=wide")
    table = pq.read_table(io.BytesIO(body))
    assert str(table.schema.field("reasons_w1").type) == "double"
    assert str(table.schema.field("story_w1").type) == "string"
    check_wide(table.to_pandas(), data)


@pytest.mark.parametrize("file_format", ["sav", "dta"])
def test_long_spss_and_stata_files_equal_the_answers_with_labels(data, file_format, tmp_path):
    _response, body = fetch(data, f"format={file_format}")
    path = tmp_path / f"export.{file_format}"
    path.write_bytes(body)
    read = pyreadstat.read_sav if file_format == "sav" else pyreadstat.read_dta
    frame, meta = read(str(path))
    pd.testing.assert_frame_equal(normalise(frame), normalise(expected_long(data)), check_dtype=False)
    labels = meta.column_names_to_labels
    assert labels["participant"] == "Pseudonymous participant id"
    assert labels["side"] == "Which side are you usually on?"
    assert meta.variable_value_labels["side"] == {1: "left", 2: "right"}


@pytest.mark.parametrize("file_format", ["sav", "dta"])
def test_wide_spss_and_stata_files_carry_item_labels(data, file_format, tmp_path):
    _response, body = fetch(data, f"format={file_format}&shape=wide")
    path = tmp_path / f"export.{file_format}"
    path.write_bytes(body)
    read = pyreadstat.read_sav if file_format == "sav" else pyreadstat.read_dta
    frame, meta = read(str(path))
    check_wide(frame, data)
    assert meta.column_names_to_labels["reasons_w2"] == "People who disagree with me have good reasons. (wave 2)"
    assert meta.variable_value_labels["reasons_w1"] == {1: "Strongly disagree", 4: "Neither agree nor disagree",
                                                        7: "Strongly agree"}
    assert meta.variable_value_labels["warmth_w1"] == {0: "very cold", 100: "very warm"}


def test_german_labels_on_request(data, tmp_path):
    _response, body = fetch(data, "format=sav&shape=wide&language=de")
    path = tmp_path / "de.sav"
    path.write_bytes(body)
    _frame, meta = pyreadstat.read_sav(str(path))
    assert meta.variable_value_labels["side"] == {1: "links", 2: "rechts"}


def test_excluded_and_withdrawn_participants_only_when_asked_and_previews_never(data):
    _response, body = fetch(data, "format=csv")
    ids = set(pd.read_csv(io.BytesIO(body))["participant"])
    p = {k: v.public_id for k, v in data.participants.items()}
    assert ids == {p["p1"], p["p2"]}
    _response, body = fetch(data, "format=csv&include_excluded=true")
    frame = pd.read_csv(io.BytesIO(body))
    assert set(frame["participant"]) == {p["p1"], p["p2"], p["p3"], p["p5"]}
    status = frame.drop_duplicates("participant").set_index("participant")["status"].to_dict()
    assert status == {p["p1"]: "active", p["p2"]: "active", p["p3"]: "excluded", p["p5"]: "withdrawn"}
    assert p["p4"] not in set(frame["participant"])
    _response, body = fetch(data, "format=csv&shape=wide&include_excluded=1")
    assert set(pd.read_csv(io.BytesIO(body))["participant"]) == {p["p1"], p["p2"], p["p3"], p["p5"]}


@pytest.mark.parametrize(("query", "keep"), [
    ("wave=2", lambda a: a[1] == 2),
    ("arm=contact", lambda a: a[0] == "p2"),
    ("group=side:1", lambda a: a[0] == "p1"),
    ("group=arm:control", lambda a: a[0] == "p1"),
    ("item=reasons,warmth", lambda a: a[2] in ("reasons", "warmth")),
    ("wave=1&item=reasons&group=side:2", lambda a: a[0] == "p2" and a[1] == 1 and a[2] == "reasons"),
])
def test_filters_select_the_answers(data, query, keep):
    _response, body = fetch(data, f"format=csv&{query}")
    frame = pd.read_csv(io.BytesIO(body))
    expected = [(data.participants[a[0]].public_id, a[1], a[2]) for a in ANSWERS if a[0] in ("p1", "p2") and keep(a)]
    assert sorted(zip(frame["participant"], frame["wave"], frame["item"], strict=True)) == sorted(expected)


@pytest.mark.parametrize(("query", "field"), [
    ("format=csv&shape=tall", "shape"), ("format=csv&wave=one", "wave"), ("format=csv&group=side", "group"),
    ("format=csv&group=party:1", "group"), ("format=csv&include_excluded=maybe", "include_excluded"),
    ("format=csv&language=fr", "language"), ("format=csv&item=nope", "item"), ("format=pdf", "format"),
])
def test_bad_parameters_are_a_400_naming_the_parameter_and_nothing_is_audited(data, query, field, owner_client):
    response = owner_client.get(f"/api/v1/studies/panel/export/?{query}")
    assert response.status_code == 400
    assert field in response.json()
    assert not ExportAudit.objects.exists()


def test_external_ids_only_for_owners_who_ask(data, analyst_client):
    _response, body = fetch(data, "format=csv&include_external_id=true", who="owner")
    frame = pd.read_csv(io.BytesIO(body))
    assert dict(zip(frame["participant"], frame["external_id"], strict=True)) == {
        data.participants["p1"].public_id: "PID-1", data.participants["p2"].public_id: "PID-2"}
    _response, body = fetch(data, "format=csv", who="owner")
    assert "external_id" not in pd.read_csv(io.BytesIO(body)).columns
    response = analyst_client.get("/api/v1/studies/panel/export/?format=csv&include_external_id=true")
    assert response.status_code == 403


def test_every_export_is_audited_with_who_when_what(data, owner_client):
    fetch(data, "format=parquet&shape=wide&wave=1", who="analyst")
    owner_client.get("/api/v1/studies/panel/export/codebook/?format=csv")
    audits = list(ExportAudit.objects.order_by("id"))
    assert [(a.username, a.what, a.format, a.shape) for a in audits] == [
        ("analyst", "data", "parquet", "wide"), ("owner", "codebook", "csv", "long")]
    assert audits[0].token == ApiToken.objects.get(user=data.users["analyst"])
    assert audits[0].parameters["wave"] == [1]
    assert audits[0].excluded_included is False


def test_codebook_lists_variables_labels_and_provenance(data, analyst_client):
    run = AnalysisRun.objects.create(study=data.study, kind="indices", wave=data.waves[1], status="done",
                                     code_version=CODE_VERSION, fingerprint="abc")
    run.finished_at = run.created_at
    run.save()
    response = analyst_client.get("/api/v1/studies/panel/export/codebook/?shape=wide")
    assert response.status_code == 200
    book = response.json()
    variables = {v["name"]: v for v in book["variables"]}
    assert list(variables) == ["participant", "arm", "side", "reasons_w1", "understand_w1", "threat_w1", "warmth_w1",
                               "story_w1", "reasons_w2", "attention_w2"]
    assert variables["warmth_w1"]["value_labels"] == {"0": "very cold", "100": "very warm"}
    assert (variables["warmth_w1"]["scale_min"], variables["warmth_w1"]["scale_max"]) == (0, 100)
    assert variables["reasons_w2"]["wave"] == 2 and variables["reasons_w2"]["item"] == "reasons"
    assert variables["side"]["value_labels"] == {"1": "left", "2": "right"}
    assert [a["name"] for a in book["arms"]] == ["control", "contact"]
    provenance = book["provenance"]
    assert provenance["code_version"] == CODE_VERSION
    assert provenance["latest_indices_run"]["id"] == run.pk
    assert provenance["exclusions"] == {"count": 1, "public_ids": [data.participants["p3"].public_id],
                                        "applied": True, "note": provenance["exclusions"]["note"]}
    assert provenance["generated_by"] == "analyst"
    response = analyst_client.get("/api/v1/studies/panel/export/codebook/?format=csv")
    frame = pd.read_csv(io.BytesIO(response.content), keep_default_na=False)
    assert list(frame.loc[frame["section"] == "variable", "name"])[:4] == ["participant", "wave", "item", "value"]
    assert frame.set_index("name").loc["side", "value_labels"] == "1=left; 2=right"
    prov = frame[frame["section"] == "provenance"].set_index("name")["label"]
    assert prov["code_version"] == CODE_VERSION and prov["exclusions.count"] == "1"


def test_csv_is_streamed_in_blocks(data, monkeypatch, analyst_client):
    monkeypatch.setattr(exports, "CHUNK_BYTES", 64)
    response = analyst_client.get("/api/v1/studies/panel/export/?format=csv")
    blocks = list(response.streaming_content)
    assert len(blocks) > 5
    assert all(block.endswith(b"\n") for block in blocks)  # whole rows per block


def test_parquet_is_written_in_row_groups(data, monkeypatch):
    monkeypatch.setattr(exports, "PARQUET_BLOCK", 200)
    monkeypatch.setattr(exports, "CHUNK_BYTES", 64)
    _response, body = fetch(data, "format=parquet")
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.num_row_groups > 1
    pd.testing.assert_frame_equal(normalise(parquet.read().to_pandas()), normalise(expected_long(data)),
                                  check_dtype=False)


def test_the_audit_log_is_readable_in_the_admin_by_members_only(data, client):
    fetch(data, "format=csv", who="analyst")
    audit = ExportAudit.objects.get()
    client.force_login(data.users["owner"])
    page = client.get("/admin/surveys/exportaudit/")
    assert page.status_code == 200 and page.context["cl"].result_count == 1
    assert client.get(f"/admin/surveys/exportaudit/{audit.pk}/change/").status_code == 200
    client.force_login(data.users["other"])
    page = client.get("/admin/surveys/exportaudit/")
    assert page.status_code == 200 and page.context["cl"].result_count == 0
