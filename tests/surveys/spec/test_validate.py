"""Every problem of a broken spec, with its path in the file (no database needed)."""

import copy

import pytest

from surveys.spec.io import SpecSyntaxError, load_text
from surveys.spec.validate import validate_spec


def _broken(spec, change):
    spec = copy.deepcopy(spec)
    change(spec)
    return [str(p) for p in validate_spec(spec)]


def _set(path, value):
    def change(spec):
        *parents, last = path
        target = spec
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def _delete(path):
    def change(spec):
        *parents, last = path
        target = spec
        for key in parents:
            target = target[key]
        del target[last]
    return change


BROKEN = [
    ("unknown wave item", _set(("waves", 1, "items", 0), "q9"), 'waves[1].items[0]: unknown item code "q9"'),
    ("grouping item in a wave", _set(("waves", 0, "items", 0), "side"),
     'waves[0].items[0]: "side" is a grouping item, asked once at baseline, not in waves'),
    ("duplicate item code", _set(("items", 1, "code"), "side"), 'items[1].code: item code "side" appears twice'),
    ("unknown kind", _set(("items", 1, "kind"), "ranking"), "items[1].kind: 'ranking' is not one of: likert, slider, choice, text, number, matrix, multiple"),
    ("bad item code", _set(("items", 2, "code"), "2warm"), "items[2].code: '2warm' does not have the expected form"),
    ("missing prompt", _delete(("items", 0, "prompt")), 'items[0]: missing required field "prompt"'),
    ("unknown field", _set(("items", 0, "colour"), "red"), "items[0]: unknown field 'colour'"),
    ("unknown section", _set(("enrolment_typo",), {}), "unknown field 'enrolment_typo'"),
    ("likert scale not from 1", _set(("items", 1, "scale", "min"), 0), "items[1].scale: Likert and choice items count 1..k"),
    ("slider step not dividing", _set(("items", 2, "scale", "step"), 7), "items[2].scale: (max - min) must be a whole number of steps."),
    ("text with a scale", _set(("items", 3, "scale"), {"min": 1, "max": 3, "step": 1}), "items[3].scale: free-text items have no scale"),
    ("choice label missing", _delete(("items", 0, "labels", "en", "2")),
     "items[0].labels.en: choice items need a label for every value; missing: 2"),
    ("label off the scale", _set(("items", 1, "labels", "en", "9"), "Nine"), "items[1].labels.en: 9 not on the scale (1 to 5)"),
    ("grouping slider", _set(("items", 2, "role"), "grouping"), "items[2].role: a grouping item must be one of: choice"),
    ("attention without answer", _delete(("items", 4, "attention_answer")), "items[4]: an attention check needs its attention_answer"),
    ("attention answer off scale", _set(("items", 4, "attention_answer"), 4), "items[4].attention_answer: 4 is not a point of the scale"),
    ("optional grouping", _set(("items", 0, "required"), False), "items[0].required: grouping items are always required"),
    ("unit on likert", _set(("items", 1, "unit"), {"en": "points"}), "items[1].unit: only numeric entry items have a unit"),
    ("prompt in a language the study lacks", _set(("items", 1, "prompt", "fr"), "Je"),
     "items[1].prompt.fr: language \"fr\" is not among the study's languages (en, de)"),
    ("no default-language prompt", _set(("items", 1, "prompt"), {"de": "Nur deutsch"}),
     'items[1].prompt: needs a text in the default language "en"'),
    ("unsupported language", _set(("study", "languages"), ["en", "xx"]), 'study.languages[1]: unsupported language "xx"'),
    ("wave closes before opening", _set(("waves", 0, "closes_at"), "2027-01-01T00:00:00Z"),
     "waves[0].closes_at: a wave must close after it opens"),
    ("wave without dates", _delete(("waves", 1, "opens_at")), "waves[1]: needs opens_at (a date) or opens_after_days"),
    ("not a date", _set(("waves", 1, "opens_at"), "soon"), "waves[1].opens_at: 'soon' does not have the expected form"),
    ("gap in wave numbers", _set(("waves", 1, "number"), 3), "waves: waves are numbered 1, 2, 3, ... without gaps (found 1, 3)"),
    ("intervention for an unknown arm", _set(("waves", 1, "interventions", 0, "arm"), "ghost"),
     'waves[1].interventions[0].arm: unknown arm "ghost"'),
    ("two control arms", _set(("arms", 1, "control"), True), "arms[1].control: only one arm may be the control arm"),
    ("arm weight zero", _set(("arms", 0, "weight"), 0), "arms[0].weight: 0 is less than the minimum of 1"),
    ("duplicate consent version", _set(("consent", 1, "version"), 1), 'consent[1].version: consent version "1" appears twice'),
    ("template without link", _set(("messages", "templates", 0, "body"), "Hello"),
     "messages.templates[0].body: the text must contain {{ link }}"),
    ("template syntax", _set(("messages", "templates", 0, "subject"), "{% if %}"), "messages.templates[0].subject: template error"),
    ("completion URL", _set(("completion", "url"), "javascript:alert(1)"), "completion.url: 'javascript:alert(1)' does not have"),
    ("wrong type", _set(("pages", "items_per_page"), "five"), "pages.items_per_page: must be an integer, not str"),
    ("wrong version", _set(("spec_version",), 2), "spec_version: must be 1"),
    ("missing study", _delete(("study",)), 'missing required field "study"'),
]


def test_the_fixture_is_valid(every_kind):
    assert validate_spec(every_kind) == []


@pytest.mark.parametrize(("name", "change", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_it_names_the_problem_with_its_path(every_kind, name, change, expected):
    problems = _broken(every_kind, change)
    assert any(p.startswith(expected) for p in problems), problems


def test_it_lists_every_problem_not_only_the_first(every_kind):
    spec = copy.deepcopy(every_kind)
    spec["waves"][0]["items"][0] = "q9"
    spec["waves"][1]["items"][1] = "q10"
    spec["arms"][1]["control"] = True
    problems = [str(p) for p in validate_spec(spec)]
    assert 'waves[0].items[0]: unknown item code "q9"' in problems
    assert 'waves[1].items[1]: unknown item code "q10"' in problems
    assert "arms[1].control: only one arm may be the control arm" in problems


@pytest.mark.parametrize("data", [None, [], "text", 3, {"spec_version": 1, "study": [], "items": {}}])
def test_any_shape_gives_problems_not_an_exception(data):
    assert validate_spec(data)


def test_a_syntax_error_names_line_and_column():
    with pytest.raises(SpecSyntaxError, match=r"^f.yaml:\d+:\d+: not valid YAML"):
        load_text("study:\n  slug: [a\n", name="f.yaml")
    with pytest.raises(SpecSyntaxError, match=r"^f.json:1:\d+: not valid JSON"):
        load_text('{"study": }', name="f.json")


def test_unquoted_dates_read_as_iso_strings():
    assert load_text("opens_at: 2027-01-04T09:00:00Z") == {"opens_at": "2027-01-04T09:00:00Z"}


def test_the_annotated_example_in_the_docs_is_valid(settings):
    from pathlib import Path

    text = (Path(settings.BASE_DIR) / "docs" / "building-a-study.md").read_text()
    block = text.split("### A full, annotated example")[1].split("```yaml\n")[1].split("```")[0]
    assert validate_spec(load_text(block)) == []


def test_the_example_study_file_is_valid(settings):
    from pathlib import Path

    assert validate_spec(load_text((Path(settings.BASE_DIR) / "examples" / "demo-study.yaml").read_text())) == []
