"""Item kinds: everything that differs between kinds of question, one registry entry per kind.

An entry says
- how the participant page asks it: its form field(s), the answer they give and the template
  partial that draws it (``templates/surveys/kinds/<kind>.html``, included by
  ``templates/surveys/_item.html``);
- what its scale may be (``Item.clean``, ``Item.k`` and the database constraints): none, the
  categories 1..k, or any range with a step;
- whether its answers are numbers on that scale (checked against it, analysed by the indices)
  or free text (scored by the text indices);
- how exports write it: numbers with value labels, or strings;
- the odd rule of one kind (only choice items may group participants, and they need a label for
  every value; the quality check looks for straight lines through Likert items).

``Item.Kind`` is made from this registry, so adding a kind is one entry here plus its partial
(and the migration ``makemigrations`` then writes for the new choice). Code elsewhere asks the
registry (``kind_of(item).numeric``), never lists kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

#: Longest free-text answer, in characters.
TEXT_MAX_LENGTH = 2000
#: The missing codes an answer may carry (``Response.Missing``'s values).
MISSING_DONT_KNOW = "dont_know"
MISSING_SKIPPED = "skipped"
MISSING_PREFER_NOT = "prefer_not"
#: Stored by the server for a question its display condition hid (never sent by a participant).
MISSING_NOT_SHOWN = "not_shown"
MISSING_CODES = [MISSING_DONT_KNOW, MISSING_SKIPPED, MISSING_PREFER_NOT, MISSING_NOT_SHOWN]
#: The form values of the "don't know" and "prefer not to say" options.
DONT_KNOW = "dk"
PREFER_NOT = "pns"


@dataclass(frozen=True)
class Answer:
    """One answer as the participant gave it: a value, a text, or a missing code."""

    value: float | None = None
    text: str = ""
    missing: str = ""


def point_label(value: float) -> str:
    """A scale point as forms and value labels write it: 3.0 -> "3", 0.5 -> "0.5"."""
    return str(int(value)) if float(value).is_integer() else repr(value)


# --- Scale rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleRule:
    """What an item's min, max and step may be: no scale at all, the categories 1..k (min 1 and
    step 1 by definition, max = k), or any min < max with a positive step that divides it."""

    name: str
    has_scale: bool
    categories: bool = False
    #: Most scale points allowed (None: any number, for typed-in numbers).
    max_points: int | None = 1001
    #: The answers are a short list of points (options): display conditions are checked against them.
    listed: bool = False

    def clean(self, item) -> dict[str, str]:
        """Errors by field for `item`'s scale (fills min and step of categories when empty)."""
        errors: dict[str, str] = {}
        if not self.has_scale:
            if any(v is not None for v in (item.scale_min, item.scale_max, item.step)):
                errors["kind"] = _("Free-text items have no scale: leave min, max and step empty.")
            return errors
        if self.categories:
            item.scale_min = 1 if item.scale_min is None else item.scale_min
            item.step = 1 if item.step is None else item.step
            if item.scale_min != 1 or item.step != 1:
                errors["scale_min"] = _("Likert and choice items count 1..k: min 1, step 1.")
        if item.scale_min is None or item.scale_max is None or not item.step:
            errors["scale_max"] = _("Give the scale's min, max and step.")
        elif item.scale_max <= item.scale_min or item.step <= 0:
            errors["scale_max"] = _("The maximum must be above the minimum, and the step positive.")
        else:
            points = (item.scale_max - item.scale_min) / item.step
            if abs(points - round(points)) > 1e-9:
                errors["step"] = _("(max - min) must be a whole number of steps.")
            elif self.max_points and round(points) + 1 > self.max_points:
                errors["step"] = _("At most %(n)s scale points.") % {"n": self.max_points}
        return errors

    def k(self, item) -> int | None:
        """Number of scale points, (max - min) / step + 1; None without a scale."""
        if not self.has_scale:
            return None
        return int(round((item.scale_max - item.scale_min) / item.step)) + 1


class BinaryRule(ScaleRule):
    """0 (not selected) and 1 (selected), nothing else: min 0, max 1, step 1, filled when empty."""

    def clean(self, item) -> dict[str, str]:
        item.scale_min = 0 if item.scale_min is None else item.scale_min
        item.scale_max = 1 if item.scale_max is None else item.scale_max
        item.step = 1 if item.step is None else item.step
        if (item.scale_min, item.scale_max, item.step) != (0, 1, 1):
            return {"scale_min": _("An option of a multiple-choice question is 0 (not selected) or 1 (selected): "
                                  "min 0, max 1, step 1.")}
        return {}


NO_SCALE = ScaleRule("none", has_scale=False)
BINARY = BinaryRule("binary", has_scale=True, max_points=2, listed=True)
CATEGORIES = ScaleRule("categories", has_scale=True, categories=True, listed=True)
RANGE = ScaleRule("range", has_scale=True)
OPEN_RANGE = ScaleRule("open range", has_scale=True, max_points=None)


# --- Exports ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportType:
    """How exports write a kind's answers: ``type`` is the codebook's type, "number" (float
    columns) or "string"; ``value_labels``: SPSS and Stata files carry the item's labels."""

    type: str
    value_labels: bool

    @property
    def numeric(self) -> bool:
        return self.type == "number"


NUMBER = ExportType("number", value_labels=True)
STRING = ExportType("string", value_labels=False)


# --- Participant page: fields, answers, partial context ----------------------------------------------


class AnswerInput:
    """How the participant page asks a kind. ``name`` is the form field's name; a kind may add
    more fields under that prefix (a slider's ``<name>_dk``)."""

    def add_fields(self, fields: dict, item, name: str, language: str) -> None:
        raise NotImplementedError

    def clean(self, form, item, name: str, cleaned: dict) -> None:
        """Checks across the kind's own fields (after the fields' own)."""

    def answer(self, item, name: str, cleaned: dict) -> Answer:
        raise NotImplementedError

    def quick(self, item, raw) -> Answer | None:
        """The answer of a posted value when it needs no form to check (one of the options
        shown, a text within the limit), else None: the form checks it and says what is wrong."""
        return None

    def context(self, item, name: str, bound, form) -> dict:
        """What the kind's partial needs beyond the common row (prompt, id, errors, value)."""
        return {}


def _missing_answer(raw) -> Answer | None:
    """The missing code a posted option or box stands for: "don't know", "prefer not to say", or
    nothing given (skipped; only optional items get that far)."""
    if raw == DONT_KNOW:
        return Answer(missing=MISSING_DONT_KNOW)
    if raw == PREFER_NOT:
        return Answer(missing=MISSING_PREFER_NOT)
    if raw in (None, ""):
        return Answer(missing=MISSING_SKIPPED)
    return None


def _option_values(item) -> frozenset[str]:
    values = getattr(item, "_option_values", None)
    if values is None:
        values = item._option_values = frozenset(point_label(v) for v in item.scale_values())
    return values


class OptionsInput(AnswerInput):
    """One radio button per scale point (labelled by the item's value labels), and "don't know"."""

    def add_fields(self, fields, item, name, language):
        labels = item.value_labels(language)
        choices = [(point_label(v), labels.get(point_label(v), "")) for v in item.scale_values()]
        if item.dont_know:
            choices.append((DONT_KNOW, _("Don't know")))
        if item.prefer_not_to_say:
            choices.append((PREFER_NOT, _("Prefer not to say")))
        fields[name] = forms.ChoiceField(
            choices=choices, widget=forms.RadioSelect, required=not item.is_optional,
            error_messages={"required": _("Please choose an answer."),
                            "invalid_choice": _("Please choose one of the options shown.")})

    def answer(self, item, name, cleaned):
        raw = cleaned.get(name)
        return _missing_answer(raw) or Answer(value=float(raw))

    def quick(self, item, raw):
        if raw == DONT_KNOW and item.dont_know:
            return Answer(missing=MISSING_DONT_KNOW)
        if raw == PREFER_NOT and item.prefer_not_to_say:
            return Answer(missing=MISSING_PREFER_NOT)
        if raw in _option_values(item):
            return Answer(value=float(raw))
        if raw is None and item.is_optional:
            return Answer(missing=MISSING_SKIPPED)
        return None

    def context(self, item, name, bound, form):
        selected = str(bound.value() or "")
        return {"options": [
            {"value": value, "text": text, "id": f"q-{item.code}-{value}", "checked": value == selected,
             "number": value if value not in (DONT_KNOW, PREFER_NOT) else "", "dk": value in (DONT_KNOW, PREFER_NOT)}
            for value, text in bound.field.choices
        ]}


class NumberInput(AnswerInput):
    """A number within min..max in steps, and a "don't know" box."""

    def add_fields(self, fields, item, name, language):
        off_scale = _("Please give a value from %(min)s to %(max)s in steps of %(step)s.") % {
            "min": point_label(item.scale_min), "max": point_label(item.scale_max), "step": point_label(item.step)}
        fields[name] = forms.FloatField(
            required=False, min_value=item.scale_min, max_value=item.scale_max, step_size=item.step,
            error_messages={"invalid": _("Please give a number."), "min_value": off_scale,
                            "max_value": off_scale, "step_size": off_scale})
        if item.dont_know:
            fields[name + "_dk"] = forms.BooleanField(required=False, label=_("Don't know"))
        if item.prefer_not_to_say:
            fields[name + "_pns"] = forms.BooleanField(required=False, label=_("Prefer not to say"))

    def clean(self, form, item, name, cleaned):
        if name not in cleaned:
            return
        boxes = [cleaned.get(name + "_dk"), cleaned.get(name + "_pns")]
        if cleaned[name] is None and not any(boxes):
            if item.is_optional:
                return
            if item.prefer_not_to_say:
                form.add_error(name, _("Please give a number, or tick one of the boxes."))
            elif item.dont_know:
                form.add_error(name, _("Please give a number, or tick \"don't know\"."))
            else:
                form.add_error(name, _("Please give a number."))
        elif (cleaned[name] is not None and any(boxes)) or all(boxes):
            form.add_error(name, _("Please either give a number or tick one box, not both.") if item.prefer_not_to_say
                           else _("Please either give a number or tick \"don't know\", not both."))

    def answer(self, item, name, cleaned):
        if cleaned.get(name + "_dk"):
            return Answer(missing=MISSING_DONT_KNOW)
        if cleaned.get(name + "_pns"):
            return Answer(missing=MISSING_PREFER_NOT)
        if cleaned.get(name) is None:
            return Answer(missing=MISSING_SKIPPED)
        return Answer(value=cleaned.get(name))

    def context(self, item, name, bound, form):
        labels = item.value_labels(form.language)
        return {"min": point_label(item.scale_min), "max": point_label(item.scale_max),
                "step": point_label(item.step),
                "min_label": labels.get(point_label(item.scale_min), ""),
                "max_label": labels.get(point_label(item.scale_max), ""),
                "dk_name": name + "_dk" if item.dont_know else "",
                "dk_checked": bool(form.is_bound and form.data.get(name + "_dk")),
                "pns_name": name + "_pns" if item.prefer_not_to_say else "",
                "pns_checked": bool(form.is_bound and form.data.get(name + "_pns")),
                "unit": item.unit_in(form.language), "optional": item.is_optional}


class CheckboxInput(AnswerInput):
    """One option of a multiple-choice question: a box, ticked = 1, left empty = 0. The question's
    own rules (at least one box when required; "none of these", "don't know" and "prefer not to
    say" exclusive, stored as a missing code on every option) are the group's: surveys/groups.py."""

    def add_fields(self, fields, item, name, language):
        fields[name] = forms.BooleanField(required=False, label=item.prompt_in(language))

    def answer(self, item, name, cleaned):
        return Answer(value=1.0 if cleaned.get(name) else 0.0)

    def context(self, item, name, bound, form):
        return {"checked": bool(form.is_bound and bound.value())}


class TextInput(AnswerInput):
    """An optional text of at most TEXT_MAX_LENGTH characters; empty is "skipped"."""

    def add_fields(self, fields, item, name, language):
        fields[name] = forms.CharField(
            required=False, max_length=TEXT_MAX_LENGTH, strip=True, widget=forms.Textarea,
            error_messages={"max_length": _("Please shorten your answer to at most %(limit_value)d "
                                            "characters (it has %(show_value)d).")})

    def answer(self, item, name, cleaned):
        raw = cleaned.get(name)
        return Answer(text=raw) if raw else Answer(missing=MISSING_SKIPPED)

    def quick(self, item, raw):
        if raw is not None and not isinstance(raw, str):
            return None
        text = (raw or "").strip()
        if len(text) > TEXT_MAX_LENGTH or "\x00" in text:
            return None
        return Answer(text=text) if text else Answer(missing=MISSING_SKIPPED)

    def context(self, item, name, bound, form):
        return {"maxlength": TEXT_MAX_LENGTH}


# --- The registry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemKind:
    #: Stored in ``Item.kind``; a contract (API, exports, codebooks): never changes.
    value: str
    label: str
    input: AnswerInput
    scale: ScaleRule
    #: Answers are numbers on the item's scale: checked against it, analysed by the indices.
    numeric: bool
    #: Answers are free texts, scored by the text indices.
    free_text: bool
    export: ExportType
    #: May be a grouping item (participants are grouped by its answer at baseline).
    grouping: bool = False
    #: Needs a value label for every scale point (the options have no numbers).
    labels_every_value: bool = False
    #: A rating scale shown as numbered points: the quality check flags a submission that gives
    #: every such attitude item the same point (straightlining).
    straightlining: bool = False
    #: Value labels every item of the kind has, whatever its own labels say (options: 0/1).
    fixed_labels: tuple[tuple[str, str], ...] = ()
    #: Asked only as part of a question group (surveys/groups.py), never alone.
    group_only: bool = False
    #: Enters the indices across items (pooled rows, constraint, alignment) as an attitude item.
    #: Options of a multiple-choice question do not: each is a 0/1 item of its own (docs/indices.md).
    pooled: bool = True

    @property
    def template(self) -> str:
        """The partial that draws the question."""
        return f"surveys/kinds/{self.value}.html"


KINDS: tuple[ItemKind, ...] = (
    ItemKind("likert", _("Likert scale"), OptionsInput(), CATEGORIES, numeric=True, free_text=False, export=NUMBER,
             straightlining=True),
    ItemKind("slider", _("slider"), NumberInput(), RANGE, numeric=True, free_text=False, export=NUMBER),
    ItemKind("choice", _("single choice"), OptionsInput(), CATEGORIES, numeric=True, free_text=False, export=NUMBER,
             grouping=True, labels_every_value=True),
    ItemKind("text", _("free text"), TextInput(), NO_SCALE, numeric=False, free_text=True, export=STRING),
    # A typed-in number within min..max in steps (age, hours, euros); any number of points.
    ItemKind("number", _("numeric entry"), NumberInput(), OPEN_RANGE, numeric=True, free_text=False,
             export=NUMBER),
    # One option of a multiple-choice question ("select all that apply"): a binary 0/1 item.
    ItemKind("option", _("option (select all that apply)"), CheckboxInput(), BINARY, numeric=True,
             free_text=False, export=NUMBER, fixed_labels=(("0", "not selected"), ("1", "selected")),
             group_only=True, pooled=False),
)

BY_VALUE: dict[str, ItemKind] = {kind.value: kind for kind in KINDS}


def kind_of(item_or_value) -> ItemKind:
    """The registry entry of an item (or of a kind's value); ValueError for an unknown kind."""
    value = getattr(item_or_value, "kind", item_or_value)
    try:
        return BY_VALUE[value]
    except KeyError:
        raise ValueError(f"unknown item kind {value!r}; known: {', '.join(BY_VALUE)}") from None


def values(**fields) -> list[str]:
    """The values of the kinds whose fields equal the given ones, in registry order:
    ``values(numeric=True)``, ``values(scale=NO_SCALE)``."""
    return [kind.value for kind in KINDS if all(getattr(kind, k) == v for k, v in fields.items())]


def choices() -> list[tuple[str, tuple[str, str]]]:
    """``Item.Kind``'s members: LIKERT = ("likert", "Likert scale"), ..."""
    return [(kind.value.upper(), (kind.value, kind.label)) for kind in KINDS]
