"""Matrix and multiple-choice entries of the spec: checked with their paths, laid out as one item
per statement or option, written back as one entry (the round trip is test_roundtrip.py)."""

import copy

import pytest

from surveys.models import Item
from surveys.spec.io import dump
from surveys.spec.service import apply_spec, export_spec
from surveys.spec.validate import validate_spec

TRUST, MEDIA = 6, 7  # their places in every_kind.yaml


def _problems(spec, change) -> list[str]:
    spec = copy.deepcopy(spec)
    change(spec)
    return [str(p) for p in validate_spec(spec)]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: s["items"][TRUST].update(statements=[]), "items[6]: a matrix question needs its statements"),
    (lambda s: s["items"][MEDIA].pop("options"), "items[7]: a multiple question needs its options"),
    (lambda s: s["items"][MEDIA].update(scale={"min": 1, "max": 3, "step": 1}), "items[7].scale: a multiple question has no scale"),
    (lambda s: s["items"][TRUST].update(none_option=True), "items[6].none_option: a matrix question has no none_option"),
    (lambda s: s["items"][TRUST].update(reverse_coded=True), "items[6].reverse_coded: a matrix question has no reverse_coded (say it per statement)"),
    (lambda s: s["items"][TRUST].update(role="attention"), "items[6].role: a matrix question's items are attitude items"),
    (lambda s: s["items"][MEDIA]["options"][1].update(code="agree"), 'items[7].options[1].code: item code "agree" appears twice'),
    (lambda s: s["items"][MEDIA].update(code="trust_a"), 'items[7].code: item code "trust_a" appears twice'),
    (lambda s: s["items"][MEDIA]["options"][0]["label"].update(fr="Télé"), 'items[7].options[0].label.fr: language "fr"'),
    (lambda s: s["items"][TRUST].update(scale={"min": 1, "max": 5, "step": 2}), "items[6].scale: Likert and choice items count 1..k"),
    (lambda s: s["items"][1].update(options=[{"code": "x", "label": {"en": "x"}}]), "items[1].options: only matrix and multiple questions have options"),
    (lambda s: s["items"].append({"code": "lone", "kind": "option", "prompt": {"en": "x"}}), "items[8].kind: 'option' is not one of"),
    (lambda s: s["waves"][0]["items"].append("trust_a"), 'waves[0].items[6]: "trust_a" is listed twice'),
    (lambda s: s["items"][1].update(show_if={"item": "media_tv", "op": "==", "value": 3}), "items[1].show_if"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_group_problems_are_named_with_their_path(every_kind, change, expected):
    problems = _problems(every_kind, change)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_condition_may_name_an_option_or_a_statement(every_kind):
    every_kind["items"][2]["show_if"] = {"any": [{"item": "media_tv", "op": "==", "value": 1},
                                                 {"item": "trust_b", "op": ">=", "value": 4}]}
    assert validate_spec(every_kind) == []


@pytest.mark.django_db
def test_each_statement_and_option_is_an_item_of_its_own(every_kind):
    study = apply_spec(data=every_kind).study
    rows = list(Item.objects.filter(study=study).exclude(group="").order_by("order").values_list(
        "code", "kind", "group", "scale_min", "scale_max", "step", "dont_know", "prefer_not_to_say", "optional",
        "reverse_coded", "none_option"))
    assert rows == [
        ("trust_a", "likert", "trust", 1, 5, 1, True, False, False, False, False),
        ("trust_b", "likert", "trust", 1, 5, 1, True, False, False, True, False),
        ("media_tv", "option", "media", 0, 1, 1, False, True, True, False, True),
        ("media_web", "option", "media", 0, 1, 1, False, True, True, False, True),
    ]
    trust_b = Item.objects.get(study=study, code="trust_b")
    assert trust_b.stem == {"en": "How much do you agree?", "de": "Wie sehr stimmen Sie zu?"}
    assert trust_b.labels == {"en": {"1": "Disagree", "5": "Agree"}}
    media_tv = Item.objects.get(study=study, code="media_tv")
    assert media_tv.show_if == {"item": "agree", "op": ">=", "value": 2}
    waves = {w.number: sorted(w.items.values_list("code", flat=True)) for w in study.waves.all()}
    assert {"trust_a", "trust_b", "media_tv", "media_web"} <= set(waves[1])
    assert {"trust_a", "media_web"} <= set(waves[2]) and "trust_b" not in waves[2]


@pytest.mark.django_db
def test_a_changed_statement_list_is_applied_and_written_back(every_kind):
    study = apply_spec(data=every_kind).study
    every_kind["items"][TRUST]["statements"].append({"code": "trust_c", "prompt": {"en": "New."}})
    every_kind["items"][MEDIA]["options"].pop()
    every_kind["waves"][1]["items"].remove("media_web")
    apply_spec(data=every_kind)
    spec = export_spec(study)
    assert [s["code"] for s in spec["items"][TRUST]["statements"]] == ["trust_a", "trust_b", "trust_c"]
    assert [o["code"] for o in spec["items"][MEDIA]["options"]] == ["media_tv"]
    assert "trust" in spec["waves"][0]["items"] and "media" in spec["waves"][0]["items"]
    assert not Item.objects.filter(study=study, code="media_web").exists()
    assert dump(spec) == dump(export_spec(apply_spec(data=spec).study))
