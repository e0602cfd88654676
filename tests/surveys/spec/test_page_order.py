"""The spec's page order: conditions on the same or a later page of a wave are refused with their
place, page problems have their paths, and pages round-trip byte for byte (both databases)."""

import copy

import pytest

from surveys.models import Study
from surveys.spec import service as spec_service
from surveys.spec.io import dump, load_text
from surveys.spec.validate import validate_spec

pytestmark = pytest.mark.django_db

def _with_pages(every_kind, order, **conditions):
    every_kind["pages"]["order"] = copy.deepcopy(order)
    for row in every_kind["items"]:
        if row["code"] in conditions:
            row["show_if"] = copy.deepcopy(conditions[row["code"]])
    return every_kind


AGREE_4 = {"item": "agree", "op": ">=", "value": 4}


def test_a_condition_on_the_same_or_a_later_page_is_refused_with_its_place(every_kind):
    order = [{"name": "one", "items": ["agree", "warmth"]}, {"name": "two", "items": ["story"]}]
    problems = [str(p) for p in validate_spec(_with_pages(every_kind, order, warmth=AGREE_4))]
    index = next(i for i, row in enumerate(every_kind["items"]) if row["code"] == "warmth")
    assert f'items[{index}].show_if: "agree" is on the same page of wave 1; move it to an earlier page' in problems
    assert f'items[{index}].show_if: "agree" is on the same page of wave 2; move it to an earlier page' in problems
    every_kind["pages"]["order"] = [{"name": "one", "items": ["warmth"]}, {"name": "two", "items": ["agree"]}]
    problems = [str(p) for p in validate_spec(every_kind)]
    assert any('"agree" is on a later page of wave 1' in p for p in problems)
    every_kind["pages"]["order"] = []
    problems = [str(p) for p in validate_spec(every_kind)]
    assert any("for some participants" in p for p in problems)  # both in each participant's random order


def test_a_condition_on_an_earlier_page_and_a_page_condition_are_accepted(every_kind):
    order = [{"name": "one", "items": ["agree"]},
             {"name": "two", "items": ["warmth", "story"], "show_if": AGREE_4}]
    assert validate_spec(_with_pages(every_kind, order, story=AGREE_4)) == []


def test_page_problems_have_their_paths(every_kind):
    order = [{"name": "one", "items": ["agree", "nope", "side"], "show_if": {"item": "agree", "op": "==", "value": 9}},
             {"name": "one", "items": ["agree"]}]
    problems = {str(p) for p in validate_spec(_with_pages(every_kind, order))}
    assert 'pages.order[0].items[1]: unknown item code "nope"' in problems
    assert any(p.startswith("pages.order[0].items[2]:") and "grouping" in p for p in problems)
    assert any(p.startswith("pages.order[0].show_if:") and "never holds" in p for p in problems)
    assert 'pages.order[1].name: page "one" appears twice' in problems
    assert 'pages.order[1].items[0]: "agree" is on page "one" already' in problems
    order = [{"name": "one", "items": ["agree"], "show_if": AGREE_4}]
    problems = {str(p) for p in validate_spec(_with_pages(every_kind, order))}
    assert 'pages.order[0].show_if: "agree" is on the same page of wave 1; move it to an earlier page' in problems


def test_a_page_lists_all_of_a_groups_items_together_or_none(every_kind):
    order = [{"name": "one", "items": ["agree"]}, {"name": "two", "items": ["media_tv", "warmth"]}]
    problems = {str(p) for p in validate_spec(_with_pages(every_kind, order))}
    assert ('pages.order[1].items: "media" is one question: list all its items (media_tv, media_web) together, '
            "in that order, on one page") in problems
    order[1]["items"] = ["media_web", "media_tv"]
    assert any('"media" is one question' in p for p in map(str, validate_spec(_with_pages(every_kind, order))))
    order[1]["items"] = ["warmth", "media_tv", "media_web"]
    assert validate_spec(_with_pages(every_kind, order)) == []


def test_pages_round_trip_byte_for_byte(every_kind):
    order = [{"name": "one", "items": ["agree"], "shuffle": True},
             {"name": "two", "items": ["warmth", "story"], "show_if": {"not": AGREE_4}}]
    data = _with_pages(every_kind, order, story={"any": [AGREE_4, {"item": "side", "op": "==", "value": 2}]})
    first = dump(spec_service.export_spec(spec_service.apply_spec(data=data).study))
    assert first == dump(data)
    assert "  order:\n  - name: one\n" in first
    Study.objects.all().delete()
    again = dump(spec_service.export_spec(spec_service.apply_spec(data=load_text(first)).study))
    assert again == first
