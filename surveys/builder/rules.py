"""Builder forms for the rules of a study: the enrolment policy, display logic of items and pages,
and the page order. Pure changes of the specification, as in `edits.py`; conditions are edited as
structured rows (item, operator, value(s), "not"), combined with all or any, never as raw JSON.
"""

from __future__ import annotations

import copy

from surveys import logic
from surveys.builder.edits import FormProblem, _bool, _datetime, _find, _number

OPERATORS = [("==", "is"), ("!=", "is not"), ("<", "is less than"), ("<=", "is at most"), (">", "is more than"),
             (">=", "is at least"), ("in", "is one of")]
#: Blank rows offered under a condition's rows, for adding comparisons without JavaScript.
BLANK_ROWS = 2


# --- Conditions as rows ---------------------------------------------------------------------------


def _row(comparison: dict, negate: bool) -> dict | None:
    if not isinstance(comparison, dict) or "item" not in comparison:
        return None
    value = comparison.get("value")
    shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return {"item": comparison["item"], "op": comparison.get("op", "=="), "value": shown, "negate": negate}


def _part(part) -> dict | None:
    if isinstance(part, dict) and set(part) == {"not"}:
        return _row(part["not"], True)
    return _row(part, False)


def condition_rows(condition) -> tuple[str, list[dict]] | None:
    """(mode, rows) of a condition the form can show: one comparison, its `not`, or all/any of
    those; None for anything deeper (shown as a sentence, replaced when the form is saved)."""
    if not condition:
        return "all", []
    for mode in ("all", "any"):
        if isinstance(condition, dict) and set(condition) == {mode} and isinstance(condition[mode], list):
            rows = [_part(part) for part in condition[mode]]
            return None if None in rows else (mode, rows)
    row = _part(condition)
    return None if row is None else ("all", [row])


def _value(op: str, raw: str, path: str):
    if op == "in":
        values = [_number(part, path) for part in raw.replace(";", ",").split(",") if part.strip()]
        if not values:
            raise FormProblem(path, '"is one of" needs values separated by commas, e.g. "1, 2"')
        return values
    value = _number(raw, path)
    if value is None:
        raise FormProblem(path, "give a value to compare with")
    return value


def condition_from_post(post, path: str) -> dict:
    """The condition the rows of a form say ({}: always shown). Rows without an item are ignored."""
    mode = post.get("mode", "all")
    if mode not in ("all", "any"):
        raise FormProblem(path, f'"{mode}" is not one of: all, any')
    parts = []
    for k in range(int(post.get("rows", "0") or 0)):
        code = post.get(f"c_item_{k}", "").strip()
        if not code:
            continue
        op = post.get(f"c_op_{k}", "==")
        if op not in dict(OPERATORS):
            raise FormProblem(f"{path} row {k + 1}", f'"{op}" is not an operator')
        comparison = {"item": code, "op": op, "value": _value(op, post.get(f"c_value_{k}", ""),
                                                                f"{path} row {k + 1}")}
        parts.append({"not": comparison} if _bool(post, f"c_not_{k}") else comparison)
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {mode: parts}


def save_item_condition(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    index = _find(spec["items"], "code", post.get("code", ""))
    if index is None:
        raise FormProblem("items", f'no item "{post.get("code", "")}"')
    condition = condition_from_post(post, f"items[{index}].show_if")
    if condition:
        spec["items"][index]["show_if"] = condition
    else:
        spec["items"][index].pop("show_if", None)
    return spec


def save_page_condition(spec: dict, post) -> dict:
    spec = copy.deepcopy(spec)
    pages = spec["pages"].get("order", [])
    index = _find(pages, "name", post.get("name", ""))
    if index is None:
        raise FormProblem("pages.order", f'no page "{post.get("name", "")}"')
    condition = condition_from_post(post, f"pages.order[{index}].show_if")
    if condition:
        pages[index]["show_if"] = condition
    else:
        pages[index].pop("show_if", None)
    return spec


# --- The page order -------------------------------------------------------------------------------


def save_pages(spec: dict, post) -> dict:
    """Rows of pages: name, item codes (separated by commas or spaces), shuffle, remove. A page
    keeps its condition under its name; a row without a name is left out."""
    spec = copy.deepcopy(spec)
    before = {page["name"]: page for page in spec["pages"].get("order", [])}
    order = []
    for k in range(int(post.get("page_count", "0") or 0)):
        name = post.get(f"page_name_{k}", "").strip()
        if not name or _bool(post, f"page_remove_{k}"):
            continue
        codes = [c for c in post.get(f"page_items_{k}", "").replace(",", " ").split() if c]
        if not codes:
            raise FormProblem(f"pages.order[{len(order)}].items", f'page "{name}" needs at least one item code')
        page = {"name": name, "items": codes}
        if _bool(post, f"page_shuffle_{k}"):
            page["shuffle"] = True
        original = post.get(f"page_original_{k}", "")
        if before.get(original, {}).get("show_if"):
            page["show_if"] = before[original]["show_if"]
        order.append(page)
    if order:
        spec["pages"]["order"] = order
    else:
        spec["pages"].pop("order", None)
    return spec


# --- Enrolment ------------------------------------------------------------------------------------


def save_enrolment(spec: dict, post) -> dict:
    """The window (a date, or "when wave N opens", or both: the earlier), late arrivals, the cap
    and the quotas (one box per grouping item value; empty: no quota)."""
    spec = copy.deepcopy(spec)
    value = dict(spec.get("enrolment") or {})
    value["opens"] = _datetime(post.get("opens", ""), "enrolment.opens")
    value["closes"] = _datetime(post.get("closes", ""), "enrolment.closes")
    wave = _number(post.get("closes_when_wave_opens", ""), "enrolment.closes_when_wave_opens")
    value["closes_when_wave_opens"] = int(wave) if isinstance(wave, int | float) and float(wave).is_integer() else wave
    value["late_arrivals"] = post.get("late_arrivals", "refuse")
    cap = _number(post.get("cap", ""), "enrolment.cap")
    value["cap"] = cap
    quotas: dict = {}
    for row in spec["items"]:
        if row.get("role") != "grouping":
            continue
        for point in range(1, int((row.get("scale") or {}).get("max", 0)) + 1):
            number = _number(post.get(f"quota_{row['code']}_{point}", ""), f"enrolment.quotas.{row['code']}.{point}")
            if number is not None:
                quotas.setdefault(row["code"], {})[str(point)] = number
    value["quotas"] = quotas
    value["quota_full_code"] = post.get("quota_full_code", "").strip()
    spec["enrolment"] = value
    return spec


# --- What the design page shows --------------------------------------------------------------------


def _editor(condition) -> dict:
    shape = condition_rows(condition)
    mode, rows = shape if shape is not None else ("all", [])
    rows = [*rows, *({"item": "", "op": "==", "value": "", "negate": False} for _ in range(BLANK_ROWS))]
    return {"mode": mode, "rows": rows, "sentence": logic.describe(condition), "fits": shape is not None}


def context(spec: dict) -> dict:
    """The rules' part of the design page: enrolment values, the quota grid, the condition editors."""
    enrolment = spec.get("enrolment") or {}
    quotas = enrolment.get("quotas") or {}
    grid = []
    for row in spec["items"]:
        if row.get("role") != "grouping":
            continue
        labels = next(iter((row.get("labels") or {}).values()), {})
        for point in range(1, int((row.get("scale") or {}).get("max", 0)) + 1):
            grid.append({"code": row["code"], "value": point, "label": labels.get(str(point), ""),
                         "cap": (quotas.get(row["code"]) or {}).get(str(point), "")})
    return {
        "enrolment": {**enrolment, "opens_local": (enrolment.get("opens") or "")[:16],
                      "closes_local": (enrolment.get("closes") or "")[:16]},
        "quota_grid": grid,
        "operators": OPERATORS,
        "condition_items": [row["code"] for row in spec["items"]],
        "item_logic": [{"code": row["code"], **_editor(row.get("show_if"))} for row in spec["items"]
                       if row.get("role") != "grouping"],
        "page_rows": [*({**page, "items_text": ", ".join(page["items"])} for page in spec["pages"].get("order", [])),
                      {"name": "", "items_text": "", "shuffle": False}],
        "page_logic": [{"name": page["name"], **_editor(page.get("show_if"))}
                       for page in spec["pages"].get("order", [])],
        "late_policies": [("refuse", "refuse them (a clear page)"),
                          ("next_wave", "let them join at the next wave that opens")],
    }
