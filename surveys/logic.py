"""Display logic: a question shows only when a condition on the participant's earlier answers
holds. Pure Python (no database): `check` validates a condition when a study is saved,
`evaluate` decides on the server whether a question is shown.

A condition (``Item.show_if``; the spec's ``items[].show_if``) is one of
- ``{"item": "side", "op": "==", "value": 1}`` with ``op`` one of ``== != < <= > >=``;
- ``{"item": "side", "op": "in", "value": [1, 2]}``;
- ``{"all": [c, ...]}``, ``{"any": [c, ...]}``, ``{"not": c}``.
It reads the baseline (grouping) answers, the answers of earlier waves (the latest one per
item) and this wave's answers on earlier pages of the study's page order (``pages.order``; see
`plan_pages`, `order_problems`). An unanswered (or "don't know", or not shown) question never
satisfies a comparison, so ``not`` of one holds. A page of the page order may carry a condition
of its own; `evaluate_known` says what progress may count before everything is answered.
"""

from __future__ import annotations

import operator

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}


def references(condition) -> set[str]:
    """The item codes a condition reads."""
    if not isinstance(condition, dict) or not condition:
        return set()
    if "item" in condition:
        return {str(condition["item"])}
    parts = condition.get("all") or condition.get("any") or ([condition["not"]] if "not" in condition else [])
    return set().union(*(references(part) for part in parts)) if parts else set()


def check(condition, *, code: str, points: dict[str, set[float] | None], path: str = "show_if") -> list[tuple[str, str]]:
    """Problems of `code`'s condition as (path, message): malformed, unknown items (`points` maps
    each known item code to its scale points, None for free text or an open range), comparisons
    no answer can satisfy. Cycles are found across items by `cycles`."""
    problems: list[tuple[str, str]] = []
    if not isinstance(condition, dict) or len(condition) == 0:
        return [(path, "a condition is an object: {item, op, value}, {all: [...]}, {any: [...]} or {not: ...}")]
    if "item" in condition:
        item, op, value = condition.get("item"), condition.get("op"), condition.get("value")
        if set(condition) - {"item", "op", "value"}:
            problems.append((path, "a comparison has only item, op and value"))
        if item == code:
            problems.append((f"{path}.item", f'"{code}" cannot depend on its own answer'))
        elif item not in points:
            problems.append((f"{path}.item", f'unknown item "{item}"'))
        if op not in OPS and op != "in":
            problems.append((f"{path}.op", f"{op!r} is not one of: {', '.join([*OPS, 'in'])}"))
            return problems
        values = value if op == "in" else [value]
        if op == "in" and (not isinstance(value, list) or not value):
            return [*problems, (f"{path}.value", "\"in\" needs a non-empty list of values")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return [*problems, (f"{path}.value", "compare with numbers (answers are points of the item's scale)")]
        scale = points.get(item)
        if scale:  # an impossible comparison: no point of the scale satisfies it
            test = (lambda p: p in values) if op == "in" else (lambda p: OPS[op](p, value))
            if not any(test(p) for p in scale):
                problems.append((path, f"no answer to \"{item}\" satisfies {op} {value}: the condition never holds"))
        return problems
    keys = set(condition)
    if len(keys) != 1 or not keys <= {"all", "any", "not"}:
        return [(path, "use exactly one of all, any, not (or a comparison {item, op, value})")]
    if "not" in condition:
        return check(condition["not"], code=code, points=points, path=f"{path}.not")
    key = keys.pop()
    parts = condition[key]
    if not isinstance(parts, list) or not parts:
        return [(f"{path}.{key}", f"{key} needs a non-empty list of conditions")]
    for i, part in enumerate(parts):
        problems += check(part, code=code, points=points, path=f"{path}.{key}[{i}]")
    return problems


def cycles(conditions: dict[str, dict]) -> list[list[str]]:
    """Cycles among items' conditions (a shows if b, b shows if a): each as a list of codes."""
    graph = {code: references(cond) for code, cond in conditions.items() if cond}
    found, state = [], {}

    def visit(code, trail):
        if state.get(code) == "done":
            return
        if code in trail:
            found.append(trail[trail.index(code):] + [code])
            return
        for nxt in sorted(graph.get(code, ())):
            visit(nxt, [*trail, code])
        state[code] = "done"

    for code in sorted(graph):
        visit(code, [])
    return found


def evaluate(condition, answers: dict[str, float | None]) -> bool:
    """Whether `condition` holds for `answers` (item code -> the value; None or absent: no answer).
    An empty condition always holds."""
    if not condition:
        return True
    if "item" in condition:
        value = answers.get(condition["item"])
        if value is None:
            return False
        if condition["op"] == "in":
            return value in condition["value"]
        return OPS[condition["op"]](value, condition["value"])
    if "all" in condition:
        return all(evaluate(part, answers) for part in condition["all"])
    if "any" in condition:
        return any(evaluate(part, answers) for part in condition["any"])
    return not evaluate(condition["not"], answers)


def canonical(condition):
    """The condition with its keys in the written order (item, op, value): PostgreSQL's jsonb
    keeps an object's keys shortest first, and the spec must export the same file on both."""
    if not isinstance(condition, dict):
        return condition
    if "item" in condition:
        return {key: condition[key] for key in ("item", "op", "value") if key in condition} | condition
    return {key: ([canonical(part) for part in value] if isinstance(value, list) else canonical(value))
            for key, value in condition.items()}


def describe(condition) -> str:
    """The condition as a sentence for codebooks: 'shown only if side == 1 and not (age < 18)'."""
    if not condition:
        return ""
    if "item" in condition:
        return f"{condition['item']} {condition['op']} {condition['value']}"
    if "not" in condition:
        return f"not ({describe(condition['not'])})"
    key = "all" if "all" in condition else "any"
    joined = f" {'and' if key == 'all' else 'or'} ".join(describe(part) for part in condition[key])
    return f"({joined})" if len(condition[key]) > 1 else joined


def evaluate_known(condition, answers: dict[str, float | None], unknown: set[str]) -> bool | None:
    """Like `evaluate`, but None when the outcome depends on items in `unknown` (asked later in
    this wave, not answered yet): what progress counts "as far as known"."""
    if not condition:
        return True
    if "item" in condition:
        return None if condition["item"] in unknown else evaluate(condition, answers)
    if "not" in condition:
        inner = evaluate_known(condition["not"], answers, unknown)
        return None if inner is None else not inner
    values = [evaluate_known(part, answers, unknown) for part in condition.get("all") or condition.get("any")]
    decisive = "all" not in condition  # any: one True decides; all: one False decides
    if decisive in values:
        return decisive
    return None if None in values else not decisive


# --- Pages ---------------------------------------------------------------------------------------
#
# The study's page order (``Study.page_order``; the spec's ``pages.order``) lists pages by name,
# each with its items and optionally a ``show_if`` of its own. A wave shows the listed pages that
# hold any of its items, in that order (an item's place on its page as listed, or shuffled per
# participant with ``shuffle``), then the wave's other items in each participant's own random
# order, ``items_per_page`` at a time. A listed page is earlier than every unlisted item, so a
# condition may read any item on a listed page before its own.


def plan_pages(order: list[dict], codes: list[str], per_page: int, shuffle, units=None) -> tuple[list[str], list[list]]:
    """One participant's pages of a wave asking `codes`: (item order, [[page name, size], ...]);
    unlisted pages have the name "". `shuffle(list)` shuffles in place (the participant's draw).
    `units(codes)` cuts codes into questions (a matrix's or multiple-choice question's items are
    one question, kept together and in order; default: each item its own question)."""
    units = units or (lambda cs: [[c] for c in cs])
    wanted = set(codes)
    item_order, plan, listed = [], [], set()
    for page in order:
        on_page = units([code for code in page.get("items") or [] if code in wanted])
        listed.update(page.get("items") or [])
        if not on_page:
            continue
        if page.get("shuffle"):
            shuffle(on_page)
        flat = [code for unit in on_page for code in unit]
        item_order += flat
        plan.append([page["name"], len(flat)])
    rest = units([code for code in codes if code not in listed])
    shuffle(rest)
    for start in range(0, len(rest), per_page):
        flat = [code for unit in rest[start:start + per_page] for code in unit]
        item_order += flat
        plan.append(["", len(flat)])
    return item_order, plan


def positions(order: list[dict], codes) -> dict[str, int]:
    """Each listed item's page among the listed pages holding any of `codes` (0-based); unlisted
    items are absent (they come after every listed page, in each participant's own order)."""
    wanted, found, number = set(codes), {}, 0
    for page in order:
        on_page = [code for code in page.get("items") or [] if code in wanted]
        if on_page:
            found.update(dict.fromkeys(on_page, number))
            number += 1
    return found


def order_problems(condition, *, wave: int, asked, places: dict[str, int], own: int | None,
                   code: str = "") -> list[str]:
    """Why `condition` (of an item, or of the page at `own`; None: among the unlisted items) cannot
    be known when its question or page is shown in wave `wave`: it reads an item the same wave asks
    on the same or a later page. Items not asked in this wave (baseline, earlier waves) are fine."""
    problems = []
    for ref in sorted(references(condition) & set(asked) - {code}):
        place = places.get(ref)
        if place is not None and (own is None or place < own):
            continue
        if place is not None and place == own:
            problems.append(f'"{ref}" is on the same page of wave {wave}; move it to an earlier page')
        elif place is not None:
            problems.append(f'"{ref}" is on a later page of wave {wave}; move it to an earlier page')
        elif own is None:
            problems.append(f'"{ref}" is on the same or a later page of wave {wave} for some participants (both are '
                            f"in each participant's own random order); put \"{ref}\" on an earlier page of pages.order")
        else:
            problems.append(f'"{ref}" is on a later page of wave {wave} (it is on no page of pages.order, so it comes '
                            f'after them); put it on an earlier page')
    return problems
