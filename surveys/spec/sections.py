"""The sections of a study specification: one registry entry per top-level key.

A section says, for its key,
- its JSON Schema fragment (``schema``; the whole schema is assembled from the registry in
  ``surveys/spec/schema.py``),
- how a study is written out (``export(study) -> value``),
- the checks the schema cannot express (``check(spec, problems)``: references between sections,
  rules of the item kinds), reported with their path in the file,
- how a value is laid into the database (``apply(ctx, value)``), creating, updating and deleting
  rows so that the study then exports the same value back,
- what would invalidate collected data (``refuse(ctx, value) -> [reason]``).

A later part of a study (an analysis plan, enrolment rules, page logic) joins with one
``register(Section(...))`` and its own module; the schema, the validator, export, import, the
diff and the design change log read the registry. Item kinds come from ``surveys/kinds.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.conf import settings
from django.template import Template, TemplateSyntaxError

from surveys import groups, kinds, logic
from surveys.models import (
    Arm,
    ConsentVersion,
    Intervention,
    Item,
    MessageTemplate,
    Study,
    Wave,
)
from surveys.models.base import ITEM_CODE_RE

# --- Problems and the apply context ---------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, at a path in the file: ``waves[2].items[0]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Problems(list):
    def add(self, path: str, message: str) -> None:
        self.append(Problem(path, message))


@dataclass
class ApplyContext:
    """What the sections share while a spec is laid into the database."""

    study: Study
    spec: dict
    #: When offsets (``opens_after_days``) count from: the launch, or the day the design is imported.
    anchor: dt.datetime
    items: dict[str, Item] = field(default_factory=dict)
    arms: dict[str, Arm] = field(default_factory=dict)
    waves: dict[int, Wave] = field(default_factory=dict)
    #: A matrix's or multiple-choice question's code -> its items' codes, in order.
    groups: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    schema: dict
    export: Callable[[Study], object]
    apply: Callable[[ApplyContext, object], None]
    check: Callable[[dict, Problems], None] = lambda spec, problems: None
    refuse: Callable[[ApplyContext, object], list[str]] = lambda ctx, value: []
    required: bool = False


SECTIONS: list[Section] = []


def register(section: Section) -> Section:
    """Add a section (once per key); its order in the file is the order of registration."""
    if any(s.key == section.key for s in SECTIONS):
        raise ValueError(f"a spec section {section.key!r} is registered already")
    SECTIONS.append(section)
    return section


# --- Schema pieces --------------------------------------------------------------------------------

LANGUAGE_CODE = {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]+)?$"}
TEXTS = {
    "type": "object", "description": "A text per language: {en: ..., de: ...}.",
    "propertyNames": LANGUAGE_CODE, "additionalProperties": {"type": "string", "minLength": 1},
    "minProperties": 1,
}
OPTIONAL_TEXTS = {**TEXTS, "minProperties": 0}
URL = {"type": "string", "maxLength": 500, "pattern": "^(https?://\\S+)?$"}
DATETIME = {"type": "string", "description": "ISO 8601 date and time, e.g. 2026-03-01T09:00:00Z",
            "pattern": "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$"}
DAYS = {"type": "number", "minimum": 0, "maximum": 3650,
        "description": "Days after the launch (or after the import, for a study not yet launched)."}


def _obj(properties: dict, required: tuple[str, ...] = (), description: str = "") -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _list(items: dict, description: str = "") -> dict:
    schema = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


def _number(value: float | None):
    """3.0 -> 3, 0.5 -> 0.5: the spec writes whole numbers without a decimal point."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _texts_in(study_languages: list[str], texts, path: str, problems: Problems, *, required: bool = True) -> None:
    """A translated text offers only the study's languages and, when required, the default one."""
    if not isinstance(texts, dict) or not study_languages:
        return
    for lang in texts:
        if lang not in study_languages:
            problems.add(f"{path}.{lang}", f'language "{lang}" is not among the study\'s languages '
                                           f'({", ".join(study_languages)})')
    if required and texts and study_languages[0] not in texts:
        problems.add(path, f'needs a text in the default language "{study_languages[0]}"')


def _languages(spec: dict) -> list[str]:
    study = spec.get("study") if isinstance(spec.get("study"), dict) else {}
    languages = study.get("languages")
    return [lang for lang in languages if isinstance(lang, str)] if isinstance(languages, list) else []


def _listed(spec: dict, key: str) -> list[tuple[int, dict]]:
    value = spec.get(key)
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _duplicates(spec: dict, key: str, name: str, problems: Problems, label: str) -> None:
    seen: set = set()
    for i, row in _listed(spec, key):
        value = row.get(name)
        if value in seen:
            problems.add(f"{key}[{i}].{name}", f'{label} "{value}" appears twice')
        seen.add(value)


def _sync(existing: dict, wanted: dict, *, create: Callable, update: Callable) -> dict:
    """Rows keyed alike: update those in both, create the new ones, delete the rest."""
    result = {}
    for key, value in wanted.items():
        row = existing.get(key)
        result[key] = update(row, value) if row is not None else create(key, value)
    for key, row in existing.items():
        if key not in wanted:
            row.delete()
    return result


def _drop_previews(study: Study, **lookup) -> None:
    """Researchers' test runs that would keep a removed row alive (their answers too)."""
    if any(not v for v in lookup.values()):
        return
    from surveys.models import Response

    previews = study.participants.filter(is_preview=True, **lookup)
    Response.objects.filter(submission__participant__in=previews).delete()
    previews.delete()


def _full_clean(obj, exclude: tuple[str, ...] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


# --- study ----------------------------------------------------------------------------------------

STUDY_SCHEMA = _obj({
    "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,64}$", "description": "Used in URLs."},
    "title": TEXTS,
    "description": OPTIONAL_TEXTS,
    "languages": {"type": "array", "items": LANGUAGE_CODE, "minItems": 1, "uniqueItems": True,
                  "description": "The languages the study offers, the default first."},
    "primary_outcome": {"type": "string", "maxLength": 64,
                        "description": "The pre-registered primary outcome (an index name)."},
    "design": {"enum": [value for value, _label in Study.Design.choices],
               "description": "panel (the same people in every wave; the default) or cross_section (repeated "
                              "cross-sections: each wave is a period with new respondents, docs/cross-sections.md)."},
    "weight_kind": {"enum": [value for value, _label in Study.WeightKind.choices if value],
                    "description": "What participants' weights are: frequency (whole numbers of identical "
                                   "respondents) or sampling (inverse selection probabilities); absent: unweighted."},
}, required=("slug", "title", "languages"), description="Who the study is: slug, titles, languages, design.")


def _texts_of(study: Study, name: str) -> dict:
    stored = getattr(study, f"{name}_i18n") or {}
    if stored:
        return dict(stored)
    text = getattr(study, name)
    return {study.default_language: text} if text else {}


def export_study(study: Study) -> dict:
    value = {"slug": study.slug, "title": _texts_of(study, "title"), "description": _texts_of(study, "description"),
             "languages": list(study.languages)}
    if study.primary_outcome:
        value["primary_outcome"] = study.primary_outcome
    if study.design != Study.Design.PANEL:
        value["design"] = study.design
    if study.weight_kind:
        value["weight_kind"] = study.weight_kind
    return value


def check_study(spec: dict, problems: Problems) -> None:
    study = spec.get("study")
    if not isinstance(study, dict):
        return
    valid = [code for code, _name in settings.LANGUAGES]
    for i, lang in enumerate(_languages(spec)):
        if lang not in valid:
            problems.add(f"study.languages[{i}]", f'unsupported language "{lang}"; supported: {", ".join(valid)}')
    _texts_in(_languages(spec), study.get("title"), "study.title", problems)
    _texts_in(_languages(spec), study.get("description"), "study.description", problems, required=False)


def apply_study(ctx: ApplyContext, value: dict) -> None:
    study = ctx.study
    study.languages = list(value["languages"])
    default = study.languages[0]
    study.title_i18n = dict(value["title"])
    study.title = value["title"].get(default) or next(iter(value["title"].values()))
    study.description_i18n = dict(value.get("description") or {})
    study.description = study.description_i18n.get(default, "")
    study.primary_outcome = value.get("primary_outcome", "")
    study.design = value.get("design", Study.Design.PANEL)
    study.weight_kind = value.get("weight_kind", Study.WeightKind.NONE)


def refuse_study(ctx: ApplyContext, value: dict) -> list[str]:
    """A study's design and weights are what its answers mean: fixed once someone answered."""
    study = ctx.study
    if study.pk is None or not study.participants.filter(is_preview=False).exists():
        return []
    return [f"study.{name}: cannot change from {getattr(study, name) or 'none'!r} to {wanted or 'none'!r}: "
            f"the study has participants"
            for name, wanted in (("design", value.get("design", Study.Design.PANEL)),
                                 ("weight_kind", value.get("weight_kind", Study.WeightKind.NONE)))
            if getattr(study, name) != wanted]


# --- consent --------------------------------------------------------------------------------------

CONSENT_SCHEMA = _list(_obj({"version": {"type": "integer", "minimum": 1, "maximum": 10000}, "text": TEXTS},
                            required=("version", "text")),
                       "Consent texts; a participant's consent records its version. Never change a "
                       "version someone consented to: add the next one.")


def export_consent(study: Study) -> list:
    return [{"version": c.version, "text": dict(c.text)} for c in study.consent_versions.order_by("version")]


def check_consent(spec: dict, problems: Problems) -> None:
    _duplicates(spec, "consent", "version", problems, "consent version")
    for i, row in _listed(spec, "consent"):
        _texts_in(_languages(spec), row.get("text"), f"consent[{i}].text", problems)


def apply_consent(ctx: ApplyContext, value: list) -> None:
    def create(version, text):
        return ConsentVersion.objects.create(study=ctx.study, version=version, text=text)

    def update(row, text):
        if row.text != text:
            row.text = text
            row.save(update_fields=["text"])
        return row

    existing = {c.version: c for c in ctx.study.consent_versions.all()}
    _drop_previews(ctx.study, consent_version__in=[c for v, c in existing.items()
                                                   if v not in {row["version"] for row in value}])
    _sync(existing, {row["version"]: dict(row["text"]) for row in value}, create=create, update=update)


def refuse_consent(ctx: ApplyContext, value: list) -> list[str]:
    wanted = {row["version"]: row["text"] for row in value}
    reasons = []
    for consent in ctx.study.consent_versions.all():
        given = consent.participants.filter(is_preview=False).count()
        if not given:
            continue
        if consent.version not in wanted:
            reasons.append(f"consent: version {consent.version} cannot be removed: {given} participant(s) "
                           f"consented to it")
        elif wanted[consent.version] != consent.text:
            reasons.append(f"consent[{list(wanted).index(consent.version)}].text: the text of version "
                           f"{consent.version} cannot change: {given} participant(s) consented to it; "
                           f"add version {consent.version + 1} instead")
    return reasons


# --- arms -----------------------------------------------------------------------------------------

ARMS_SCHEMA = _list(_obj({
    "name": {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,64}$", "description": "Used in group keys arm:<name>."},
    "weight": {"type": "integer", "minimum": 1, "maximum": 1000000, "description": "Relative share of participants."},
    "control": {"type": "boolean"},
}, required=("name",)), "Arms and their allocation weights; at most one control arm.")


def export_arms(study: Study) -> list:
    return [{"name": a.name, "weight": a.allocation_weight, "control": a.is_control}
            for a in study.arms.order_by("-is_control", "name")]


def check_arms(spec: dict, problems: Problems) -> None:
    _duplicates(spec, "arms", "name", problems, "arm")
    controls = [i for i, row in _listed(spec, "arms") if row.get("control")]
    for i in controls[1:]:
        problems.add(f"arms[{i}].control", "only one arm may be the control arm")


def apply_arms(ctx: ApplyContext, value: list) -> None:
    def fields(row):
        return {"allocation_weight": row.get("weight", 1), "is_control": bool(row.get("control", False))}

    def create(name, row):
        return Arm.objects.create(study=ctx.study, name=name, **fields(row))

    def update(arm, row):
        changed = {k: v for k, v in fields(row).items() if getattr(arm, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(arm, k, v)
            arm.save(update_fields=list(changed))
        return arm

    existing = {a.name: a for a in ctx.study.arms.all()}
    wanted = {row["name"]: row for row in value}
    _drop_previews(ctx.study, arm__in=[a for n, a in existing.items() if n not in wanted])
    # The control flag moves between arms: clear it first (one control arm per study, a constraint).
    Arm.objects.filter(study=ctx.study, is_control=True).exclude(
        name__in=[n for n, row in wanted.items() if row.get("control")]).update(is_control=False)
    ctx.arms = _sync(existing, wanted, create=create, update=update)


def refuse_arms(ctx: ApplyContext, value: list) -> list[str]:
    wanted = {row["name"] for row in value}
    reasons = []
    for arm in ctx.study.arms.exclude(name__in=wanted):
        assigned = arm.participants.filter(is_preview=False).count()
        if assigned:
            reasons.append(f'arms: arm "{arm.name}" cannot be removed: {assigned} participant(s) are assigned to it')
    return reasons


# --- items ----------------------------------------------------------------------------------------


def _item_schema() -> dict:
    return _list(_obj({
        "code": {"type": "string", "pattern": ITEM_CODE_RE.pattern, "description": "Variable name in exports "
                 "(of a matrix or multiple-choice question: the group's name; each statement or option has its own)."},
        "kind": {"enum": kinds.values(group_only=False) + list(groups.BY_VALUE), "description": "One of the "
                 "platform's item kinds (surveys/kinds.py), or a group of items (surveys/groups.py): matrix "
                 "(statements sharing one Likert scale) or multiple (select all that apply: one 0/1 item per option)."},
        "role": {"enum": [r.value for r in Item.Role], "description": "attitude (every wave), grouping "
                 "(once, at baseline) or attention (a check with an expected answer)."},
        "prompt": TEXTS,
        "scale": _obj({"min": {"type": "number"}, "max": {"type": "number"}, "step": {"type": "number",
                                                                                     "exclusiveMinimum": 0}},
                      required=("max",), description="Likert and choice: min 1, step 1, max = k. "
                      "Sliders: any min < max and a step that divides the range. Free text: none."),
        "labels": {"type": "object", "propertyNames": LANGUAGE_CODE,
                   "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
                   "description": "Value labels per language: {en: {'1': Strongly disagree, '7': Strongly agree}}."},
        "dont_know": {"type": "boolean", "description": "Offer \"don't know\" (stored as a missing code)."},
        "reverse_coded": {"type": "boolean", "description": "Higher values mean less of the construct."},
        "required": {"type": "boolean", "description": "false: the question may be left unanswered (stored as "
                     "skipped). Free text is always optional; other kinds are required unless false."},
        "prefer_not_to_say": {"type": "boolean", "description": "Offer \"prefer not to say\" (stored as a "
                              "missing code, never a scale value)."},
        "unit": {**TEXTS, "description": "Numeric entry: the unit per language, e.g. {en: years}."},
        "show_if": {"type": "object", "description": "Display logic: shown only when this condition on answers "
                    "so far (baseline, earlier waves, earlier pages of the same wave: pages.order) holds: {item, op, value} with op one of == != < <= > >= "
                    "in, or {all: [...]}, {any: [...]}, {not: ...}. Hidden questions are stored as not_shown."},
        "attention_answer": {"type": "number", "description": "Attention checks: the expected answer."},
        "statements": _list(_obj({
            "code": {"type": "string", "pattern": ITEM_CODE_RE.pattern, "description": "Variable name in exports."},
            "prompt": TEXTS,
            "reverse_coded": {"type": "boolean", "description": "Higher values mean less of the construct."},
        }, required=("code", "prompt")), "matrix: the statements, each its own Likert item on the shared scale."),
        "options": _list(_obj({
            "code": {"type": "string", "pattern": ITEM_CODE_RE.pattern, "description": "Variable name in exports."},
            "label": TEXTS,
        }, required=("code", "label")), "multiple: the options, each its own item: 0 = not selected, 1 = selected."),
        "none_option": {"type": "boolean", "description": "multiple: offer an exclusive \"None of these\" (stored "
                        "as 0 on every option)."},
    }, required=("code", "kind", "prompt")), "The questions, in the order participants see them.")


def _member_row(group: dict, member: dict, kind: groups.GroupKind) -> dict:
    """A statement or option of a group entry as a plain item row."""
    row = {key: value for key, value in group.items() if key not in ("statements", "options", "none_option")}
    row.update({"code": member.get("code"), "kind": kind.member_kind, "group": group.get("code"),
                "stem": group.get("prompt")})
    if kind.value == "multiple":
        row.update({"prompt": member.get("label"), "scale": {"min": 0, "max": 1, "step": 1},
                    "none_option": bool(group.get("none_option", False))})
    else:
        row.update({"prompt": member.get("prompt"), "reverse_coded": bool(member.get("reverse_coded", False))})
    return row


def flat_items(value) -> list[tuple[int, dict]]:
    """Every item of the spec's `items` as (index of its entry, plain item row): a matrix's
    statements and a multiple-choice question's options become items of their own."""
    rows = []
    for i, row in enumerate(value if isinstance(value, list) else []):
        if not isinstance(row, dict):
            continue
        kind = groups.BY_VALUE.get(row.get("kind"))
        if kind is None:
            rows.append((i, row))
            continue
        members = row.get(kind.members_key)
        for member in members if isinstance(members, list) else []:
            if isinstance(member, dict):
                rows.append((i, _member_row(row, member, kind)))
    return rows


def group_members(value) -> dict[str, list[str]]:
    """A group entry's code -> its items' codes."""
    result: dict[str, list[str]] = {}
    for _i, row in flat_items(value):
        if row.get("group"):
            result.setdefault(row["group"], []).append(row.get("code"))
    return result


def _group_entry(members: list[dict]) -> dict:
    """Consecutive exported rows of one group as the group's entry."""
    first = members[0]
    kind = groups.MEMBER_KINDS[first["kind"]]
    entry = {"code": first["group"], "kind": kind.value, "role": first["role"], "prompt": first["stem"]}
    for key in ("scale", "labels") if kind.value == "matrix" else ():
        if key in first:
            entry[key] = first[key]
    entry.update({"dont_know": first["dont_know"], "required": first["required"]})
    for key in ("prefer_not_to_say", "show_if"):
        if key in first:
            entry[key] = first[key]
    if kind.value == "multiple":
        if first["none_option"]:
            entry["none_option"] = True
        entry["options"] = [{"code": m["code"], "label": m["prompt"]} for m in members]
    else:
        entry["statements"] = [{"code": m["code"], "prompt": m["prompt"], **({"reverse_coded": True}
                                if m["reverse_coded"] else {})} for m in members]
    return entry


def export_items(study: Study) -> list:
    rows = []
    for item in study.items.order_by("order", "id"):
        kind = kinds.kind_of(item)
        row = {"code": item.code, "kind": item.kind, "role": item.role, "prompt": dict(item.prompt)}
        if kind.scale.has_scale:
            row["scale"] = {"min": _number(item.scale_min), "max": _number(item.scale_max), "step": _number(item.step)}
        if item.labels:
            row["labels"] = {lang: dict(labels) for lang, labels in item.labels.items()}
        row.update({"dont_know": item.dont_know, "reverse_coded": item.reverse_coded,
                    "required": not item.is_optional})
        if item.prefer_not_to_say:
            row["prefer_not_to_say"] = True
        if item.unit:
            row["unit"] = dict(item.unit)
        if item.show_if:
            row["show_if"] = logic.canonical(item.show_if)
        if item.expected_answer is not None:
            row["attention_answer"] = _number(item.expected_answer)
        if item.group:
            row.update({"group": item.group, "stem": dict(item.stem), "none_option": item.none_option})
        rows.append(row)
    # A group's items (consecutive in the study's order) are written as the group's one entry.
    result: list = []
    for row in rows:
        if "group" not in row:
            result.append(row)
        elif result and isinstance(result[-1], list) and result[-1][0]["group"] == row["group"]:
            result[-1].append(row)
        else:
            result.append([row])
    return [_group_entry(row) if isinstance(row, list) else row for row in result]


def _scaled(row: dict) -> SimpleNamespace:
    scale = row.get("scale") if isinstance(row.get("scale"), dict) else {}
    return SimpleNamespace(scale_min=scale.get("min"), scale_max=scale.get("max"), step=scale.get("step"))


def _logic_points(spec: dict) -> dict:
    """Each item code's scale points (None: free text or an open range), as conditions compare; a
    matrix's statements and a multiple-choice question's options are items of their own."""
    points = {}
    for _i, row in flat_items(spec.get("items")):
        kind = kinds.BY_VALUE.get(row.get("kind"))
        scaled = _scaled(row)
        if kind is not None and kind.scale.categories and scaled.scale_max:
            points[row.get("code")] = {float(v) for v in range(1, int(scaled.scale_max) + 1)}
        elif kind is not None and kind.scale.listed and not kind.scale.clean(scaled):
            points[row.get("code")] = {scaled.scale_min + j * scaled.step for j in range(kind.scale.k(scaled))}
        else:
            points[row.get("code")] = None
    return points


def _check_logic(spec: dict, problems: Problems) -> None:
    """Display conditions: known items, possible comparisons, no cycles (surveys/logic.py)."""
    rows = flat_items(spec.get("items"))
    points = _logic_points(spec)
    conditions = {}
    seen = set()  # a group's condition is every member's: said once
    for i, row in rows:
        if "show_if" not in row:
            continue
        if row.get("role") == "grouping":
            problems.add(f"items[{i}].show_if", "grouping items are always shown (they decide the stratum)")
            continue
        conditions[row.get("code")] = row["show_if"]
        for path, message in logic.check(row["show_if"], code=row.get("code"), points=points,
                                         path=f"items[{i}].show_if"):
            if (path, message) not in seen:
                seen.add((path, message))
                problems.add(path, message)
    for cycle in logic.cycles(conditions):
        problems.add("items", "display conditions form a cycle: " + " -> ".join(cycle))


def _check_group(row: dict, path: str, languages: list[str], problems: Problems) -> dict | None:
    """A matrix or multiple-choice entry's own rules; the plain row its shared fields are checked as."""
    kind = groups.BY_VALUE[row["kind"]]
    other = next(g for g in groups.GROUP_KINDS if g is not kind)
    members = row.get(kind.members_key)
    if not isinstance(members, list) or not members:
        problems.add(path, f"a {kind.value} question needs its {kind.members_key} (at least one)")
        return None
    for key in (other.members_key, "unit", "attention_answer", "reverse_coded") + (
            ("scale", "labels") if kind.value == "multiple" else ("none_option",)):
        if key in row:
            problems.add(f"{path}.{key}", f"a {kind.value} question has no {key}"
                         + (" (say it per statement)" if key == "reverse_coded" and kind.value == "matrix" else ""))
    if row.get("role", "attitude") != "attitude":
        problems.add(f"{path}.role", f"a {kind.value} question's items are attitude items")
    text_key = "label" if kind.value == "multiple" else "prompt"
    for j, member in enumerate(members):
        if isinstance(member, dict):
            _texts_in(languages, member.get(text_key), f"{path}.{kind.members_key}[{j}].{text_key}", problems)
    shared = _member_row(row, members[0] if isinstance(members[0], dict) else {}, kind)
    shared["prompt"] = row.get("prompt")
    return shared


def check_items(spec: dict, problems: Problems) -> None:
    seen: set = set()
    for i, row in _listed(spec, "items"):
        kind = groups.BY_VALUE.get(row.get("kind"))
        members = row.get(kind.members_key) if kind else None
        named = [(f"items[{i}].code", row.get("code"))] + [
            (f"items[{i}].{kind.members_key}[{j}].code", m.get("code"))
            for j, m in enumerate(members if isinstance(members, list) else []) if isinstance(m, dict)]
        for path, code in named:
            if code in seen:
                problems.add(path, f'item code "{code}" appears twice')
            seen.add(code)
    _check_logic(spec, problems)
    languages = _languages(spec)
    for i, row in _listed(spec, "items"):
        path = f"items[{i}]"
        if row.get("kind") in groups.BY_VALUE:
            row = _check_group(row, path, languages, problems)
            if row is None:
                continue
        else:
            for key in ("statements", "options", "none_option"):
                if key in row:
                    problems.add(f"{path}.{key}", f"only matrix and multiple questions have {key}")
            if kinds.BY_VALUE.get(row.get("kind")) is not None and kinds.BY_VALUE[row["kind"]].group_only:
                problems.add(f"{path}.kind", "options belong to a multiple-choice question (kind: multiple)")
                continue
        kind = kinds.BY_VALUE.get(row.get("kind"))
        _texts_in(languages, row.get("prompt"), f"{path}.prompt", problems)
        labels = row.get("labels") if isinstance(row.get("labels"), dict) else {}
        for lang in labels:
            if languages and lang not in languages:
                problems.add(f"{path}.labels.{lang}", f'language "{lang}" is not among the study\'s languages')
        if kind is None:
            continue
        scaled = _scaled(row)
        if kind.scale.has_scale and "scale" not in row:
            problems.add(path, f'a {kind.value} item needs a scale: {{min, max, step}}')
            continue
        if not kind.scale.has_scale and "scale" in row:
            problems.add(f"{path}.scale", "free-text items have no scale")
            continue
        errors = kind.scale.clean(scaled)
        for message in errors.values():
            problems.add(f"{path}.scale", str(message))
        role = row.get("role", "attitude")
        if role == "grouping" and not kind.grouping:
            problems.add(f"{path}.role", f"a grouping item must be one of: {', '.join(kinds.values(grouping=True))}")
        if row.get("required") is True and kind.free_text:
            problems.add(f"{path}.required", "free-text items are optional (an empty answer is stored as skipped)")
        if row.get("required") is False and role == "grouping":
            problems.add(f"{path}.required", "grouping items are always required (they decide the stratum)")
        if "unit" in row:
            _texts_in(languages, row.get("unit"), f"{path}.unit", problems, required=False)
            if kind.value != "number":
                problems.add(f"{path}.unit", "only numeric entry items have a unit")
        answer = row.get("attention_answer")
        if role == "attention" and answer is None:
            problems.add(path, "an attention check needs its attention_answer")
        if errors or not kind.scale.has_scale:
            if labels and not kind.scale.has_scale:
                problems.add(f"{path}.labels", "free-text items have no value labels")
            continue
        points = {kinds.point_label(scaled.scale_min + j * scaled.step) for j in range(kind.scale.k(scaled))}
        if answer is not None and kinds.point_label(answer) not in points:
            problems.add(f"{path}.attention_answer", f"{kinds.point_label(answer)} is not a point of the scale")
        for lang, lang_labels in labels.items():
            unknown = sorted(set(lang_labels) - points, key=str)
            if unknown:
                problems.add(f"{path}.labels.{lang}", f"{', '.join(unknown)} not on the scale "
                             f"({kinds.point_label(scaled.scale_min)} to {kinds.point_label(scaled.scale_max)})")
            elif kind.labels_every_value and set(lang_labels) != points:
                missing = sorted(points - set(lang_labels), key=float)
                problems.add(f"{path}.labels.{lang}", f"{kind.value} items need a label for every value; "
                             f"missing: {', '.join(missing)}")
        if kind.labels_every_value and not labels:
            problems.add(f"{path}.labels", f"{kind.value} items need a label for every value")


def _item_fields(row: dict, order: int) -> dict:
    kind = kinds.kind_of(row["kind"])
    scaled = _scaled(row)
    if kind.scale.categories:
        scaled.scale_min = 1 if scaled.scale_min is None else scaled.scale_min
        scaled.step = 1 if scaled.step is None else scaled.step
    return {"prompt": dict(row["prompt"]), "kind": row["kind"], "role": row.get("role", "attitude"),
            "scale_min": None if scaled.scale_min is None else float(scaled.scale_min),
            "scale_max": None if scaled.scale_max is None else float(scaled.scale_max),
            "step": None if scaled.step is None else float(scaled.step),
            "labels": {lang: dict(v) for lang, v in (row.get("labels") or {}).items()},
            "dont_know": bool(row.get("dont_know", False)), "reverse_coded": bool(row.get("reverse_coded", False)),
            "prefer_not_to_say": bool(row.get("prefer_not_to_say", False)),
            "optional": row.get("required") is False and not kind.free_text, "unit": dict(row.get("unit") or {}),
            "show_if": row.get("show_if") or {},
            "expected_answer": None if row.get("attention_answer") is None else float(row["attention_answer"]),
            "group": row.get("group", ""), "stem": dict(row.get("stem") or {}),
            "none_option": bool(row.get("none_option", False)), "order": order}


def apply_items(ctx: ApplyContext, value: list) -> None:
    def create(code, fields):
        item = Item(study=ctx.study, code=code, **fields)
        item.checked_by_spec = True  # its condition was checked against the whole file
        _full_clean(item, exclude=("study",))
        item.save()
        return item

    def update(item, fields):
        changed = [k for k, v in fields.items() if getattr(item, k) != v]
        if changed:
            for k in changed:
                setattr(item, k, fields[k])
            item.checked_by_spec = True
            _full_clean(item, exclude=("study",))
            item.save(update_fields=changed)
        return item

    existing = {i.code: i for i in ctx.study.items.all()}
    wanted = {row["code"]: _item_fields(row, order) for order, (_i, row) in enumerate(flat_items(value), start=1)}
    ctx.groups = group_members(value)
    removed = [i for c, i in existing.items() if c not in wanted]
    if removed:
        from surveys.models import Response

        Response.objects.filter(item__in=removed, submission__participant__is_preview=True).delete()
    ctx.items = _sync(existing, wanted, create=create, update=update)


def answer_count(item: Item) -> int:
    """Answers to `item` outside previews; a grouping item's answers are kept on the participants."""
    if item.role == Item.Role.GROUPING:
        return item.study.participants.filter(is_preview=False, groups__has_key=item.code).count()
    return item.responses.filter(submission__participant__is_preview=False).count()


def refuse_items(ctx: ApplyContext, value: list) -> list[str]:
    wanted = {row["code"]: (i, _item_fields(row, 0)) for i, row in flat_items(value)}
    reasons = []
    for item in ctx.study.items.all():
        answers = answer_count(item)
        if not answers:
            continue
        if item.code not in wanted:
            reasons.append(f'items: item "{item.code}" cannot be removed: it has {answers} answer(s)')
            continue
        i, fields = wanted[item.code]
        frozen = [f for f in Item.SCALE_FIELDS if getattr(item, f) != fields[f]]
        if frozen:
            reasons.append(f'items[{i}]: the scale of "{item.code}" cannot change ({", ".join(frozen)}): it has '
                           f"{answers} answer(s); add a new item instead")
    return reasons


# --- pages ----------------------------------------------------------------------------------------

CONDITION = {"type": "object", "description": "Display logic: {item, op, value} with op one of == != < <= > >= in, "
             "or {all: [...]}, {any: [...]}, {not: ...} (docs/display-logic.md)."}
PAGE_SCHEMA = _obj({
    "name": {"type": "string", "pattern": ITEM_CODE_RE.pattern, "description": "The page's name (unique)."},
    "items": {"type": "array", "items": {"type": "string"}, "minItems": 1,
              "description": "Codes of the items on this page, in the order shown; a wave shows those it asks."},
    "shuffle": {"type": "boolean", "description": "Show this page's items in each participant's own random order."},
    "show_if": {**CONDITION, "description": "Page logic: the whole page is skipped (its items stored as not_shown) "
                "unless this condition on answers so far holds: baseline, earlier waves, earlier pages."},
}, required=("name", "items"))
PAGES_SCHEMA = _obj({
    "items_per_page": {"type": "integer", "minimum": 1, "maximum": 100},
    "order": _list(PAGE_SCHEMA, "Pages in the order participants see them. A wave shows the listed pages that "
                   "hold any of its items, then its other items in each participant's own random order, "
                   "items_per_page at a time. Conditions may read items on earlier pages of the same wave."),
}, description="How the items are paged.")


def _page_row(page: dict) -> dict:
    row = {"name": page["name"], "items": list(page["items"])}
    if page.get("shuffle"):
        row["shuffle"] = True
    if page.get("show_if"):
        row["show_if"] = logic.canonical(page["show_if"])
    return row


def export_pages(study: Study) -> dict:
    value = {"items_per_page": study.items_per_page}
    if study.page_order:
        value["order"] = [_page_row(page) for page in study.page_order]
    return value


def _consecutive(codes: list[str], listed: list[str]) -> bool:
    """Whether `codes` appear in `listed` together and in their order."""
    n = len(codes)
    return any(listed[k:k + n] == codes for k in range(len(listed) - n + 1))


def check_pages(spec: dict, problems: Problems) -> None:
    """Listed pages name known wave items once each; every condition (of an item or a page) reads
    only what is known when it is shown: nothing on the same or a later page of the same wave."""
    pages = spec.get("pages") if isinstance(spec.get("pages"), dict) else {}
    order = [p for p in pages.get("order") or [] if isinstance(p, dict)] if isinstance(pages.get("order"), list) else []
    items = {row.get("code"): row for _i, row in flat_items(spec.get("items"))}
    points = _logic_points(spec)
    members = group_members(spec.get("items"))
    seen_names, placed = set(), {}
    for i, page in enumerate(order):
        path = f"pages.order[{i}]"
        if page.get("name") in seen_names:
            problems.add(f"{path}.name", f'page "{page.get("name")}" appears twice')
        seen_names.add(page.get("name"))
        for j, code in enumerate(page.get("items") or []):
            if code not in items:
                problems.add(f"{path}.items[{j}]", f'unknown item code "{code}"')
            elif items[code].get("role") == "grouping":
                problems.add(f"{path}.items[{j}]", f'"{code}" is a grouping item, asked once at baseline, not on a page')
            elif code in placed:
                problems.add(f"{path}.items[{j}]", f'"{code}" is on page "{placed[code]}" already')
            else:
                placed[code] = page.get("name")
        listed = [c for c in page.get("items") or [] if isinstance(c, str)]
        for group, codes in members.items():
            if set(codes) & set(listed) and not _consecutive(codes, listed):
                problems.add(f"{path}.items", f'"{group}" is one question: list all its items ({", ".join(codes)}) '
                             "together, in that order, on one page")
        if "show_if" in page:
            for where, message in logic.check(page["show_if"], code="", points=points, path=f"{path}.show_if"):
                problems.add(where, message)
    if any(p.path.startswith("pages.") for p in problems):
        return
    item_paths = {row.get("code"): f"items[{i}].show_if" for i, row in flat_items(spec.get("items"))
                  if "show_if" in row}
    for _w, wave in _listed(spec, "waves"):
        asked = [c for c in wave.get("items") or [] if c in items]
        places = logic.positions(order, asked)
        for code in asked:
            if code in item_paths:
                for message in logic.order_problems(items[code]["show_if"], wave=wave.get("number"), asked=asked,
                                                    places=places, own=places.get(code), code=code):
                    problems.add(item_paths[code], message)
        number = 0
        for i, page in enumerate(order):
            if not set(page.get("items") or []) & set(asked):
                continue
            if page.get("show_if"):
                for message in logic.order_problems(page["show_if"], wave=wave.get("number"), asked=asked,
                                                    places=places, own=number):
                    problems.add(f"pages.order[{i}].show_if", message)
            number += 1


def apply_pages(ctx: ApplyContext, value: dict) -> None:
    ctx.study.items_per_page = value.get("items_per_page", 5)
    ctx.study.page_order = [_page_row(page) for page in value.get("order") or []]


# --- waves ----------------------------------------------------------------------------------------

WAVES_SCHEMA = _list(_obj({
    "number": {"type": "integer", "minimum": 1, "maximum": 1000},
    "opens_at": DATETIME, "closes_at": DATETIME,
    "opens_after_days": DAYS, "closes_after_days": DAYS,
    "items": {"type": "array", "items": {"type": "string"}, "description": "Codes of the attitude and "
              "attention items this wave asks (grouping items are asked once, at baseline)."},
    "period": {"type": "string", "maxLength": 32, "description": "Repeated cross-sections: the period this wave "
               "is (a year such as 1974, YYYY-MM or a date); opens_at is its start."},
    "completion_code": {"type": "string", "maxLength": 64, "description": "Prolific completion code."},
    "prolific_study_id": {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,128}$",
                          "description": "Prolific's STUDY_ID of this wave's Prolific study (each wave its own): "
                          "a known PROLIFIC_PID arriving with it is a returning participant."},
    "completion_url": URL,
    "interventions": _list(_obj({"arm": {"type": "string"}, "title": OPTIONAL_TEXTS, "content": TEXTS},
                                required=("arm", "content")),
                           "What an arm is shown at this wave, before the items."),
}, required=("number",)), "Waves in order: dates (or days after launch), items, interventions per arm.")


def _iso(value: dt.datetime) -> str:
    """UTC, seconds (and microseconds only when there are any), a Z for the zone."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def _wave_codes(items: list[Item], members: dict[str, list[str]]) -> list[str]:
    """A wave's item codes; a group all of whose items the wave asks by the group's code."""
    codes = [i.code for i in items]
    result = []
    for item in items:
        if item.group and set(members[item.group]) <= set(codes):
            if item.group not in result:
                result.append(item.group)
        else:
            result.append(item.code)
    return result


def export_waves(study: Study) -> list:
    order = {i.pk: (i.order, i.pk) for i in study.items.all()}
    members: dict[str, list[str]] = {}
    for item in study.items.order_by("order", "id"):
        if item.group:
            members.setdefault(item.group, []).append(item.code)
    rows = []
    for wave in study.waves.order_by("number").prefetch_related("items", "interventions__arm"):
        row = {"number": wave.number, "opens_at": _iso(wave.opens_at), "closes_at": _iso(wave.closes_at),
               "items": _wave_codes(sorted(wave.items.all(), key=lambda i: order[i.pk]), members)}
        if wave.period:
            row["period"] = wave.period
        if wave.completion_code:
            row["completion_code"] = wave.completion_code
        if wave.completion_url:
            row["completion_url"] = wave.completion_url
        if wave.prolific_study_id:
            row["prolific_study_id"] = wave.prolific_study_id
        interventions = sorted(wave.interventions.all(), key=lambda x: (not x.arm.is_control, x.arm.name))
        if interventions:
            row["interventions"] = [{"arm": x.arm.name, "title": dict(x.title or {}), "content": dict(x.content)}
                                    for x in interventions]
        rows.append(row)
    return rows


def parse_datetime(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _when(row: dict, edge: str, anchor: dt.datetime) -> dt.datetime | None:
    if isinstance(row.get(f"{edge}_at"), str):
        return parse_datetime(row[f"{edge}_at"])
    days = row.get(f"{edge}_after_days")
    return anchor + dt.timedelta(days=days) if isinstance(days, int | float) else None


def check_waves(spec: dict, problems: Problems) -> None:
    _duplicates(spec, "waves", "number", problems, "wave")
    codes = {row.get("code"): row for _, row in flat_items(spec.get("items"))}
    members = group_members(spec.get("items"))
    codes.update({group: {"role": "attitude"} for group in members})
    arms = {row.get("name") for _, row in _listed(spec, "arms")}
    languages = _languages(spec)
    anchor = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    numbers = sorted(row.get("number") for _, row in _listed(spec, "waves") if isinstance(row.get("number"), int))
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        problems.add("waves", f"waves are numbered 1, 2, 3, ... without gaps (found {', '.join(map(str, numbers))})")
    prolific: dict = {}
    for i, row in _listed(spec, "waves"):
        path = f"waves[{i}]"
        if row.get("prolific_study_id"):
            if row["prolific_study_id"] in prolific:
                problems.add(f"{path}.prolific_study_id", f"wave {prolific[row['prolific_study_id']]} has this "
                             "Prolific study already (each wave is a Prolific study of its own)")
            prolific.setdefault(row["prolific_study_id"], row.get("number"))
        for edge in ("opens", "closes"):
            both = f"{edge}_at" in row and f"{edge}_after_days" in row
            if both:
                problems.add(path, f"give either {edge}_at or {edge}_after_days, not both")
            elif f"{edge}_at" not in row and f"{edge}_after_days" not in row:
                problems.add(path, f"needs {edge}_at (a date) or {edge}_after_days (days after launch)")
            elif isinstance(row.get(f"{edge}_at"), str) and parse_datetime(row[f"{edge}_at"]) is None:
                problems.add(f"{path}.{edge}_at", f'"{row[f"{edge}_at"]}" is not a date and time')
        mixed = ("opens_at" in row) != ("closes_at" in row)
        opens, closes = _when(row, "opens", anchor), _when(row, "closes", anchor)
        if not mixed and opens and closes and closes <= opens:
            problems.add(f"{path}.closes_at" if "closes_at" in row else f"{path}.closes_after_days",
                         "a wave must close after it opens")
        seen = set()
        for j, code in enumerate(row.get("items") or []):
            if code not in codes:
                problems.add(f"{path}.items[{j}]", f'unknown item code "{code}"')
            elif codes[code].get("role") == "grouping":
                problems.add(f"{path}.items[{j}]", f'"{code}" is a grouping item, asked once at baseline, not in waves')
            elif code in seen or (code in members and seen & set(members[code])):
                problems.add(f"{path}.items[{j}]", f'"{code}" is listed twice')
            seen.update([code, *members.get(code, [])])
        shown = set()
        for j, x in enumerate(row.get("interventions") or []):
            if not isinstance(x, dict):
                continue
            if x.get("arm") not in arms:
                problems.add(f"{path}.interventions[{j}].arm", f'unknown arm "{x.get("arm")}"')
            elif x["arm"] in shown:
                problems.add(f"{path}.interventions[{j}].arm", f'arm "{x["arm"]}" has two interventions at this wave')
            shown.add(x.get("arm"))
            _texts_in(languages, x.get("title"), f"{path}.interventions[{j}].title", problems, required=False)
            _texts_in(languages, x.get("content"), f"{path}.interventions[{j}].content", problems)


def apply_waves(ctx: ApplyContext, value: list) -> None:
    def fields(row):
        return {"opens_at": _when(row, "opens", ctx.anchor), "closes_at": _when(row, "closes", ctx.anchor),
                "completion_code": row.get("completion_code", ""), "completion_url": row.get("completion_url", ""),
                "prolific_study_id": row.get("prolific_study_id", ""),
                "period": row.get("period", "")}

    def create(number, row):
        return Wave.objects.create(study=ctx.study, number=number, **fields(row))

    def update(wave, row):
        changed = {k: v for k, v in fields(row).items() if getattr(wave, k) != v}
        for k, v in changed.items():
            setattr(wave, k, v)
        if changed:
            wave.save(update_fields=list(changed))
        return wave

    existing = {w.number: w for w in ctx.study.waves.all()}
    wanted = {row["number"]: row for row in value}
    _drop_previews(ctx.study, preview_wave__in=[w for n, w in existing.items() if n not in wanted])
    ctx.waves = _sync(existing, wanted, create=create, update=update)
    for number, row in wanted.items():
        wave = ctx.waves[number]
        wave.items.set([ctx.items[c] for code in row.get("items") or [] for c in ctx.groups.get(code, [code])])
        interventions = {x.arm.name: x for x in wave.interventions.select_related("arm")}
        shown = {x["arm"]: x for x in row.get("interventions") or []}

        def create_x(arm, x, wave=wave):
            return Intervention.objects.create(wave=wave, arm=ctx.arms[arm], title=dict(x.get("title") or {}),
                                               content=dict(x["content"]))

        def update_x(obj, x):
            title, content = dict(x.get("title") or {}), dict(x["content"])
            if (obj.title, obj.content) != (title, content):
                obj.title, obj.content = title, content
                obj.save(update_fields=["title", "content"])
            return obj

        _sync(interventions, shown, create=create_x, update=update_x)


def refuse_waves(ctx: ApplyContext, value: list) -> list[str]:
    from surveys.models import Response

    wanted = {row["number"]: (i, row) for i, row in enumerate(value)}
    reasons = []
    for wave in ctx.study.waves.all():
        submissions = wave.submissions.filter(participant__is_preview=False).count()
        if not submissions:
            continue
        if wave.number not in wanted:
            reasons.append(f"waves: wave {wave.number} cannot be removed: it has {submissions} submission(s)")
            continue
        i, row = wanted[wave.number]
        members = group_members(ctx.spec.get("items"))
        kept = {c for code in row.get("items") or [] for c in members.get(code, [code])}
        answered = (Response.objects.filter(submission__wave=wave, submission__participant__is_preview=False)
                    .values_list("item__code", flat=True).distinct())
        for code in sorted(set(answered) - kept):
            reasons.append(f'waves[{i}].items: "{code}" cannot leave wave {wave.number}: it has answers there')
    return reasons


# --- messages -------------------------------------------------------------------------------------

MESSAGES_SCHEMA = _obj({
    "collect_email": {"type": "boolean", "description": "Ask for an optional e-mail address on the consent page."},
    "reminder_delays_hours": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 8760},
                              "maxItems": 10, "uniqueItems": True},
    "last_chance_hours": {"type": ["integer", "null"], "minimum": 1, "maximum": 8760},
    "templates": _list(_obj({
        "kind": {"enum": [k.value for k in MessageTemplate.Kind]},
        "language": LANGUAGE_CODE,
        "subject": {"type": "string", "minLength": 1, "maxLength": 200},
        "body": {"type": "string", "minLength": 1, "description": "Must contain {{ link }} and {{ unsubscribe_link }}."},
    }, required=("kind", "language", "subject", "body")), "The study's own wording of its e-mails."),
}, description="Invitations and reminders (docs/scheduling.md).")


def export_messages(study: Study) -> dict:
    return {"collect_email": study.collect_email, "reminder_delays_hours": list(study.reminder_delays_hours or []),
            "last_chance_hours": study.last_chance_hours,
            "templates": [{"kind": t.kind, "language": t.language, "subject": t.subject, "body": t.body}
                          for t in study.message_templates.order_by("kind", "language")]}


def check_messages(spec: dict, problems: Problems) -> None:
    messages = spec.get("messages") if isinstance(spec.get("messages"), dict) else {}
    languages = _languages(spec)
    seen = set()
    for i, row in enumerate(messages.get("templates") or []):
        if not isinstance(row, dict):
            continue
        path = f"messages.templates[{i}]"
        key = (row.get("kind"), row.get("language"))
        if key in seen:
            problems.add(path, f"a second {key[0]} template in {key[1]}")
        seen.add(key)
        if languages and row.get("language") not in languages:
            problems.add(f"{path}.language", f'language "{row.get("language")}" is not among the study\'s languages')
        for name in ("subject", "body"):
            try:
                Template(row.get(name) or "")
            except TemplateSyntaxError as error:
                problems.add(f"{path}.{name}", f"template error: {error}")
        for variable in ("link", "unsubscribe_link"):
            if not re.search(r"{{\s*" + variable + r"\s*}}", row.get("body") or ""):
                problems.add(f"{path}.body", f"the text must contain {{{{ {variable} }}}}")


def apply_messages(ctx: ApplyContext, value: dict) -> None:
    study = ctx.study
    study.collect_email = bool(value.get("collect_email", False))
    study.reminder_delays_hours = sorted(set(value.get("reminder_delays_hours", [24, 72])))
    study.last_chance_hours = value.get("last_chance_hours", 24)

    def create(key, row):
        return MessageTemplate.objects.create(study=study, kind=key[0], language=key[1], subject=row["subject"],
                                              body=row["body"])

    def update(template, row):
        if (template.subject, template.body) != (row["subject"], row["body"]):
            template.subject, template.body = row["subject"], row["body"]
            template.save(update_fields=["subject", "body"])
        return template

    existing = {(t.kind, t.language): t for t in study.message_templates.all()}
    _sync(existing, {(r["kind"], r["language"]): r for r in value.get("templates") or []}, create=create, update=update)


# --- completion and retention ---------------------------------------------------------------------

COMPLETION_SCHEMA = _obj({"url": URL, "text": OPTIONAL_TEXTS},
                         description="Where participants go after a wave (e.g. a Prolific completion link) "
                                     "and the thank-you text; a wave's own code or URL comes first.")


def export_completion(study: Study) -> dict:
    value = {"text": dict(study.completion_text or {})}
    if study.completion_url:
        value = {"url": study.completion_url, **value}
    return value


def check_completion(spec: dict, problems: Problems) -> None:
    completion = spec.get("completion") if isinstance(spec.get("completion"), dict) else {}
    _texts_in(_languages(spec), completion.get("text"), "completion.text", problems, required=False)


def apply_completion(ctx: ApplyContext, value: dict) -> None:
    ctx.study.completion_url = value.get("url", "")
    ctx.study.completion_text = dict(value.get("text") or {})


RETENTION_SCHEMA = _obj({
    "days": {"type": ["integer", "null"], "minimum": 0, "maximum": 36500,
             "description": "Days after the study closes that identifying data is kept (null: no limit)."},
    "deletes_answers": {"type": "boolean", "description": "When the period ends, delete the answers too."},
}, description="How long identifying data is kept.")


def export_retention(study: Study) -> dict:
    return {"days": study.retention_days, "deletes_answers": study.retention_deletes_answers}


def apply_retention(ctx: ApplyContext, value: dict) -> None:
    ctx.study.retention_days = value.get("days")
    ctx.study.retention_deletes_answers = bool(value.get("deletes_answers", False))


# --- The registry, in the order of the file -------------------------------------------------------

register(Section("study", "Study", STUDY_SCHEMA, export_study, apply_study, check_study, refuse_study,
                 required=True))
register(Section("consent", "Consent", CONSENT_SCHEMA, export_consent, apply_consent, check_consent, refuse_consent))
register(Section("arms", "Arms", ARMS_SCHEMA, export_arms, apply_arms, check_arms, refuse_arms))
register(Section("items", "Items", _item_schema(), export_items, apply_items, check_items, refuse_items))
register(Section("pages", "Pages", PAGES_SCHEMA, export_pages, apply_pages, check_pages))
register(Section("waves", "Waves", WAVES_SCHEMA, export_waves, apply_waves, check_waves, refuse_waves))
register(Section("messages", "Messages", MESSAGES_SCHEMA, export_messages, apply_messages, check_messages))
register(Section("completion", "Completion", COMPLETION_SCHEMA, export_completion, apply_completion,
                 check_completion))
register(Section("retention", "Retention", RETENTION_SCHEMA, export_retention, apply_retention))

# Later parts of a study, each in its own module, join the registry here.
from surveys.spec import enrolment as _enrolment  # noqa: E402, F401
