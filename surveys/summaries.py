"""The panel counts (`PanelCount`): enrolment, invitations, starts and completions per study,
wave and arm, kept by the write path in the transaction of each write, so that the overview and
attrition pages read a few dozen rows whatever the number of participants.

How they stay exact:
- the participant's hot path adds one to `started` (`count_started`, with the new submission)
  and to `completed` (`count_completed`, with the last page): one statement each;
- a participant counts as joined (enrolled) from the first opening of their personal link
  (`Participant.objects.enrolled()`; `count_link_opened`, where `mark_link_opened` sets
  `link_opened_at`), not from their creation: a web join whose link never arrived counts for
  no enrolment (it still counts for `analysable`, as `Participant.objects.analysable()`);
- rows created through the ORM (a participant joining, a submission, an exclusion or a sent
  message created in the admin, the API or a fixture) are counted by post_save receivers;
- every other write that changes what a participant counts for (arm assignment, withdrawal,
  exclusions, deletions, messages sent, edits in the admin) runs inside
  `tracking(participant_ids)`, which counts those participants before and after the write and
  adds the difference;
- a new wave, or a wave whose times changed, is counted again from the raw rows (`recount_wave`,
  from the `Wave` post_save receiver connected in `SurveysConfig.ready`); the readers treat a
  wave whose counted times differ from its own as stale (`read_panel_counts` returns None, and
  the pages count the raw rows);
- `recount_study` (and `manage.py recount_panel`) counts a study again from the raw rows, for
  data loaded around the write path (bulk COPY, restores).

The stratum counts (`StratumCount`): per study and grouping answer (code, value), the
participants the cap and quotas count (`surveys.enrolment.enrolled`: enrolled, not withdrawn, not
screened out). They are part of what a participant counts for (`_contributions`), so every hook
above keeps them too (link opening, withdrawal, deletions, admin edits, joins, recounts); the
baseline, which sets the grouping answers or screens the participant out, adds the difference
itself (`count_strata`: one statement, none when nothing changes). `enrolment.full_quota` reads
them under the study-row lock of the baseline, `enrolment.overview` for the page.
`tests/surveys/test_summaries.py` compares every count with the raw aggregation after random
joins, answers, baselines, withdrawals, screen-outs, exclusions, deletions and messages.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from common import fastsql
from surveys.models import Arm, Exclusion, Message, PanelCount, Participant, Submission, Wave
from surveys.models.summaries import COUNTS, STUDY_COUNTS, WAVE_COUNTS, StratumCount

#: `wave_key` of the study-wide rows.
STUDY = 0
#: `arm_key` of participants without an arm.
NO_ARM = 0
_CHUNK = 2000

Key = tuple[int, int, int, str]  # study, wave_key, arm_key, count


class StratumKey(NamedTuple):
    """The key of a stratum count in a Counter of contributions (the others are `Key`s)."""

    study_id: int
    code: str
    value: str


def stratum_value(value) -> str:
    """A grouping answer in the canonical form of `StratumCount.value`: numbers as JSON
    compares them (1 and 1.0 are the same answer: "1"; 1.5: "1.5"), anything else as JSON
    ("null", '"text"', so a text answer never meets a number)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return json.dumps(value, sort_keys=True)


def _strata(study_id: int, groups, *, counted: bool) -> Counter:
    """What one participant adds to the stratum counts: one per grouping answer when `counted`
    (they are among `enrolment.enrolled`)."""
    if not counted or not isinstance(groups, dict):
        return Counter()
    return Counter({StratumKey(study_id, str(code), stratum_value(value)): 1 for code, value in groups.items()})


def strata_of(participant: Participant) -> Counter:
    """What `participant` (as loaded) adds to the stratum counts."""
    counted = (not participant.is_preview and participant.link_opened_at is not None
               and participant.withdrawn_at is None and participant.screened_out_at is None)
    return _strata(participant.study_id, participant.groups, counted=counted)


# --- What participants count for ----------------------------------------------------------------------


def _contributions(*, participant_ids: Iterable[int] | None = None, study_id: int | None = None,
                   wave_ids: set[int] | None = None, unopened: frozenset[int] = frozenset()) -> Counter:
    """What the given participants (or every participant of `study_id`) add to each count, from
    the raw rows: Counter[(study, wave_key, arm_key, count)]. `wave_ids` limits the wave rows;
    participants in `unopened` are counted as if they had not opened their link yet."""
    result: Counter = Counter()
    if participant_ids is not None:
        ids = sorted(set(participant_ids))
        for start in range(0, len(ids), _CHUNK):
            _add_contributions(result, Participant.objects.filter(pk__in=ids[start:start + _CHUNK]), wave_ids,
                               unopened)
        return result
    people = Participant.objects.filter(study_id=study_id, is_preview=False)
    ids = list(people.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), _CHUNK * 5):
        _add_contributions(result, Participant.objects.filter(pk__in=ids[start:start + _CHUNK * 5]), wave_ids,
                           unopened)
    return result


def _add_contributions(result: Counter, people, wave_ids: set[int] | None,
                       unopened: frozenset[int] = frozenset()) -> None:
    excluded = Exclusion.objects.filter(participant=OuterRef("pk"), lifted_at__isnull=True)
    rows = list(people.filter(is_preview=False).annotate(excluded=Exists(excluded)).order_by()
                .values_list("pk", "study_id", "arm_id", "joined_at", "consented_at", "withdrawn_at", "excluded",
                             "link_opened_at", "screened_out_at", "groups"))
    if not rows:
        return
    ids = [row[0] for row in rows]
    waves: dict[int, list[tuple[int, dt.datetime, dt.datetime]]] = defaultdict(list)
    for wave_id, study_id, opens_at, closes_at in Wave.objects.filter(
            study_id__in={row[1] for row in rows}).order_by().values_list("pk", "study_id", "opens_at", "closes_at"):
        if wave_ids is None or wave_id in wave_ids:
            waves[study_id].append((wave_id, opens_at, closes_at))
    submitted: dict[int, dict[int, bool]] = defaultdict(dict)
    for participant_id, wave_id, completed_at in Submission.objects.filter(participant_id__in=ids).order_by() \
            .values_list("participant_id", "wave_id", "completed_at"):
        submitted[participant_id][wave_id] = completed_at is not None
    messaged: dict[int, set[tuple[int, bool]]] = defaultdict(set)
    for participant_id, wave_id, kind in Message.objects.filter(
            participant_id__in=ids, status=Message.Status.SENT).order_by() \
            .values_list("participant_id", "wave_id", "kind").distinct():
        messaged[participant_id].add((wave_id, kind == "invitation"))
    for pk, study_id, arm_id, joined_at, consented_at, withdrawn_at, excluded, link_opened_at, screened_out_at, \
            groups in rows:
        arm = arm_id or NO_ARM
        active = withdrawn_at is None
        # Enrolled (`Participant.objects.enrolled()`): from the first opening of their link on.
        opened = link_opened_at is not None and pk not in unopened
        # `enrolment.enrolled`: who counts against the cap and the quotas.
        result.update(_strata(study_id, groups, counted=opened and active and screened_out_at is None))
        result[(study_id, STUDY, arm, "joined")] += opened
        result[(study_id, STUDY, arm, "consented")] += opened and consented_at is not None
        result[(study_id, STUDY, arm, "active")] += opened and active
        result[(study_id, STUDY, arm, "analysable")] += active and not excluded  # `analysable()`
        mine, sent = submitted.get(pk, {}), messaged.get(pk, set())
        for wave_id, opens_at, closes_at in waves[study_id]:
            joined_before = opened and joined_at < closes_at
            completed = mine.get(wave_id, False)
            counts = {
                "enrolled": joined_before and (active or withdrawn_at >= opens_at),
                "invited": (wave_id, True) in sent, "reminded": (wave_id, False) in sent,
                "started": wave_id in mine, "completed": completed,
                "current": active and joined_before, "current_completed": active and joined_before and completed,
            }
            for name, value in counts.items():
                if value:
                    result[(study_id, wave_id, arm, name)] += 1


# --- Writing the counts --------------------------------------------------------------------------------


def _apply(delta: Counter) -> None:
    """Add `delta` to the stored counts: one upsert for the panel counts, one for the stratum
    counts (none when nothing changes), rows in key order (concurrent writers lock them in the
    same order)."""
    rows: dict[tuple[int, int, int], dict[str, int]] = defaultdict(dict)
    strata: dict[StratumKey, int] = {}
    for key, value in delta.items():
        if not value:
            continue
        if isinstance(key, StratumKey):
            strata[key] = value
        else:
            study_id, wave_key, arm_key, name = key
            rows[(study_id, wave_key, arm_key)][name] = value
    if strata:
        fastsql.execute(*_strata_statement(sorted(strata.items())))
    if not rows:
        return
    times = dict((pk, (opens, closes)) for pk, opens, closes in Wave.objects.filter(
        pk__in={wave for _s, wave, _a in rows if wave != STUDY}).values_list("pk", "opens_at", "closes_at"))
    _upsert([(key, counts, times.get(key[1], (None, None))) for key, counts in sorted(rows.items())])


def _upsert(rows: list) -> None:
    """rows: [((study, wave_key, arm_key), {count: delta}, (opens_at, closes_at))]."""
    fastsql.execute(*_upsert_statement(rows))


def _upsert_statement(rows: list) -> fastsql.Statement:
    quote = connection.ops.quote_name
    table = fastsql.table(PanelCount)
    columns = ["study_id", "wave_key", "arm_key", "counted", "opens_at", "closes_at", *COUNTS]
    values, params = [], []
    for (study_id, wave_key, arm_key), counts, (opens_at, closes_at) in rows:
        values.append("(" + ", ".join(["%s"] * len(columns)) + ")")
        params += [study_id, wave_key, arm_key, False, fastsql.param(PanelCount, "opens_at", opens_at),
                   fastsql.param(PanelCount, "closes_at", closes_at), *(counts.get(name, 0) for name in COUNTS)]
    updates = ", ".join(f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in COUNTS)
    sql = (f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES {', '.join(values)} "
           f"ON CONFLICT ({quote('study_id')}, {quote('wave_key')}, {quote('arm_key')}) DO UPDATE SET {updates}")
    return sql, params


def _strata_statement(rows: list[tuple[StratumKey, int]]) -> fastsql.Statement:
    quote = connection.ops.quote_name
    table = fastsql.table(StratumCount)
    columns = ["study_id", "code", "value", "enrolled"]
    sql = (f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES "
           f"{', '.join(['(%s, %s, %s, %s)'] * len(rows))} "
           f"ON CONFLICT ({quote('study_id')}, {quote('code')}, {quote('value')}) DO UPDATE SET "
           f"{quote('enrolled')} = {table}.{quote('enrolled')} + excluded.{quote('enrolled')}")
    return sql, [param for (study_id, code, value), number in rows for param in (study_id, code, value, number)]


def count_strata(before: Counter, after: Counter, *, participant_id: int) -> None:
    """The participant's grouping answers or screening changed from what `strata_of` gave
    `before` to `after` (same transaction; nothing when they are tracked, `tracking` counts them)."""
    if participant_id in _tracked():
        return
    delta = Counter(after)
    delta.subtract(before)
    _apply(delta)


def started_statement(*, participant: Participant, wave: Wave) -> fastsql.Statement | None:
    """What `count_started` writes, as a statement to run with the new submission (None for a
    preview, which counts for nothing)."""
    if participant.is_preview:
        return None
    return _upsert_statement([((participant.study_id, wave.pk, participant.arm_id or NO_ARM), {"started": 1},
                               (wave.opens_at, wave.closes_at))])


def count_started(*, participant: Participant, wave: Wave) -> None:
    """The participant's first submission for `wave` was stored (same transaction)."""
    statement = started_statement(participant=participant, wave=wave)
    if statement is not None:
        fastsql.execute(*statement)


def completed_statement(*, participant: Participant, wave: Wave) -> fastsql.Statement | None:
    """What `count_completed` writes, as a statement to run with the submission's last page
    (None for a preview)."""
    if participant.is_preview:
        return None
    current = int(participant.withdrawn_at is None and participant.link_opened_at is not None
                  and participant.joined_at < wave.closes_at)
    return _upsert_statement([((participant.study_id, wave.pk, participant.arm_id or NO_ARM),
                               {"completed": 1, "current_completed": current}, (wave.opens_at, wave.closes_at))])


def count_completed(*, participant: Participant, wave: Wave) -> None:
    """The participant's submission for `wave` was completed (same transaction)."""
    statement = completed_statement(participant=participant, wave=wave)
    if statement is not None:
        fastsql.execute(*statement)


def count_joined(participant_ids: Iterable[int]) -> None:
    """New participants were stored (same transaction). Those whose link is not opened yet (a
    web join) count for nothing enrolled until `surveys.services.mark_link_opened` (`count_link_opened`)."""
    _apply(_contributions(participant_ids=participant_ids))


def count_link_opened(participant_id: int) -> None:
    """The participant opened their link for the first time (this transaction set
    `link_opened_at` and holds their row): from now on they count as enrolled."""
    delta = _contributions(participant_ids=[participant_id])
    delta.subtract(_contributions(participant_ids=[participant_id], unopened=frozenset([participant_id])))
    _apply(delta)


_local = threading.local()


def _tracked() -> set[int]:
    if not hasattr(_local, "ids"):
        _local.ids = set()
    return _local.ids


@contextmanager
def tracking(participant_ids: Iterable[int]):
    """Around a write that changes what these participants count for (their arm, withdrawal,
    exclusion, submissions, messages, their deletion): counts them before and after and stores
    the difference, in the caller's transaction (opened here if there is none). The post_save
    receivers below leave these participants alone meanwhile."""
    ids = sorted(set(participant_ids))
    tracked = _tracked()
    mine = set(ids) - tracked
    with transaction.atomic():
        before = _contributions(participant_ids=ids) if ids else Counter()
        tracked |= mine
        try:
            yield
        finally:
            tracked -= mine
        after = _contributions(participant_ids=ids) if ids else Counter()
        delta = Counter(after)
        delta.subtract(before)
        _apply(delta)


# Rows created through the ORM (joining, the admin, API, factories and fixtures) are counted by
# these post_save receivers, connected in `SurveysConfig.ready`; the participant's hot path writes
# its submissions with one statement and counts them itself (`count_started`, `count_completed`).


def participant_saved(sender, instance: Participant, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and not instance.is_preview and instance.pk not in _tracked():
        count_joined([instance.pk])


def submission_saved(sender, instance: Submission, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and instance.participant_id not in _tracked():
        participant = Participant.objects.get(pk=instance.participant_id)
        wave = Wave.objects.get(pk=instance.wave_id)
        count_started(participant=participant, wave=wave)
        if instance.completed_at is not None:
            count_completed(participant=participant, wave=wave)


def exclusion_saved(sender, instance: Exclusion, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and instance.lifted_at is None and instance.participant_id not in _tracked():
        # At most one active exclusion per participant (a constraint): this one made them unanalysable.
        person = Participant.objects.filter(pk=instance.participant_id, is_preview=False, withdrawn_at__isnull=True) \
            .values_list("study_id", "arm_id").first()
        if person is not None:
            _apply(Counter({(person[0], STUDY, person[1] or NO_ARM, "analysable"): -1}))


def message_saved(sender, instance: Message, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or instance.status != Message.Status.SENT or instance.participant_id in _tracked():
        return
    invitation = instance.kind == "invitation"
    sent = Message.objects.filter(participant_id=instance.participant_id, wave_id=instance.wave_id,
                                  status=Message.Status.SENT)
    sent = sent.filter(kind="invitation") if invitation else sent.exclude(kind="invitation")
    person = Participant.objects.filter(pk=instance.participant_id, is_preview=False) \
        .values_list("study_id", "arm_id").first()
    if person is not None and sent.count() == 1:  # the participant's first of its kind for the wave
        _apply(Counter({(person[0], instance.wave_id, person[1] or NO_ARM, "invited" if invitation else "reminded"): 1}))


def recount_wave(wave: Wave) -> None:
    """Count `wave` again from the raw rows, with its current times (a new wave, or new times)."""
    with transaction.atomic():
        PanelCount.objects.filter(study_id=wave.study_id, wave_key=wave.pk).delete()
        counts = _contributions(study_id=wave.study_id, wave_ids={wave.pk})
        counts = Counter({key: value for key, value in counts.items()
                          if not isinstance(key, StratumKey) and key[1] == wave.pk})
        # One row per wave at least: it records the times the wave was counted for.
        counts[(wave.study_id, wave.pk, NO_ARM, "enrolled")] += 0
        rows: dict = defaultdict(dict)
        for (study_id, wave_key, arm_key, name), value in counts.items():
            rows[(study_id, wave_key, arm_key)][name] = value
        _upsert([(key, values, (wave.opens_at, wave.closes_at)) for key, values in sorted(rows.items())])


def recount_study(study_id: int) -> None:
    """Count the study again from the raw rows (after data loaded around the write path)."""
    with transaction.atomic():
        PanelCount.objects.filter(study_id=study_id).delete()
        StratumCount.objects.filter(study_id=study_id).delete()
        for wave in Wave.objects.filter(study_id=study_id).order_by("number"):
            counts = PanelCount(study_id=study_id, wave_key=wave.pk, arm_key=NO_ARM, opens_at=wave.opens_at,
                                closes_at=wave.closes_at)
            counts.save()
        PanelCount.objects.create(study_id=study_id, wave_key=STUDY, arm_key=NO_ARM, counted=True)
        _apply(_contributions(study_id=study_id))


def study_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of Study: a new study's counts start now (nobody has joined yet)."""
    if created and not raw:
        PanelCount.objects.get_or_create(study_id=instance.pk, wave_key=STUDY, arm_key=NO_ARM,
                                         defaults={"counted": True})


def wave_saved(sender, instance: Wave, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of Wave: count a new wave, or one whose times changed, from the raw rows."""
    if raw:
        return
    stored = (PanelCount.objects.filter(study_id=instance.study_id, wave_key=instance.pk)
              .values_list("opens_at", "closes_at").first())
    if stored != (instance.opens_at, instance.closes_at):
        recount_wave(instance)


# --- Reading the counts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelCounts:
    """A study's counts: `arms` (arm_key -> name, None for no arm), `study` ({arm_key: {count:
    n}}), `waves` ({(wave number, arm_key): {count: n}}) and the study's waves in order."""

    arms: dict[int, str | None]
    study: dict[int, dict[str, int]]
    waves: dict[tuple[int, int], dict[str, int]]
    wave_list: list[Wave]

    def total(self, name: str) -> int:
        return sum(row[name] for row in self.study.values())

    def wave_total(self, number: int, name: str) -> int:
        return sum(row[name] for (wave, _arm), row in self.waves.items() if wave == number)


def read_panel_counts(*, study_id: int, waves: list[Wave] | None = None) -> PanelCounts | None:
    """The stored counts of the study, or None when a wave was never counted or was counted for
    other times (the caller then counts the raw rows). Two or three small queries."""
    waves = waves if waves is not None else list(Wave.objects.filter(study_id=study_id).order_by("number"))
    rows = list(PanelCount.objects.filter(study_id=study_id).order_by()
                .values_list("wave_key", "arm_key", "opens_at", "closes_at", "counted", *COUNTS))
    if not any(wave_key == STUDY and arm_key == NO_ARM and counted for wave_key, arm_key, _o, _c, counted, *_r in rows):
        return None
    rows = [(wave_key, arm_key, opens, closes, *values) for wave_key, arm_key, opens, closes, _c, *values in rows]
    number_of = {wave.pk: wave.number for wave in waves}
    counted = {wave_key: (opens, closes) for wave_key, _arm, opens, closes, *_rest in rows if wave_key != STUDY}
    if any(counted.get(wave.pk) != (wave.opens_at, wave.closes_at) for wave in waves):
        return None
    arms: dict[int, str | None] = {NO_ARM: None}
    arms.update(Arm.objects.filter(study_id=study_id).values_list("pk", "name"))
    study: dict[int, dict[str, int]] = {}
    per_wave: dict[tuple[int, int], dict[str, int]] = {}
    for wave_key, arm_key, _opens, _closes, *values in rows:
        counts = dict(zip(COUNTS, values, strict=True))
        if wave_key == STUDY:
            study[arm_key] = {name: counts[name] for name in STUDY_COUNTS}
        elif wave_key in number_of:
            per_wave[(number_of[wave_key], arm_key)] = {name: counts[name] for name in WAVE_COUNTS}
    return PanelCounts(arms=arms, study=study, waves=per_wave, wave_list=waves)


def read_total(*, study_id: int, name: str) -> int | None:
    """One study-wide count (`joined`, `consented`, `active`, `analysable`) in one query, or None
    when the study's counts do not go back to its start (the caller counts the raw rows)."""
    rows = list(PanelCount.objects.filter(study_id=study_id, wave_key=STUDY).values_list("counted", name))
    if not any(counted for counted, _value in rows):
        return None
    return sum(value for _counted, value in rows)


def read_strata(*, study_id: int, codes: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
    """The study's stratum counts, {(code, canonical value): enrolled} (`codes`: only those), in
    one query; a stratum nobody is in is absent (0)."""
    rows = StratumCount.objects.filter(study_id=study_id, enrolled__gt=0)
    if codes is not None:
        rows = rows.filter(code__in=sorted(set(codes)))
    return {(code, value): number for code, value, number in rows.order_by().values_list("code", "value", "enrolled")}
