"""The item bank: every entry a valid item with a source and translations; added in one step."""

import pytest

from surveys.spec.bank import add_from_bank, bank_entries
from surveys.spec.service import apply_spec, export_spec
from surveys.spec.validate import validate_spec


def test_every_entry_has_a_source_and_english_and_german_texts():
    entries = bank_entries()
    assert len(entries) >= 12
    assert {"warmth", "unhappy_marry", "threat", "understand_other", "disagree_often", "ih_question"} <= {
        e.key for e in entries}
    for entry in entries:
        assert entry.source and entry.instrument
        assert set(entry.item["prompt"]) == {"en", "de"}, entry.key


def test_a_study_of_every_bank_item_is_valid(every_kind):
    spec, added = add_from_bank(every_kind, [e.key for e in bank_entries()])
    assert validate_spec(spec) == []
    assert "warmth_2" in added and "attention" in added  # codes already taken get a suffix
    assert all("warmth_2" in wave["items"] for wave in spec["waves"])
    assert not any("side_2" in wave["items"] for wave in spec["waves"])  # grouping: baseline only


@pytest.mark.django_db
def test_bank_items_take_the_studys_languages(every_kind):
    every_kind["study"]["languages"] = ["de"]
    every_kind["study"]["title"] = {"de": "Nur deutsch"}
    every_kind["study"]["description"] = {}
    for section in (every_kind["consent"], every_kind["items"]):
        for row in section:
            for key in ("text", "prompt", "unit"):
                if key in row:
                    row[key] = {"de": next(iter(row[key].values()))}
            if "labels" in row:
                row["labels"] = {"de": next(iter(row["labels"].values()))}
            for member in row.get("statements", []) + row.get("options", []):
                for key in ("prompt", "label"):
                    if key in member:
                        member[key] = {"de": next(iter(member[key].values()))}
    every_kind["messages"]["templates"] = []
    every_kind["completion"]["text"] = {}
    every_kind["waves"][1]["interventions"] = []
    spec, _added = add_from_bank(every_kind, ["ih_value"])
    study = apply_spec(data=spec).study
    item = export_spec(study)["items"][-1]
    assert item["prompt"] == {"de": "Ich erkenne den Wert von Meinungen, die sich von meiner eigenen unterscheiden."}
