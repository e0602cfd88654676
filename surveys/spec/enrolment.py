"""The spec's ``enrolment`` section: the window, late arrivals, the cap and the quotas
(``surveys/enrolment.py`` applies them)."""

from __future__ import annotations

from surveys.enrolment import POLICIES
from surveys.models import Study
from surveys.spec.sections import (
    ApplyContext,
    Problems,
    Section,
    _iso,
    _obj,
    parse_datetime,
    register,
)

_WHEN = {"type": ["string", "null"], "description": "An ISO date-time (UTC), e.g. 2026-03-01T00:00:00Z; null: none."}

SCHEMA = _obj({
    "opens": _WHEN,
    "closes": _WHEN,
    "closes_when_wave_opens": {"type": ["integer", "null"], "minimum": 1,
                               "description": "Enrolment closes when this wave opens (the earlier of this and `closes`)."},
    "late_arrivals": {"enum": list(POLICIES), "description": "After enrolment closes: refuse newcomers with a clear "
                      "page, or next_wave: enrol them at the next wave that opens, baseline first."},
    "cap": {"type": ["integer", "null"], "minimum": 1, "description": "Most participants overall (null: no cap)."},
    "quotas": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "description": "Most participants per grouping answer: {side: {'1': 500, '2': 500}}."},
    "quota_full_code": {"type": "string", "maxLength": 64,
                        "description": "Prolific code for those a full cap or quota turns away."},
}, description="Who may join and when: a window, late arrivals, an overall cap and quotas per stratum value.")


def export_enrolment(study: Study) -> dict:
    return {"opens": _iso(study.enrol_opens_at) if study.enrol_opens_at else None,
            "closes": _iso(study.enrol_closes_at) if study.enrol_closes_at else None,
            "closes_when_wave_opens": study.enrol_closes_at_wave, "late_arrivals": study.late_arrivals,
            "cap": study.enrol_cap, "quotas": {code: dict(caps) for code, caps in (study.quotas or {}).items()},
            "quota_full_code": study.quota_full_code}


def check_enrolment(spec: dict, problems: Problems) -> None:
    value = spec.get("enrolment")
    if not isinstance(value, dict):
        return
    edges = {}
    for edge in ("opens", "closes"):
        if value.get(edge) is not None:
            edges[edge] = parse_datetime(value[edge])
            if edges[edge] is None:
                problems.add(f"enrolment.{edge}", f"{value[edge]!r} is not an ISO date-time")
    if edges.get("opens") and edges.get("closes") and edges["closes"] <= edges["opens"]:
        problems.add("enrolment.closes", "enrolment must close after it opens")
    waves = {row.get("number") for row in spec.get("waves") or [] if isinstance(row, dict)}
    wave = value.get("closes_when_wave_opens")
    if wave is not None and wave not in waves:
        problems.add("enrolment.closes_when_wave_opens", f"there is no wave {wave}")
    items = {row.get("code"): row for row in spec.get("items") or [] if isinstance(row, dict)}
    for code, caps in (value.get("quotas") or {}).items():
        item = items.get(code)
        if item is None or item.get("role") != "grouping":
            problems.add(f"enrolment.quotas.{code}", f'"{code}" is not a grouping item (quotas count grouping answers)')
            continue
        scale = item.get("scale") or {}
        points = {str(p) for p in range(int(scale.get("min", 1)), int(scale.get("max", 0)) + 1)}
        unknown = sorted(set(caps or {}) - points)
        if unknown:
            problems.add(f"enrolment.quotas.{code}", f"{', '.join(unknown)} not a value of {code}")


def apply_enrolment(ctx: ApplyContext, value: dict) -> None:
    study = ctx.study
    study.enrol_opens_at = parse_datetime(value["opens"]) if value.get("opens") else None
    study.enrol_closes_at = parse_datetime(value["closes"]) if value.get("closes") else None
    study.enrol_closes_at_wave = value.get("closes_when_wave_opens")
    study.late_arrivals = value.get("late_arrivals", "refuse")
    study.enrol_cap = value.get("cap")
    study.quotas = {code: dict(caps) for code, caps in (value.get("quotas") or {}).items()}
    study.quota_full_code = value.get("quota_full_code", "")


register(Section("enrolment", "Enrolment", SCHEMA, export_enrolment, apply_enrolment, check_enrolment))
