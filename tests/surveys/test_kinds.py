"""The registry of item kinds: every kind has an entry and a partial that renders, and forms,
models, the analysis and exports read the registry instead of listing kinds."""

import pickle
import re

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.template.loader import get_template, render_to_string

from surveys import groups, kinds
from surveys.forms import AnswerPageForm, quick_answers
from surveys.models import Item, Response
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

#: A contract (stored, API, exports): the values never change.
VALUES = ["likert", "slider", "choice", "text", "number", "option"]

SCALES = {
    "likert": {"scale_min": 1, "scale_max": 5, "step": 1, "labels": {"en": {"1": "no", "5": "yes"}}},
    "slider": {"scale_min": 0, "scale_max": 10, "step": 0.5, "dont_know": True, "labels": {"en": {"0": "cold"}}},
    "choice": {"scale_min": 1, "scale_max": 3, "step": 1, "labels": {"en": {"1": "a", "2": "b", "3": "c"}}},
    "text": {"scale_min": None, "scale_max": None, "step": None},
    "number": {"scale_min": 0, "scale_max": 5000, "step": 1, "unit": {"en": "euros"}, "prefer_not_to_say": True},
    # An option is asked as part of its multiple-choice question (surveys/groups.py).
    "option": {"scale_min": 0, "scale_max": 1, "step": 1, "group": "g_option", "stem": {"en": "Which apply?"}},
}


def make(study, kind: str, **extra) -> Item:
    return ItemFactory(study=study, code=f"q_{kind}", kind=kind, prompt={"en": f"About {kind}?"},
                       **{**SCALES[kind], **extra})


def test_item_kind_is_made_from_the_registry_and_keeps_its_values():
    assert Item.Kind.values == VALUES == [kind.value for kind in kinds.KINDS]
    assert Item.Kind.LIKERT == "likert" and Item.Kind.TEXT.label == "free text"
    assert pickle.loads(pickle.dumps(Item.Kind.SLIDER)) is Item.Kind.SLIDER  # e.g. in a cached instance
    assert set(kinds.BY_VALUE) == set(Item.Kind.values)
    with pytest.raises(ValueError, match="unknown item kind 'matrix'"):
        kinds.kind_of("matrix")


@pytest.mark.parametrize("kind", VALUES)
def test_every_kind_has_a_partial_that_renders_its_field(study, kind):
    entry = kinds.kind_of(kind)
    assert get_template(entry.template)
    item = make(study, kind)
    (row,) = AnswerPageForm(items=[item], language="en").rows()
    html = render_to_string("surveys/_item.html", {"row": row})
    # An option is drawn by its question's partial (a group's), every other kind by its own.
    assert row["template"] == (groups.MEMBER_KINDS[kind].template if entry.group_only else f"surveys/kinds/{kind}.html")
    assert f'id="q-q_{kind}"' in html and f"About {kind}?" in html
    assert re.search(rf'<(input|textarea)[^>]* name="i_q_{kind}"', html)
    bound = AnswerPageForm(QueryDict("i_q_x=1"), items=[item], language="en")
    assert not bound.is_valid()
    assert "The form contained answers to questions that are not on this page" in str(bound.errors)


def test_the_partials_draw_each_kind_as_before(study):
    likert, choice, slider, text = (make(study, k) for k in ("likert", "choice", "slider", "text"))
    html = {item.kind: render_to_string("surveys/_item.html", {"row": row})
            for item, row in zip((likert, choice, slider, text),
                                 AnswerPageForm(items=[likert, choice, slider, text], language="en").rows(),
                                 strict=True)}
    assert html["likert"].startswith("\n<fieldset") and html["likert"].endswith("</fieldset>\n\n")
    assert '<div class="options scale">' in html["likert"] and '<span class="point">5</span> yes' in html["likert"]
    assert '<div class="options">' in html["choice"] and 'class="point"' not in html["choice"]
    assert "<span> a</span>" in html["choice"]
    assert 'type="number" class="slider-number" name="i_q_slider"' in html["slider"]
    assert 'step="0.5"' in html["slider"] and 'name="i_q_slider_dk"' in html["slider"]
    assert "(0 = cold)" in html["slider"]
    assert 'maxlength="2000"' in html["text"] and html["text"].endswith("</div>\n\n")


def test_each_kind_gives_its_answer(study):
    items = [make(study, k) for k in VALUES]
    data = QueryDict(mutable=True)
    data.update({"i_q_likert": "4", "i_q_slider": "", "i_q_slider_dk": "on", "i_q_choice": "2",
                 "i_q_text": "  words  ", "i_q_number_pns": "on", "i_q_option": "on"})
    form = AnswerPageForm(data, items=items, language="en")
    assert form.is_valid(), form.errors
    assert form.answers() == {
        "q_likert": kinds.Answer(value=4.0), "q_slider": kinds.Answer(missing=Response.Missing.DONT_KNOW),
        "q_choice": kinds.Answer(value=2.0), "q_text": kinds.Answer(text="words"),
        "q_number": kinds.Answer(missing=Response.Missing.PREFER_NOT), "q_option": kinds.Answer(value=1.0)}
    assert quick_answers(data, items) is None  # a slider always goes through the form
    no_slider = [i for i in items if i.kind not in ("slider", "number", "option")]
    del data["i_q_slider"], data["i_q_slider_dk"], data["i_q_number_pns"], data["i_q_option"]
    form = AnswerPageForm(data, items=no_slider, language="en")
    assert form.is_valid() and quick_answers(data, no_slider) == form.answers()


def test_the_scale_rule_of_each_kind(study):
    assert [kinds.kind_of(k).scale for k in VALUES] == [kinds.CATEGORIES, kinds.RANGE, kinds.CATEGORIES,
                                                         kinds.NO_SCALE, kinds.OPEN_RANGE, kinds.BINARY]
    assert [make(study, k).k for k in VALUES] == [5, 21, 3, None, 5001, 2]
    bad = Item(study=study, code="t", prompt={"en": "x"}, kind="text", scale_min=1, scale_max=2, step=1)
    with pytest.raises(ValidationError, match="Free-text items have no scale"):
        bad.full_clean()
    bad = Item(study=study, code="l", prompt={"en": "x"}, kind="likert", scale_min=0, scale_max=2, step=1)
    with pytest.raises(ValidationError, match="count 1..k"):
        bad.full_clean()
    grouping = Item(study=study, code="g", prompt={"en": "x"}, kind="likert", role="grouping", scale_max=2)
    with pytest.raises(ValidationError, match="A grouping item must be a choice item"):
        grouping.full_clean()


def test_what_the_rest_of_the_platform_asks():
    assert kinds.values(numeric=True) == ["likert", "slider", "choice", "number", "option"]
    assert kinds.values(free_text=True) == ["text"]
    assert kinds.values(grouping=True) == ["choice"]
    assert kinds.values(straightlining=True) == ["likert"]
    assert [kinds.kind_of(k).export.type for k in VALUES] == ["number", "number", "number", "string", "number", "number"]
    assert [kinds.kind_of(k).export.value_labels for k in VALUES] == [True, True, True, False, True, True]
    assert kinds.values(group_only=True) == ["option"] and kinds.values(pooled=False) == ["option"]


def test_the_database_constraints_read_the_registry():
    constraints = {c.name: str(c.condition) for c in Item._meta.constraints}
    assert "('kind__in', ['likert', 'slider', 'choice', 'text', 'number', 'option'])" in constraints["item_kind_valid"]
    assert "('kind', 'text')" in constraints["item_scale_bounds"]
    assert "('kind__in', ['likert', 'choice'])" in constraints["item_categorical_scale_starts_at_one"]
    assert "('kind', 'choice')" in constraints["item_grouping_is_choice"]
