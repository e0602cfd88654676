"""Question groups: a matrix (several statements sharing one scale) and a multiple-choice question
("select all that apply"). One registry entry per group kind.

A group is not a new kind of data: its members are ordinary items that carry the group's code in
``Item.group`` and its question in ``Item.stem``.
- A matrix's statements are Likert items sharing the scale, labels and options; each is its own
  variable, analysed like any other Likert item.
- A multiple-choice question's options are ``option`` items (surveys/kinds.py): 0 = not selected,
  1 = selected, one row per option. "Don't know" and "prefer not to say" are stored as that
  missing code on every option row; "none of these" (``Item.none_option``) as 0 on every option;
  an optional question left empty as ``skipped`` on every option.

So analysis, exports, display logic and waves see ordinary items. This module says what a group
adds: the page keeps a group's members together and in order (``units``), draws them with the
group's partial (``group_rows``), and checks the rules across the members (``add_fields``,
``clean``, ``answers``, ``check_answers``). The spec writes a group as one entry
(surveys/spec/sections.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.kinds import (
    MISSING_DONT_KNOW,
    MISSING_PREFER_NOT,
    MISSING_SKIPPED,
    Answer,
)


@dataclass(frozen=True)
class GroupKind:
    #: The spec's ``kind`` of the group entry; a contract.
    value: str
    label: str
    #: The item kind of its members.
    member_kind: str
    #: The spec key listing the members.
    members_key: str

    @property
    def template(self) -> str:
        return f"surveys/kinds/{self.value}.html"


GROUP_KINDS: tuple[GroupKind, ...] = (
    GroupKind("matrix", _("matrix (statements sharing one scale)"), member_kind="likert", members_key="statements"),
    GroupKind("multiple", _("multiple choice (select all that apply)"), member_kind="option", members_key="options"),
)
BY_VALUE: dict[str, GroupKind] = {g.value: g for g in GROUP_KINDS}
#: Item kind of a member -> its group kind.
MEMBER_KINDS: dict[str, GroupKind] = {g.member_kind: g for g in GROUP_KINDS}

#: Suffixes of a multiple-choice question's own boxes: ``i_<group>-none`` and so on (a hyphen,
#: which item codes never contain, so they never meet an item's field).
NONE, DK, PNS = "-none", "-dk", "-pns"


def group_kind_of(item) -> GroupKind | None:
    """The group kind of `item`'s group, or None for a question of its own."""
    return MEMBER_KINDS.get(item.kind) if item.group else None


def units(codes: list[str], items: dict) -> list[list[str]]:
    """`codes` cut into what a page shows as one question: an item of its own, or the run of
    members of one group."""
    result: list[list[str]] = []
    last = None
    for code in codes:
        item = items.get(code)
        group = item.group if item is not None else ""
        if group and group == last:
            result[-1].append(code)
        else:
            result.append([code])
        last = group
    return result


def in_order(items: dict) -> list[str]:
    """The codes of `items` in the study's order (a group's members consecutive, in their order)."""
    return sorted(items, key=lambda c: (items[c].order, items[c].pk or 0))


def shuffle_units(items: dict, shuffle) -> list[str]:
    """A random order of the questions of `items`, each group's members kept together in their
    order; `shuffle(list)` shuffles in place (the participant's draw)."""
    grouped = units(in_order(items), items)
    shuffle(grouped)
    return [code for unit in grouped for code in unit]


def _groups(items) -> dict[str, list]:
    result: dict[str, list] = {}
    for item in items:
        if item.group and item.kind == "option":
            result.setdefault(item.group, []).append(item)
    return result


# --- The participant page's form -----------------------------------------------------------------


def add_fields(fields: dict, items, prefix: str) -> None:
    """The boxes of each multiple-choice question on the page: "none of these", "don't know",
    "prefer not to say" (each exclusive)."""
    for group, members in _groups(items).items():
        first = members[0]
        if first.none_option:
            fields[prefix + group + NONE] = forms.BooleanField(required=False, label=_("None of these"))
        if first.dont_know:
            fields[prefix + group + DK] = forms.BooleanField(required=False, label=_("Don't know"))
        if first.prefer_not_to_say:
            fields[prefix + group + PNS] = forms.BooleanField(required=False, label=_("Prefer not to say"))


def clean(form, items, prefix: str, cleaned: dict) -> None:
    """At least one box of a required question; an exclusive box alone."""
    for group, members in _groups(items).items():
        names = [prefix + m.code for m in members]
        if any(n not in cleaned for n in names):
            continue
        ticked = [n for n in names if cleaned.get(n)]
        exclusive = [s for s in (NONE, DK, PNS) if cleaned.get(prefix + group + s)]
        if len(exclusive) > 1 or (exclusive and ticked):
            form.add_error(names[0], _("Please tick options, or one of the boxes below them, not both."))
        elif not ticked and not exclusive and not members[0].is_optional:
            form.add_error(names[0], _("Please tick at least one option.") if not members[0].none_option
                           else _("Please tick at least one option, or \"None of these\"."))


def answers(items, prefix: str, cleaned: dict) -> dict[str, Answer]:
    """Each option's answer: 1/0, or the question's missing code on every option."""
    result = {}
    for group, members in _groups(items).items():
        ticked = any(cleaned.get(prefix + m.code) for m in members)
        missing = ""
        if cleaned.get(prefix + group + DK):
            missing = MISSING_DONT_KNOW
        elif cleaned.get(prefix + group + PNS):
            missing = MISSING_PREFER_NOT
        elif not ticked and not cleaned.get(prefix + group + NONE):
            missing = MISSING_SKIPPED
        for m in members:
            result[m.code] = Answer(missing=missing) if missing else Answer(
                value=1.0 if cleaned.get(prefix + m.code) else 0.0)
    return result


def check_answers(items, answers: dict) -> dict[str, list[str]]:
    """The rules across a multiple-choice question's options, for answers however they came: one
    missing code on all options or none, and a required question without "none of these" has a
    ticked option. Errors by the first option's code."""
    errors: dict[str, list[str]] = {}
    for _group, members in _groups(items).items():
        given = [answers.get(m.code) for m in members]
        if any(a is None for a in given):
            continue
        codes = {a.missing for a in given}
        if len(codes) > 1 and "" in codes:
            errors[members[0].code] = [str(_("Give every option a value, or the same missing code to all."))]
        elif codes == {""} and not any(a.value for a in given) and not members[0].none_option:
            errors[members[0].code] = [str(_("Please tick at least one option."))]
    return errors


def group_rows(rows: list[dict], form, prefix: str) -> list[dict]:
    """The page's rows with each group's members drawn as one question by the group's partial."""
    result: list[dict] = []
    for row in rows:
        item = row["item"]
        kind = group_kind_of(item)
        if kind is None:
            result.append(row)
            continue
        if result and result[-1].get("group") == item.group:
            group_row = result[-1]
        else:
            group_row = {"group": item.group, "template": kind.template, "id": f"q-{item.group}",
                         "prompt": _stem(item, form.language), "rows": [], "errors": [],
                         "optional": item.is_optional, "kind": kind.value}
            if kind.value == "multiple":
                group_row["exclusive"] = [
                    {"name": prefix + item.group + suffix, "id": f"q-{item.group}{suffix}", "text": text,
                     "checked": bool(form.is_bound and form.data.get(prefix + item.group + suffix))}
                    for suffix, text, offered in (
                        (NONE, _("None of these"), item.none_option), (DK, _("Don't know"), item.dont_know),
                        (PNS, _("Prefer not to say"), item.prefer_not_to_say)) if offered]
            else:
                group_row["columns"] = [{"value": o["value"], "text": o["text"] or o["number"], "dk": o["dk"]}
                                        for o in row.get("options", [])]
            result.append(group_row)
        group_row["rows"].append(row)
        group_row["errors"] = [*group_row["errors"], *row["errors"]]
    return result


def _stem(item, language: str) -> str:
    from surveys.models import translate

    return translate(item.stem, language, item.study.default_language) if item.stem else ""
