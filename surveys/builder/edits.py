"""What each builder form does to a study's specification: a pure function per action, from the
posted fields and the current spec to the new spec. The view then applies the new spec through
`surveys.spec.service.apply_spec`, so the builder has exactly the validation, refusals and change
log of `manage.py study import` and the API. A form a researcher filled in wrongly in a way the
spec cannot express (a label line without "=") raises `FormProblem` with the same path style.
"""

from __future__ import annotations

import copy
import datetime as dt

from surveys import groups, kinds
from surveys.spec.bank import add_from_bank


class FormProblem(ValueError):
    def __init__(self, path: str, message: str):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


def texts(post, prefix: str, languages: list[str]) -> dict:
    """One text box per language (``prompt_en``, ``prompt_de``) -> {"en": ..., "de": ...}; empty ones left out."""
    return {lang: post.get(f"{prefix}_{lang}", "").strip() for lang in languages
            if post.get(f"{prefix}_{lang}", "").strip()}


def _number(raw: str, path: str):
    raw = (raw or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormProblem(path, f'"{raw}" is not a number') from None
    return int(value) if value.is_integer() else value


def _lines(raw: str, path: str, example: str) -> list[tuple[int, str, str]]:
    """Non-empty lines "left = right" of a text box as (line number, left, right)."""
    pairs = []
    for n, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise FormProblem(path, f'line {n}: write {example}')
        left, right = (part.strip() for part in line.split("=", 1))
        pairs.append((n, left, right))
    return pairs


def parse_labels(raw: str, path: str) -> dict:
    """Lines "1 = Strongly disagree" -> {"1": "Strongly disagree"}."""
    labels = {}
    for n, value, label in _lines(raw, path, '"value = label", e.g. "1 = Strongly disagree"'):
        number = _number(value, f"{path} line {n}")
        labels[kinds.point_label(number) if number is not None else value] = label
    return labels


def format_labels(labels: dict) -> str:
    return "\n".join(f"{value} = {label}" for value, label in labels.items())


def _bool(post, name: str) -> bool:
    return post.get(name) in ("on", "true", "1", "yes")


def _find(rows: list, key: str, value):
    return next((i for i, row in enumerate(rows) if str(row.get(key)) == str(value)), None)


# --- Items ----------------------------------------------------------------------------------------


def parse_members(raw: str, path: str) -> dict:
    """Lines "trust_a = Most people can be trusted." -> {"trust_a": "Most people can be trusted."}."""
    return {code: text for _n, code, text in _lines(raw, path, '"code = text", e.g. "trust_a = Most people '
                                                                 'can be trusted."')}


def format_members(row: dict, language: str) -> str:
    """A group entry's statements or options in one language, as the builder's text box shows them."""
    kind = groups.BY_VALUE[row["kind"]]
    key = "label" if kind.value == "multiple" else "prompt"
    return "\n".join(f"{m['code']} = {m[key].get(language, '')}" for m in row[kind.members_key])


def group_from_post(post, languages: list[str], kind: groups.GroupKind) -> dict:
    """A matrix or multiple-choice entry: its statements or options from one text box per
    language, one "code = text" line each (the default language's lines say which there are)."""
    texts_by_lang = {lang: parse_members(post.get(f"members_{lang}", ""), f"{kind.members_key}.{lang}")
                     for lang in languages}
    key = "label" if kind.value == "multiple" else "prompt"
    reversed_codes = set(post.get("reverse_codes", "").replace(",", " ").split())
    members = []
    for code in texts_by_lang[languages[0]]:
        member = {"code": code, key: {lang: texts_by_lang[lang][code] for lang in languages
                                      if texts_by_lang[lang].get(code)}}
        if kind.value == "matrix" and code in reversed_codes:
            member["reverse_coded"] = True
        members.append(member)
    entry = {"code": post.get("code", "").strip(), "kind": kind.value, "role": "attitude",
             "prompt": texts(post, "prompt", languages)}
    if kind.value == "matrix":
        entry["scale"] = {"min": 1, "max": _number(post.get("scale_max"), "scale.max"), "step": 1}
        labels = {lang: parse_labels(post.get(f"labels_{lang}", ""), f"labels.{lang}") for lang in languages}
        labels = {lang: value for lang, value in labels.items() if value}
        if labels:
            entry["labels"] = labels
    entry.update({"dont_know": _bool(post, "dont_know"), "required": not _bool(post, "optional")})
    if _bool(post, "prefer_not_to_say"):
        entry["prefer_not_to_say"] = True
    if kind.value == "multiple" and _bool(post, "none_option"):
        entry["none_option"] = True
    entry[kind.members_key] = members
    return entry


def item_from_post(post, languages: list[str]) -> dict:
    group = groups.BY_VALUE.get(post.get("kind", ""))
    if group is not None:
        return group_from_post(post, languages, group)
    kind = kinds.BY_VALUE.get(post.get("kind", ""))
    item = {"code": post.get("code", "").strip(), "kind": post.get("kind", ""), "role": post.get("role", "attitude"),
            "prompt": texts(post, "prompt", languages)}
    if kind is None or kind.scale.has_scale:
        scale = {"min": _number(post.get("scale_min"), "scale.min"), "max": _number(post.get("scale_max"), "scale.max"),
                 "step": _number(post.get("step"), "scale.step")}
        if kind is not None and kind.scale.categories:
            scale["min"] = 1 if scale["min"] is None else scale["min"]
            scale["step"] = 1 if scale["step"] is None else scale["step"]
        item["scale"] = {k: v for k, v in scale.items() if v is not None}
        labels = {lang: parse_labels(post.get(f"labels_{lang}", ""), f"labels.{lang}") for lang in languages}
        labels = {lang: value for lang, value in labels.items() if value}
        if labels:
            item["labels"] = labels
    item.update({"dont_know": _bool(post, "dont_know"), "reverse_coded": _bool(post, "reverse_coded"),
                 "required": not kind.free_text if kind else True})
    answer = _number(post.get("attention_answer"), "attention_answer")
    if item["role"] == "attention" or answer is not None:
        if answer is not None:
            item["attention_answer"] = answer
    return item


def save_item(spec: dict, post) -> dict:
    """Add an item (no ``original``) or replace one; a renamed code is renamed in the waves too."""
    spec = copy.deepcopy(spec)
    item = item_from_post(post, spec["study"]["languages"])
    original = post.get("original", "")
    index = _find(spec["items"], "code", original) if original else None
    if index is None:
        spec["items"].append(item)
        if item["role"] != "grouping" and _bool(post, "in_every_wave"):
            for wave in spec["waves"]:
                wave["items"].append(item["code"])
    else:
        if "show_if" in spec["items"][index]:  # edited in its own form (surveys/builder/rules.py)
            item["show_if"] = spec["items"][index]["show_if"]
        spec["items"][index] = item
        for wave in spec["waves"]:
            wave["items"] = [item["code"] if code == original else code for code in wave["items"]]
        for page in spec["pages"].get("order", []):
            page["items"] = [item["code"] if code == original else code for code in page["items"]]
    return spec


def move_item(spec: dict, code: str, direction: str) -> dict:
    spec = copy.deepcopy(spec)
    i = _find(spec["items"], "code", code)
    j = None if i is None else i + (-1 if direction == "up" else 1)
    if i is not None and 0 <= j < len(spec["items"]):
        spec["items"][i], spec["items"][j] = spec["items"][j], spec["items"][i]
    return spec


def duplicate_item(spec: dict, code: str) -> dict:
    spec = copy.deepcopy(spec)
    i = _find(spec["items"], "code", code)
    if i is None:
        return spec
    copy_ = copy.deepcopy(spec["items"][i])
    group = groups.BY_VALUE.get(copy_.get("kind"))
    members = copy_[group.members_key] if group else []  # a group's statements or options get new codes too
    taken = {row["code"] for row in spec["items"]} | {
        m["code"] for row in spec["items"] if row.get("kind") in groups.BY_VALUE
        for m in row[groups.BY_VALUE[row["kind"]].members_key]}
    n = 2
    while any(f"{c}_{n}"[:32] in taken for c in [code, *(m["code"] for m in members)]):
        n += 1
    copy_["code"] = f"{code}_{n}"[:32]
    for member in members:
        member["code"] = f"{member['code']}_{n}"[:32]
    spec["items"].insert(i + 1, copy_)
    return spec


def delete_item(spec: dict, code: str) -> dict:
    spec = copy.deepcopy(spec)
    gone = {code}
    for row in spec["items"]:
        kind = groups.BY_VALUE.get(row.get("kind"))
        if kind is not None and row["code"] == code:  # a group: its statements or options go too
            gone |= {m["code"] for m in row[kind.members_key]}
    spec["items"] = [row for row in spec["items"] if row["code"] != code]
    for wave in spec["waves"]:
        wave["items"] = [c for c in wave["items"] if c not in gone]
    for page in spec["pages"].get("order", []):
        page["items"] = [c for c in page["items"] if c not in gone]
    spec["pages"]["order"] = [page for page in spec["pages"].get("order", []) if page["items"]]
    if not spec["pages"]["order"]:
        del spec["pages"]["order"]
    return spec


def add_bank_items(spec: dict, keys: list[str]) -> dict:
    return add_from_bank(spec, keys)[0]


# --- Waves ----------------------------------------------------------------------------------------


def _datetime(raw: str, path: str) -> str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FormProblem(path, f'"{raw}" is not a date and time (YYYY-MM-DDTHH:MM)') from None
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def save_wave(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    languages = spec["study"]["languages"]
    original = post.get("original", "")
    index = _find(spec["waves"], "number", original) if original else None
    number = spec["waves"][index]["number"] if index is not None else len(spec["waves"]) + 1
    wave = {"number": number}
    for edge in ("opens", "closes"):
        value = _datetime(post.get(f"{edge}_at", ""), f"waves[{number - 1}].{edge}_at")
        if value:
            wave[f"{edge}_at"] = value
    codes = set(post.getlist("items")) if hasattr(post, "getlist") else set(post.get("items", []))
    wave["items"] = [row["code"] for row in spec["items"] if row["code"] in codes]
    if post.get("completion_code", "").strip():
        wave["completion_code"] = post["completion_code"].strip()
    if post.get("completion_url", "").strip():
        wave["completion_url"] = post["completion_url"].strip()
    if post.get("prolific_study_id", "").strip():
        wave["prolific_study_id"] = post["prolific_study_id"].strip()
    shown = []
    for arm in spec["arms"]:
        content = texts(post, f"content_{arm['name']}", languages)
        if content:
            shown.append({"arm": arm["name"], "title": texts(post, f"title_{arm['name']}", languages),
                          "content": content})
    if shown:
        wave["interventions"] = shown
    if index is None:
        spec["waves"].append(wave)
    else:
        spec["waves"][index] = wave
    return spec


def delete_wave(spec: dict, number) -> dict:
    spec = copy.deepcopy(spec)
    spec["waves"] = [w for w in spec["waves"] if str(w["number"]) != str(number)]
    for n, wave in enumerate(spec["waves"], start=1):
        wave["number"] = n
    return spec


# --- Arms, consent, study settings, completion and messages ---------------------------------------


def save_arms(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    arms = []
    control = post.get("control", "")
    for n in range(int(post.get("arm_count", 0) or 0) + 1):
        name = post.get(f"arm_name_{n}", "").strip()
        if not name or _bool(post, f"arm_remove_{n}"):
            continue
        weight = _number(post.get(f"arm_weight_{n}", "1"), f"arms[{len(arms)}].weight")
        arms.append({"name": name, "weight": weight if weight is not None else 1, "control": control == str(n)})
    kept = {a["name"] for a in arms}
    for wave in spec["waves"]:
        if "interventions" in wave:
            wave["interventions"] = [x for x in wave["interventions"] if x["arm"] in kept]
            if not wave["interventions"]:
                del wave["interventions"]
    spec["arms"] = arms
    return spec


def save_consent(spec: dict, post) -> dict:
    """Edit a version (``version`` given) or add the next one."""
    spec = copy.deepcopy(spec)
    text = texts(post, "consent", spec["study"]["languages"])
    version = post.get("version", "")
    index = _find(spec["consent"], "version", version) if version else None
    if index is None:
        spec["consent"].append({"version": max([c["version"] for c in spec["consent"]], default=0) + 1, "text": text})
    else:
        spec["consent"][index]["text"] = text
    return spec


def save_study(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    languages = [lang for lang in post.getlist("languages")] if hasattr(post, "getlist") else post.get("languages", [])
    default = post.get("default_language", "")
    if default in languages:
        languages = [default, *[lang for lang in languages if lang != default]]
    study = spec["study"]
    all_languages = list(dict.fromkeys([*study["languages"], *languages]))
    study["languages"] = languages
    study["title"] = texts(post, "title", all_languages)
    study["description"] = texts(post, "description", all_languages)
    if post.get("primary_outcome", "").strip():
        study["primary_outcome"] = post["primary_outcome"].strip()
    else:
        study.pop("primary_outcome", None)
    per_page = _number(post.get("items_per_page"), "pages.items_per_page")
    spec["pages"]["items_per_page"] = per_page if per_page is not None else 5
    return spec


def save_completion(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    languages = spec["study"]["languages"]
    spec["completion"] = {"text": texts(post, "completion_text", languages)}
    if post.get("completion_url", "").strip():
        spec["completion"] = {"url": post["completion_url"].strip(), **spec["completion"]}
    delays = []
    for part in (post.get("reminder_delays_hours", "") or "").replace(";", ",").split(","):
        if part.strip():
            value = _number(part, "messages.reminder_delays_hours")
            delays.append(int(value) if isinstance(value, int | float) and float(value).is_integer() else value)
    last = _number(post.get("last_chance_hours"), "messages.last_chance_hours")
    templates = []
    for kind in ("invitation", "reminder", "last_chance"):
        for lang in languages:
            subject = post.get(f"subject_{kind}_{lang}", "").strip()
            body = post.get(f"body_{kind}_{lang}", "").strip()
            if subject or body:
                templates.append({"kind": kind, "language": lang, "subject": subject, "body": body})
    spec["messages"] = {"collect_email": _bool(post, "collect_email"), "reminder_delays_hours": delays,
                        "last_chance_hours": last, "templates": templates}
    days = _number(post.get("retention_days"), "retention.days")
    spec["retention"] = {"days": days, "deletes_answers": _bool(post, "retention_deletes_answers")}
    return spec


def empty_spec(*, slug: str, title: str, languages: list[str]) -> dict:
    """A new study: one control arm, no items or waves yet."""
    return {
        "spec_version": 1,
        "study": {"slug": slug, "title": {languages[0]: title}, "description": {}, "languages": languages},
        "consent": [], "arms": [{"name": "control", "weight": 1, "control": True}], "items": [],
        "pages": {"items_per_page": 5}, "waves": [],
        "messages": {"collect_email": False, "reminder_delays_hours": [24, 72], "last_chance_hours": 24,
                     "templates": []},
        "completion": {"text": {}}, "retention": {"days": None, "deletes_answers": False},
    }
