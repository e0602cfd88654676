"""Matrix statements and multiple-choice options in exports and indices: ordinary items, each
its own variable; options are 0/1 items with the labels "not selected" / "selected"."""

import io
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from analysis.models import IndexResult
from analysis.pipeline import indices
from surveys.models import Response
from tests.factories import (
    AGREE_LABELS,
    ArmFactory,
    GroupingItemFactory,
    ItemFactory,
    MembershipFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db

# participant: (side, plain, statement a, statement b, tv, web, missing code of the options)
ANSWERS = [
    (1, 1, 1, 7, 1, 0, ""), (1, 2, 2, 6, 1, 1, ""), (2, 4, 4, 5, 0, 1, ""), (2, 7, 7, 2, 0, 0, ""),
    (1, 5, 5, 3, 1, 1, ""), (2, 6, 6, 1, None, None, "dont_know"), (1, 3, 3, 4, 0, 1, ""),
]


@pytest.fixture
def mixed(db):
    study = StudyFactory(slug="mixed")
    control = ArmFactory(study=study, name="control", is_control=True)
    GroupingItemFactory(study=study, code="side")
    plain = ItemFactory(study=study, code="plain", labels=AGREE_LABELS, prompt={"en": "Most people can be trusted."},
                        order=1)
    stem = {"en": "How much do you agree?"}
    a = ItemFactory(study=study, code="trust_a", labels=AGREE_LABELS, group="trust", stem=stem, order=2,
                    prompt={"en": "Most people can be trusted."})
    b = ItemFactory(study=study, code="trust_b", labels=AGREE_LABELS, group="trust", stem=stem, order=3,
                    prompt={"en": "You can't be too careful."}, reverse_coded=True)
    media = {"en": "Which of these do you use for news?"}
    tv = ItemFactory(study=study, code="media_tv", kind="option", scale_min=0, scale_max=1, step=1, labels={},
                     group="media", stem=media, order=4, prompt={"en": "Television"}, dont_know=True)
    web = ItemFactory(study=study, code="media_web", kind="option", scale_min=0, scale_max=1, step=1, labels={},
                      group="media", stem=media, order=5, prompt={"en": "Websites"}, dont_know=True)
    wave = WaveFactory(study=study, number=1)
    wave.items.set([plain, a, b, tv, web])
    for side, p, sa, sb, t, w, missing in ANSWERS:
        person = ParticipantFactory(study=study, arm=control, groups={"side": side})
        submission = SubmissionFactory(participant=person, wave=wave)
        for item, value in ((plain, p), (a, sa), (b, sb)):
            Response.objects.create(submission=submission, item=item, value=value)
        for item, value in ((tv, t), (web, w)):
            Response.objects.create(submission=submission, item=item, value=value, missing=missing)
    user = MembershipFactory(study=study, role="analyst").user
    return {"study": study, "wave": wave, "user": user}


def _stored(study) -> dict:
    rows = IndexResult.objects.filter(study=study).values_list("item__code", "group", "index", "value", "n")
    return {(i, g, x): (v, n) for i, g, x, v, n in rows}


def test_an_index_over_a_matrix_statement_equals_the_same_index_over_a_plain_item(mixed):
    run = indices.compute_wave_indices(study_id=mixed["study"].pk, wave_id=mixed["wave"].pk)
    assert run.status == "done"
    rows = _stored(mixed["study"])
    names = {x for (i, _g, x) in rows if i == "plain"}
    assert {"mean", "sd", "mad_pairwise", "agreement_a", "leik_d", "entropy_norm", "group_gap"} <= names
    compared = 0
    for (item, group, name), (value, n) in rows.items():
        if item == "plain":
            assert rows[("trust_a", group, name)] == pytest.approx((value, n), nan_ok=True), (group, name)
            compared += 1
    assert compared >= 20
    assert rows[("plain", "all", "mean")][0] == pytest.approx(28 / 7)


def test_an_option_is_a_0_1_item_whose_mean_is_the_share_selected(mixed):
    indices.compute_wave_indices(study_id=mixed["study"].pk, wave_id=mixed["wave"].pk)
    rows = _stored(mixed["study"])
    assert rows[("media_tv", "all", "mean")] == (pytest.approx(3 / 6), 6)  # "don't know" left out
    assert rows[("media_web", "all", "mean")] == (pytest.approx(4 / 6), 6)
    # Leik's D of a 0/1 item: 2 min(p, 1 - p) / (k - 1) with k = 2
    assert rows[("media_tv", "all", "leik_d")][0] == pytest.approx(2 * 0.5)
    assert rows[("media_web", "all", "leik_d")][0] == pytest.approx(2 * (2 / 6))
    # between groups: the difference of the shares selected, over k - 1 = 1
    # Options stay out of the indices across items: the pooled rows are over the three Likert items.
    pooled = rows[(None, "all", "mad_pairwise")][0]
    assert pooled == pytest.approx(sum(rows[(c, "all", "mad_pairwise")][0] for c in ("plain", "trust_a", "trust_b")) / 3)
    plain = [a[1] for a in ANSWERS]
    r = abs(np.corrcoef(plain, [a[3] for a in ANSWERS])[0, 1])
    assert rows[(None, "all", "constraint")][0] == pytest.approx((1 + 2 * r) / 3)  # trust_a is plain's twin
    gap = next(v for (i, g, x), (v, _n) in rows.items() if i == "media_tv" and x == "group_gap")
    assert abs(gap) == pytest.approx(3 / 4 - 0 / 2)  # side 1: 3 of 4 ticked; side 2: 0 of 2


def _get(client, mixed, query):
    client.force_login(mixed["user"])
    response = client.get(f"/api/v1/studies/mixed/export/{query}")
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_exports_write_one_variable_per_statement_and_option_with_labels(mixed, client, tmp_path):
    long = pd.read_csv(io.BytesIO(_get(client, mixed, "?format=csv")), keep_default_na=False)
    tv = long[long["item"] == "media_tv"]
    values = pd.to_numeric(tv["value"], errors="coerce")
    assert len(tv) == 7 and sorted(values.dropna()) == [0, 0, 0, 1, 1, 1]
    assert list(tv.loc[values.isna(), "missing"]) == ["dont_know"]
    wide = pd.read_csv(io.BytesIO(_get(client, mixed, "?format=csv&shape=wide")))
    assert {"trust_a_w1", "trust_b_w1", "media_tv_w1", "media_web_w1"} <= set(wide.columns)
    assert sorted(wide["media_web_w1"].dropna()) == [0, 0, 1, 1, 1, 1]
    book = json.loads(_get(client, mixed, "codebook/?shape=wide"))
    variables = {v["name"]: v for v in book["variables"]}
    assert variables["media_tv_w1"]["label"] == "Television"
    assert variables["media_tv_w1"]["value_labels"] == {"0": "not selected", "1": "selected"}
    assert variables["media_tv_w1"]["group"] == "media"
    assert variables["media_tv_w1"]["group_prompt"] == "Which of these do you use for news?"
    assert variables["trust_b_w1"]["label"] == "You can't be too careful." and variables["trust_b_w1"]["reverse_coded"]
    items = {i["code"]: i for i in book["items"]}
    assert (items["media_web"]["kind"], items["media_web"]["group_kind"], items["media_web"]["k"]) == ("option", "multiple", 2)
    assert items["trust_a"]["group_kind"] == "matrix" and items["plain"]["group"] == ""
    csv_book = pd.read_csv(io.BytesIO(_get(client, mixed, "codebook/?format=csv&shape=wide")), keep_default_na=False)
    row = csv_book.set_index("name").loc["media_tv_w1"]
    assert (row["label"], row["value_labels"], row["group"]) == ("Television", "0=not selected; 1=selected", "media")
    path = tmp_path / "wide.sav"
    path.write_bytes(_get(client, mixed, "?format=sav&shape=wide"))
    _frame, meta = pyreadstat.read_sav(str(path))
    assert meta.variable_value_labels["media_tv_w1"] == {0: "not selected", 1: "selected"}
    assert meta.column_names_to_labels["media_tv_w1"] == "Television (wave 1)"
