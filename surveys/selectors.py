"""Reads for the participant survey and the preview (writes live in services.py)."""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
from dataclasses import dataclass
from functools import cache

from django.core.cache import cache as django_cache
from django.db import connection
from django.utils import timezone

from common import fastsql
from surveys import groups
from surveys.models import (
    Intervention,
    Item,
    Participant,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
    hash_secret,
    translate,
)

# --- Row queries of the participant's hot path ------------------------------------------------------
# Every request to /p/<token>/ runs a handful of one-row reads. For those, Django's query compiler
# costs several times the CPU the database spends on them (about 2 ms against 0.2 ms per query,
# bench/submit.py --profile), so they are written once as SQL over the models' own column lists
# (`common.fastsql`: a new field is picked up without editing them) and turned into model
# instances with the same converters the ORM applies.


def _baseline_due_sql() -> str:
    """A boolean column of the token query: whether a grouping item of the participant's study is
    not answered in their `groups` (what `needs_baseline` asks), or "" on a database where it is
    asked separately."""
    items = f'SELECT 1 FROM {fastsql.table(Item)} i WHERE i."study_id" = p."study_id" AND i."role" = %s'
    if connection.vendor == "postgresql":
        return f", EXISTS ({items} AND NOT jsonb_exists(COALESCE(p.\"groups\", '{{}}'::jsonb), i.\"code\"))"
    if connection.vendor == "sqlite":
        return (f", EXISTS ({items} AND NOT EXISTS (SELECT 1 FROM json_each(COALESCE(p.\"groups\", '{{}}')) j "
                f'WHERE j."key" = i."code"))')
    return ""


@cache
def _token_sql() -> str:
    t, p = fastsql.columns(ParticipantToken, "t"), fastsql.columns(Participant, "p")
    s = fastsql.columns(Study, "s")
    return (f'SELECT {t.sql}, {p.sql}, {s.sql}{_baseline_due_sql()} FROM {fastsql.table(ParticipantToken)} t '
            f'JOIN {fastsql.table(Participant)} p ON p."id" = t."participant_id" '
            f'JOIN {fastsql.table(Study)} s ON s."id" = p."study_id" '
            f'WHERE t."token_hash" = %s AND t."revoked_at" IS NULL')


def get_token(secret: str) -> ParticipantToken | None:
    """The active token of a personal link, with its participant and study; None when unknown
    (as `ParticipantToken.lookup`, in one precompiled query, which also answers `needs_baseline`)."""
    if not secret or len(secret) > 128:
        return None
    sql = _token_sql()
    params = [Item.Role.GROUPING, hash_secret(secret)] if "EXISTS" in sql else [hash_secret(secret)]
    rows = fastsql.rows(sql, params)
    if not rows:
        return None
    t, p = fastsql.columns(ParticipantToken, "t"), fastsql.columns(Participant, "p")
    s = fastsql.columns(Study, "s")
    token = fastsql.instance(t, rows[0], 0)
    participant = fastsql.instance(p, rows[0], t.width)
    study = fastsql.instance(s, rows[0], t.width + p.width)
    Participant.study.field.set_cached_value(participant, study)
    ParticipantToken.participant.field.set_cached_value(token, participant)
    if len(rows[0]) > t.width + p.width + s.width:
        participant._baseline_due = (copy.deepcopy(participant.groups), bool(rows[0][-1]))
    return token


def get_landing_study(slug: str) -> Study | None:
    """A study whose landing page participants may see (active or closed; drafts are hidden)."""
    return Study.objects.filter(slug=slug).exclude(status=Study.Status.DRAFT).first()


def get_returning_participant(*, study: Study, external_id: str, external_study_id: str) -> Participant | None:
    """The participant already known by this Prolific pair, if any: the PROLIFIC_PID with the
    STUDY_ID they joined with, or with the STUDY_ID of one of the study's waves (each Prolific wave
    is a Prolific study of its own, `Wave.prolific_study_id`)."""
    if not external_id:
        return None
    known = Participant.objects.filter(study=study, external_id=external_id, is_preview=False)
    found = known.filter(external_study_id=external_study_id).first()
    if found is None and external_study_id and study.waves.filter(prolific_study_id=external_study_id).exists():
        found = known.order_by("pk").first()
    return found


def get_unopened_join(*, study: Study, join_key: str) -> Participant | None:
    """The participant this browser joined as (by its join cookie's hash) whose link was never
    opened: a join whose response was lost. None once the link was opened."""
    if not join_key:
        return None
    return Participant.objects.filter(study=study, join_key=join_key, link_opened_at__isnull=True,
                                      is_preview=False).first()


def list_grouping_items(study: Study) -> list[Item]:
    return list(study.items.filter(role=Item.Role.GROUPING).order_by("order", "id"))


def list_missing_baseline_items(participant: Participant) -> list[Item]:
    """Grouping items the participant has not answered yet (the baseline page)."""
    answered = set((participant.groups or {}).keys())
    return [item for item in list_grouping_items(participant.study) if item.code not in answered]


def needs_baseline(participant: Participant) -> bool:
    """Whether a grouping item is unanswered (a cheap check: codes only, asked on every page;
    answered by the token query of `get_token` while the participant's groups are as read)."""
    known = getattr(participant, "_baseline_due", None)
    if known is not None and known[0] == participant.groups:
        return known[1]
    answered = set((participant.groups or {}).keys())
    rows = fastsql.rows(f'SELECT "code" FROM {fastsql.table(Item)} WHERE "study_id" = %s AND "role" = %s',
                        [participant.study_id, Item.Role.GROUPING])
    return any(code not in answered for (code,) in rows)


@cache
def _wave_items_sql() -> str:
    through = Wave.items.through
    return (f'SELECT {fastsql.columns(Item, "i").sql} FROM {fastsql.table(Item)} i '
            f'JOIN {fastsql.table(through)} wi ON wi."item_id" = i."id" '
            f'WHERE wi."wave_id" = %s AND i."role" <> %s ORDER BY i."order", i."id"')


class _DesignCache:
    """A wave's items, built once per process for each version of their rows.

    The key is the rows as the database returns them (every column of every item of the wave)
    plus the study's languages, so an edited prompt, label or scale, an item added to or removed
    from the wave, is a new key: nothing to invalidate, never stale. Entries are read-only.
    """

    limit = 256

    def __init__(self):
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, key, build=None):
        entry = self._entries.get(key)
        if entry is None and build is not None:
            entry = build()
            self.put(key, entry)
        return entry

    def put(self, key, entry) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[key] = entry


_designs = _DesignCache()
#: The same designs by (wave, languages, version of the items) (`_items_version_sql`).
_designs_by_version = _DesignCache()


@dataclass(frozen=True)
class WaveDesign:
    """The wave's items by code, in order; `key` names this version (for caches of rendered HTML)."""

    key: tuple
    items: dict


def get_wave_design(wave: Wave, study: Study | None = None) -> WaveDesign:
    """The wave's items (not grouping items, which are asked at baseline). Read once per Wave
    instance: a request asks several times (page, form, service)."""
    cached = getattr(wave, "_design", None)
    if cached is not None:
        return cached
    study = study if study is not None and study.pk == wave.study_id else None
    languages = tuple(study.languages) if study else None
    version = getattr(wave, "_items_version", None)
    if version is not None:
        cached = _designs_by_version.get((wave.pk, languages, version))
        if cached is not None:
            wave._design = cached
            return cached
    rows = fastsql.rows(_wave_items_sql(), [wave.pk, Item.Role.GROUPING])
    key = (wave.pk, languages, tuple(rows))

    def build() -> WaveDesign:
        columns = fastsql.columns(Item, "i")
        items = {}
        for row in rows:
            item = fastsql.instance(columns, row, 0)
            if study is not None and item.study_id == study.pk:
                Item.study.field.set_cached_value(item, study)
            items[item.code] = item
        return WaveDesign(key=key, items=items)

    wave._design = design = _designs.get(key, build)
    if version is not None:  # the rows were read after the version: never older than it
        _designs_by_version.put((wave.pk, languages, version), design)
    return design


def _items_version_sql() -> str:
    """A column of the wave queries naming the version of the wave's items, so that a process
    that has built the design of that version reads no item rows: on PostgreSQL each item's id
    and row version (every UPDATE writes a new version of the row: at another `ctid`, by the
    transaction `xmin`; both, since versions written by one transaction share their `xmin` and a
    vacuumed `ctid` is used again), in id order; an item added, removed or edited is a new
    version. "" elsewhere (the rows themselves are the key there)."""
    if connection.vendor != "postgresql":
        return ""
    through = Wave.items.through
    return (f', (SELECT string_agg(vi."id"::text || \':\' || vi."xmin"::text || vi."ctid"::text, \',\' '
            f'ORDER BY vi."id") '
            f'FROM {fastsql.table(Item)} vi JOIN {fastsql.table(through)} vw ON vw."item_id" = vi."id" '
            f'WHERE vw."wave_id" = w."id")')


def list_wave_items(wave: Wave) -> dict[str, Item]:
    """The wave's items by code (grouping items are asked at baseline, never in a wave)."""
    return get_wave_design(wave, wave.study if Wave.study.is_cached(wave) else None).items


def get_intervention(*, wave: Wave, arm_id: int | None) -> Intervention | None:
    if arm_id is None:
        return None
    rows = fastsql.rows(f'SELECT {fastsql.columns(Intervention, "x").sql} FROM {fastsql.table(Intervention)} x '
                        f'WHERE x."wave_id" = %s AND x."arm_id" = %s', [wave.pk, arm_id])
    return fastsql.instance(fastsql.columns(Intervention, "x"), rows[0], 0) if rows else None


def page_codes(submission: Submission, page: int, per_page: int, items: dict | None = None) -> list[str]:
    """Item codes shown on `page` (0-based) of a submission, in the participant's recorded order.
    With the study's page order, the pages drawn when the wave started; otherwise `per_page`
    questions a page, where (given the wave's `items`) a matrix or multiple-choice question counts
    as one question and is never split (surveys/groups.py)."""
    if submission.page_plan:
        start = sum(size for _name, size in submission.page_plan[:page])
        size = submission.page_plan[page][1] if page < len(submission.page_plan) else 0
        return list(submission.item_order[start:start + size])
    if not items:
        return list(submission.item_order[page * per_page:(page + 1) * per_page])
    units = groups.units(list(submission.item_order), items)
    return [code for unit in units[page * per_page:(page + 1) * per_page] for code in unit]


def page_count(submission: Submission, per_page: int, items: dict | None = None) -> int:
    if submission.page_plan:
        return len(submission.page_plan)
    count = len(groups.units(list(submission.item_order), items)) if items else len(submission.item_order)
    return -(-count // per_page)


def page_condition(study: Study, submission: Submission, page: int) -> dict:
    """The display condition of `page` of a submission (its listed page's `show_if`), or {}."""
    if not submission.page_plan or page >= len(submission.page_plan) or not submission.page_plan[page][0]:
        return {}
    name = submission.page_plan[page][0]
    return next((p.get("show_if") or {} for p in study.page_order or [] if p.get("name") == name), {})


@dataclass(frozen=True)
class ParticipantState:
    """What `/p/<token>/` shows now.

    kind: ``withdrawn``; ``baseline`` (grouping items due); ``intervention`` or ``items`` (of
    `wave`, with `submission` when started); ``waiting`` (nothing open; `next_wave` opens
    later; `completed` is the wave just finished, if any); ``over`` (no wave left). `started`:
    how many submissions the participant has (None when not read).
    """

    kind: str
    wave: Wave | None = None
    submission: Submission | None = None
    next_wave: Wave | None = None
    completed: Submission | None = None
    started: int | None = None


def wave_accepts_answers(*, participant: Participant, wave: Wave, now: dt.datetime | None = None) -> bool:
    """Open waves accept answers; a preview participant's chosen wave does in any state."""
    if participant.is_preview:
        return participant.preview_wave_id == wave.pk
    if participant.study.status != Study.Status.ACTIVE:
        return False
    now = now or timezone.now()
    return wave.state == Wave.State.OPEN and wave.opens_at <= now < wave.closes_at


@cache
def _panel_waves_sql() -> str:
    w, s = fastsql.columns(Wave, "w"), fastsql.columns(Submission, "s")
    return (f'SELECT {w.sql}, {s.sql}{_items_version_sql()} FROM {fastsql.table(Wave)} w '
            f'LEFT JOIN {fastsql.table(Submission)} s ON s."wave_id" = w."id" AND s."participant_id" = %s '
            f'WHERE w."study_id" = %s AND (s."id" IS NOT NULL OR (w."state" <> %s AND w."closes_at" > %s)) '
            f'ORDER BY w."number"')


def _wave_with_submission(row, participant: Participant) -> tuple[Wave, Submission | None]:
    w = fastsql.columns(Wave, "w")
    wave = fastsql.instance(w, row, 0)
    Wave.study.field.set_cached_value(wave, participant.study)
    s = fastsql.columns(Submission, "s")
    submission = fastsql.instance(s, row, w.width)
    if len(row) > w.width + s.width:
        wave._items_version = row[w.width + s.width] or ""
    if submission is not None:
        Submission.wave.field.set_cached_value(submission, wave)
        Submission.participant.field.set_cached_value(submission, participant)
    return wave, submission


def _panel_state(participant: Participant, now: dt.datetime) -> ParticipantState:
    """The state of a participant of an active study (not a preview), read in one query: every
    wave they started and every wave not closed yet, each with their submission. Decides as the
    general path below does."""
    rows = fastsql.rows(_panel_waves_sql(), [participant.pk, participant.study_id, Wave.State.CLOSED,
                                             fastsql.param(Wave, "closes_at", now)])
    waves = [_wave_with_submission(row, participant) for row in rows]
    started = sum(1 for _wave, submission in waves if submission is not None)
    first = participant.first_wave or 1
    for wave, submission in waves:  # in number order
        if wave.state != Wave.State.OPEN or not wave.opens_at <= now < wave.closes_at:
            continue
        if participant.first_wave and wave.number < participant.first_wave:
            continue  # a late arrival: waves before their first are not theirs
        if submission is None or submission.completed_at is None:
            return ParticipantState(kind="items", wave=wave, submission=submission, started=started)
    done = [s for _wave, s in waves if s is not None and s.completed_at is not None]
    completed = max(done, key=lambda s: s.completed_at, default=None)
    coming = [wave for wave, submission in waves
              if wave.state != Wave.State.CLOSED and wave.closes_at > now and wave.number >= first
              and (submission is None or submission.completed_at is None)]
    next_wave = min(coming, key=lambda wave: (wave.opens_at, wave.number), default=None)
    if next_wave is None:
        return ParticipantState(kind="over", completed=completed, started=started)
    return ParticipantState(kind="waiting", next_wave=next_wave, completed=completed, started=started)


@cache
def _wave_by_number_sql() -> str:
    w, s = fastsql.columns(Wave, "w"), fastsql.columns(Submission, "s")
    return (f'SELECT {w.sql}, {s.sql}{_items_version_sql()} FROM {fastsql.table(Wave)} w '
            f'LEFT JOIN {fastsql.table(Submission)} s ON s."wave_id" = w."id" AND s."participant_id" = %s '
            f'WHERE w."study_id" = %s AND w."number" = %s')


def get_wave_and_submission(participant: Participant, number: int | None) -> tuple[Wave | None, Submission | None]:
    """The study's wave `number` and the participant's submission for it (None when not started)."""
    if number is None:
        return None, None
    rows = fastsql.rows(_wave_by_number_sql(), [participant.pk, participant.study_id, number])
    return _wave_with_submission(rows[0], participant) if rows else (None, None)


@cache
def _lock_submission_sql() -> str:
    s, p = fastsql.columns(Submission, "s"), fastsql.columns(Participant, "p")
    lock = ""
    if connection.features.has_select_for_update:  # PostgreSQL; SQLite serialises writers anyway
        lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return (f'SELECT {s.sql}, {p.sql} FROM {fastsql.table(Submission)} s '
            f'JOIN {fastsql.table(Participant)} p ON p."id" = s."participant_id" '
            f'WHERE s."participant_id" = %s AND s."wave_id" = %s{lock}')


def lock_submission(*, participant: Participant, wave: Wave) -> Submission | None:
    """The participant's submission for `wave`, row-locked until the transaction ends, with a
    fresh copy of the participant (None when not started). Call inside `transaction.atomic`."""
    rows = fastsql.rows(_lock_submission_sql(), [participant.pk, wave.pk])
    if not rows:
        return None
    s = fastsql.columns(Submission, "s")
    submission = fastsql.instance(s, rows[0], 0)
    fresh = fastsql.instance(fastsql.columns(Participant, "p"), rows[0], s.width)
    Submission.participant.field.set_cached_value(submission, fresh)
    Submission.wave.field.set_cached_value(submission, wave)
    return submission


def get_participant_state(participant: Participant, *, now: dt.datetime | None = None) -> ParticipantState:
    """Decide which page the participant's link shows now."""
    now = now or timezone.now()
    if participant.withdrawn_at is not None:
        return ParticipantState(kind="withdrawn")
    if participant.screened_out_at is not None:
        return ParticipantState(kind="screened_out")
    if needs_baseline(participant):
        return ParticipantState(kind="baseline")
    study = participant.study
    if not participant.is_preview and study.status == Study.Status.ACTIVE:
        return _panel_state(participant, now)
    # A preview, or a study no longer active.
    waves = Wave.objects.filter(pk=participant.preview_wave_id) if participant.is_preview else Wave.objects.none()
    submissions = {s.wave_id: s for s in Submission.objects.filter(participant=participant)}
    for wave in waves:
        submission = submissions.get(wave.pk)
        if participant.first_wave and wave.number < participant.first_wave:
            continue
        if submission is None or submission.completed_at is None:
            return ParticipantState(kind="items", wave=wave, submission=submission)
    completed = max((s for s in submissions.values() if s.completed_at), key=lambda s: s.completed_at, default=None)
    return ParticipantState(kind="over", completed=completed)


def list_my_answers(participant: Participant, *, language: str) -> list[dict]:
    """The participant's own answers, one row each, for the my-data download (baseline first)."""
    rows: list[dict] = []
    study = participant.study
    grouping = {item.code: item for item in list_grouping_items(study)}
    for code, value in sorted((participant.groups or {}).items()):
        item = grouping.get(code)
        label = item.value_labels(language).get(str(value), "") if item and value is not None else ""
        rows.append({
            "participant": participant.public_id, "wave": "baseline", "item": code,
            "question": item.prompt_in(language) if item else "", "value": "" if value is None else value,
            "value_label": label, "text": "", "missing": "dont_know" if value is None else "",
            "answered_at": participant.assigned_at.isoformat() if participant.assigned_at else "",
        })
    responses = (Response.objects.filter(submission__participant=participant)
                 .select_related("item", "item__study", "submission__wave")
                 .order_by("submission__wave__number", "item__order", "item__id"))
    for response in responses:
        item = response.item
        value = response.value
        shown = "" if value is None else (int(value) if float(value).is_integer() else value)
        rows.append({
            "participant": participant.public_id, "wave": response.submission.wave.number, "item": item.code,
            "question": item.question_in(language), "value": shown,
            "value_label": item.value_labels(language).get(str(shown), "") if value is not None else "",
            "text": response.text, "missing": response.missing, "answered_at": response.answered_at.isoformat(),
        })
    return rows


def completion_text(study: Study, language: str) -> str:
    return translate(study.completion_text, language, study.default_language)


#: Seconds one question takes when the study has too few finished waves to measure it.
DEFAULT_SECONDS_PER_ITEM = 12.0
_PACE_SAMPLE = 200
_PACE_MIN_SAMPLES = 5


def seconds_per_item(study_id: int) -> float:
    """The median time participants of the study took per question in their latest completed
    waves (cached for ten minutes), or DEFAULT_SECONDS_PER_ITEM with fewer than five of them."""
    key = f"surveys:pace:{study_id}"
    pace = django_cache.get(key)
    if pace is None:
        rows = (Submission.objects
                .filter(wave__study_id=study_id, completed_at__isnull=False, duration_seconds__isnull=False,
                        participant__is_preview=False)
                .order_by("-completed_at").values_list("duration_seconds", "item_order")[:_PACE_SAMPLE])
        paces = sorted(seconds / len(order) for seconds, order in rows if order)
        pace = paces[len(paces) // 2] if len(paces) >= _PACE_MIN_SAMPLES else DEFAULT_SECONDS_PER_ITEM
        pace = min(max(pace, 2.0), 120.0)  # a forgotten tab is not a pace
        django_cache.set(key, pace, 600)
    return pace


def minutes_left(items_left: int, pace: float) -> int:
    """Whole minutes (at least 1) that `items_left` questions take at `pace` seconds each."""
    return max(1, math.ceil(items_left * pace / 60)) if items_left > 0 else 0


def prior_answers(participant: Participant, wave: Wave) -> dict[str, float | None]:
    """What display conditions read: the baseline answers and, per item, the latest answer up to
    this wave: this wave's earlier pages (all of this wave that is stored yet), else the latest
    earlier wave (None for a missing code)."""
    answers: dict[str, float | None] = dict(participant.groups or {})
    rows = (Response.objects.filter(submission__participant=participant, submission__wave__study_id=wave.study_id,
                                    submission__wave__number__lte=wave.number)
            .order_by("submission__wave__number").values_list("item__code", "value"))
    for code, value in rows:
        answers[code] = value
    return answers


def hidden_codes(participant: Participant, wave: Wave, items, answers: dict | None = None) -> set[str]:
    """The codes among `items` whose display condition does not hold: asked for no answer, stored
    as "not shown". No query unless one of them has a condition."""
    conditional = [item for item in items if item.show_if]
    if not conditional:
        return set()
    from surveys import logic

    answers = prior_answers(participant, wave) if answers is None else answers
    return {item.code for item in conditional if not logic.evaluate(item.show_if, answers)}


def has_logic(study: Study, items) -> bool:
    """Whether anything of a wave's pages may be hidden (a page or one of `items` has a condition)."""
    return any(p.get("show_if") for p in study.page_order or []) or any(item.show_if for item in items)


def page_hidden(participant: Participant, wave: Wave, submission: Submission, page: int, items: dict,
                answers: dict) -> bool:
    """Whether `page` is skipped: its page condition does not hold, or every question on it is hidden."""
    from surveys import logic

    if not logic.evaluate(page_condition(participant.study, submission, page), answers):
        return True
    codes = [c for c in page_codes(submission, page, participant.study.items_per_page, items) if c in items]
    return bool(codes) and not (set(codes) - hidden_codes(participant, wave, [items[c] for c in codes], answers))


@dataclass(frozen=True)
class Progress:
    page_number: int
    pages: int
    items_left: int


def progress(participant: Participant, wave: Wave, submission: Submission, items: dict,
             answers: dict | None = None) -> Progress:
    """'Page x of y' and the questions left, counting only pages and questions that are shown as
    far as known: pages before this one as they were, later ones unless their conditions already
    fail on the answers so far (a condition on a question not answered yet counts as shown)."""
    from surveys import logic

    per_page = participant.study.items_per_page
    pages = page_count(submission, per_page, items)
    current = submission.page
    if not has_logic(participant.study, items.values()):
        done = sum(len(page_codes(submission, q, per_page, items)) for q in range(current))
        return Progress(current + 1, pages, len(submission.item_order) - done)
    answers = prior_answers(participant, wave) if answers is None else answers
    unknown = {c for q in range(current, pages) for c in page_codes(submission, q, per_page, items)}
    before = sum(1 for q in range(current) if not page_hidden(participant, wave, submission, q, items, answers))
    shown_pages, items_left = 0, 0
    for q in range(current, pages):
        if q > current and logic.evaluate_known(page_condition(participant.study, submission, q), answers,
                                                unknown) is False:
            continue
        codes = [c for c in page_codes(submission, q, per_page, items) if c in items]
        maybe = [c for c in codes if logic.evaluate_known(items[c].show_if, answers, unknown) is not False]
        if q > current and codes and not maybe:
            continue
        shown_pages += 1
        items_left += len(maybe)
    return Progress(before + 1, before + shown_pages, items_left)
