"""Study-as-code: export a study's design as a specification, and lay a specification into the
database (creating a study or updating one, with a diff), through the same validation and the
same refusals wherever it comes from: the command line, the API or the builder.

Who may call these is decided by the entry point through `common.access` (owners write the
design); the service only checks the specification and the collected data.
"""

from __future__ import annotations

import copy
import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from common.sanitize import sanitize_translations
from surveys.models import DesignChange, Membership, Study
from surveys.spec.schema import SPEC_VERSION
from surveys.spec.sections import SECTIONS, ApplyContext, Problem
from surveys.spec.validate import validate_spec


class SpecError(Exception):
    """A specification that cannot be applied; `problems` are lines to show as they are."""

    title = "The specification cannot be applied"

    def __init__(self, problems: list):
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


class SpecInvalid(SpecError):
    title = "The specification is not valid"


class SpecRefused(SpecError):
    title = "The change would invalidate collected data"


@dataclass(frozen=True)
class Change:
    """One changed value between two specifications; `before` None = added, `after` None = removed."""

    path: str
    before: object = None
    after: object = None

    @property
    def verb(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"

    def __str__(self) -> str:
        if self.before is None:
            return f"+ {self.path}: {_short(self.after)}"
        if self.after is None:
            return f"- {self.path}: {_short(self.before)}"
        return f"~ {self.path}: {_short(self.before)} -> {_short(self.after)}"


def _short(value, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ApplyResult:
    study: Study
    created: bool
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False


# --- Export ---------------------------------------------------------------------------------------


def export_spec(study: Study) -> dict:
    """The study's design as a specification (every section, in registry order)."""
    spec = {"spec_version": SPEC_VERSION}
    for section in SECTIONS:
        spec[section.key] = section.export(study)
    return _in_language_order(spec, list(study.languages or []))


def _in_language_order(value, languages: list[str]):
    """Every translated text ({en: ..., de: ...}) with its languages in the study's declared order.
    PostgreSQL's jsonb keeps an object's keys in its own order (shortest first), SQLite as written:
    without this the same design would export differently on the two."""
    if isinstance(value, list):
        return [_in_language_order(v, languages) for v in value]
    if not isinstance(value, dict):
        return value
    if value and all(k in languages for k in value) and all(isinstance(v, str) for v in value.values()):
        return {lang: value[lang] for lang in languages if lang in value}
    return {k: _in_language_order(v, languages) for k, v in value.items()}


# --- Diff -----------------------------------------------------------------------------------------

_ID_FIELDS = ("code", "number", "name", "version", "arm")


def _identity(row) -> str | None:
    if not isinstance(row, dict):
        return None
    if "kind" in row and "language" in row and "subject" in row:  # message templates
        return f"{row['kind']}.{row['language']}"
    for name in _ID_FIELDS:
        if name in row:
            return str(row[name])
    return None


def _keyed(rows) -> dict | None:
    if not isinstance(rows, list) or not rows:
        return None
    keys = [_identity(r) for r in rows]
    if None in keys or len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, rows, strict=True))


def diff_specs(before: dict, after: dict) -> list[Change]:
    """What changes from `before` to `after`, by path: ``items.q1.prompt.en``, ``waves.2.items``.
    Rows of lists are matched by their identity (an item's code, a wave's number, an arm's name)."""
    changes: list[Change] = []

    def walk(a, b, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            pairs = (a, b)
        else:
            ka, kb = _keyed(a), _keyed(b)
            if ka is not None and kb is not None or (ka is not None and b == []) or (kb is not None and a == []):
                pairs = (ka or {}, kb or {})
            else:
                if a != b:
                    changes.append(Change(path, a, b))
                return
        left, right = pairs
        for key in [*left, *[k for k in right if k not in left]]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in right:
                changes.append(Change(sub, left[key], None))
            elif key not in left:
                changes.append(Change(sub, None, right[key]))
            else:
                walk(left[key], right[key], sub)

    walk(before, after, "")
    return changes


# --- Apply ----------------------------------------------------------------------------------------

#: Study fields whose model errors are reported at these paths of the file.
_STUDY_FIELD_PATHS = {"slug": "study.slug", "languages": "study.languages", "title": "study.title",
                      "reminder_delays_hours": "messages.reminder_delays_hours", "completion_url": "completion.url",
                      "items_per_page": "pages.items_per_page", "primary_outcome": "study.primary_outcome"}


def _empty(section) -> object:
    return [] if section.schema.get("type") == "array" else {}


def _model_problems(error: ValidationError, where: str) -> list[Problem]:
    if hasattr(error, "error_dict"):
        return [Problem(_STUDY_FIELD_PATHS.get(name, f"{where}.{name}" if where else name), " ".join(map(str, msgs)))
                for name, msgs in error.message_dict.items()]
    return [Problem(where, " ".join(error.messages))]


def sanitize_spec(data: dict) -> dict:
    """A copy of `data` whose rich texts participants read (consent, interventions, the
    thank-you text) went through the allow-list sanitizer (common/sanitize.py)."""
    data = copy.deepcopy(data)
    for consent in data.get("consent") or []:
        consent["text"] = sanitize_translations(consent["text"])
    for wave in data.get("waves") or []:
        for shown in wave.get("interventions") or []:
            shown["content"] = sanitize_translations(shown["content"])
            if shown.get("title"):
                shown["title"] = sanitize_translations(shown["title"])
    if (data.get("completion") or {}).get("text"):
        data["completion"]["text"] = sanitize_translations(data["completion"]["text"])
    return data


def launch_anchor(study: Study | None) -> dt.datetime:
    """Where wave offsets (``opens_after_days``) count from: the study's launch when it has one,
    else the coming midnight (UTC): a design imported today starts tomorrow."""
    launched = getattr(study, "launched_at", None) if study is not None else None
    if launched:
        return launched
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=1)


def is_launched(study: Study) -> bool:
    """A study is launched once it left the draft state: from then on its changes are logged."""
    return study.status != Study.Status.DRAFT


def check_refusals(study: Study, spec: dict) -> list[str]:
    """The changes of `spec` that would invalidate data collected in `study`."""
    ctx = ApplyContext(study=study, spec=spec, anchor=launch_anchor(study))
    reasons: list[str] = []
    for section in SECTIONS:
        reasons += section.refuse(ctx, spec.get(section.key, _empty(section)))
    return reasons


def apply_spec(*, data, user=None, owner=None, slug: str | None = None, dry_run: bool = False,
               source: str = DesignChange.Source.IMPORT, anchor: dt.datetime | None = None) -> ApplyResult:
    """Create the study of `data` or update it (by slug) to match. Atomic: a spec that is not
    valid (SpecInvalid) or would invalidate collected data (SpecRefused) changes nothing; a dry
    run reports the changes and rolls them back. Changes to a launched study are logged."""
    problems = validate_spec(data)
    if problems:
        raise SpecInvalid(problems)
    data = sanitize_spec(data)
    if slug:
        data["study"]["slug"] = slug
    slug = data["study"]["slug"]
    try:
        with transaction.atomic():
            result = _apply(data, slug=slug, user=user, owner=owner, source=source, anchor=anchor)
            result.dry_run = dry_run
            if dry_run:
                transaction.set_rollback(True)
    except ValidationError as error:
        raise SpecInvalid(_model_problems(error, "")) from None
    except DatabaseError as error:
        raise SpecInvalid([Problem("", f"the database refused the design: {error}")]) from None
    return result


def _apply(data: dict, *, slug: str, user, owner, source: str, anchor) -> ApplyResult:
    study = Study.objects.select_for_update().filter(slug=slug).first()
    created = study is None
    before = None
    if created:
        study = Study(slug=slug)
        SECTIONS[0].apply(ApplyContext(study=study, spec=data, anchor=timezone.now()), data["study"])
        study.full_clean(exclude=["members"])
        study.save()
    else:
        reasons = check_refusals(study, data)
        if reasons:
            raise SpecRefused(reasons)
        before = export_spec(study)
    ctx = ApplyContext(study=study, spec=data, anchor=anchor or launch_anchor(study))
    for section in SECTIONS:
        try:
            section.apply(ctx, data.get(section.key, _empty(section)))
        except ValidationError as error:
            raise SpecInvalid(_model_problems(error, section.key)) from None
    study.full_clean(exclude=["members", "slug"])
    study.save()
    if owner is not None:
        Membership.objects.get_or_create(study=study, user=owner, defaults={"role": Membership.Role.OWNER})
    changes = diff_specs(before, export_spec(study)) if before is not None else []
    if changes and is_launched(study):
        log_changes(study=study, changes=changes, user=user, source=source)
    return ApplyResult(study=study, created=created, changes=changes)


def log_changes(*, study: Study, changes: list[Change], user, source: str) -> list[DesignChange]:
    """One log row per changed value of a launched study's design."""
    username = getattr(user, "get_username", lambda: "")() if user is not None else ""
    return DesignChange.objects.bulk_create([
        DesignChange(study=study, user=user if getattr(user, "pk", None) else None, username=username,
                     source=source, path=change.path[:300], before=change.before, after=change.after)
        for change in changes
    ])


@contextmanager
def logging_design_changes(study: Study, *, user, source: str):
    """Log what the block changes in a launched study's design (for writers other than
    `apply_spec`: the design API's item, wave, arm and study endpoints)."""
    before = export_spec(study) if is_launched(study) else None
    yield
    if before is not None:
        changes = diff_specs(before, export_spec(Study.objects.get(pk=study.pk)))
        if changes:
            log_changes(study=study, changes=changes, user=user, source=source)


def design_change_log(study: Study) -> list[dict]:
    """The study's logged design changes, oldest first, as the codebook and the design page show them."""
    return [{"changed_at": c.changed_at.astimezone(dt.UTC).isoformat(), "by": c.username, "source": c.source,
             "path": c.path, "before": c.before, "after": c.after}
            for c in study.design_changes.order_by("changed_at", "id")]
