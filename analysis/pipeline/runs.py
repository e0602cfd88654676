"""The life of an `AnalysisRun`, the same for every kind of stored result (a wave's indices, a
study's effects). A run is a history row, never overwritten; its key is (study, kind, wave), the
wave empty for study-wide kinds.

- `request_run` records a *queued* run. The partial unique constraint on active runs (queued or
  running) makes a burst of requests collapse into one run: the loser gets the active one.
- `claim_run` marks the active run *running* with a conditional UPDATE, so exactly one worker
  claims it: a queued run, or a running one whose heartbeat stopped (its worker died). A worker
  that finds the run claimed by a live worker, or a message whose run is already finished (a
  duplicate), computes nothing. The claim serializes the computations of one key; on PostgreSQL
  an advisory lock keyed by (study, kind, wave) backs it up. No row a participant's request
  touches (study, wave, participant) is ever locked by a computation.
- `execute` runs the computation with a heartbeat: a thread stamps `heartbeat_at` every
  `ANALYSIS_HEARTBEAT_SECONDS`, and the sweep (`enqueue.resend_lost_runs`, every minute) sends
  again any run whose heartbeat is older than `ANALYSIS_RUN_LOST_AFTER_SECONDS`, or queued run
  whose message was never sent or not picked up. An error marks the run *failed* and is raised.
- The computation reads its inputs in a `snapshot` (PostgreSQL: one REPEATABLE READ, READ ONLY
  transaction, which blocks no writer), computes outside any transaction, then `swap`s: a short
  transaction that checks the run is still its own and replaces the stored rows.
- The computation `stamp`s the run's provenance, `skip`s when `unchanged_since` finds the last
  finished run with the same fingerprint, else stores its rows and `finish`es (inside `swap`).
"""

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from analysis.models import ACTIVE_STATUSES, AnalysisRun
from analysis.pipeline.provenance import CODE_VERSION

logger = logging.getLogger(__name__)


class RunTakenOver(Exception):
    """The run was adopted by another worker (this one was presumed dead): nothing is stored."""


def heartbeat_seconds() -> int:
    return settings.ANALYSIS_HEARTBEAT_SECONDS


def lost_after_seconds() -> int:
    """A running run without a heartbeat for this long, or a queued run sent this long ago and
    not started, is sent again."""
    return settings.ANALYSIS_RUN_LOST_AFTER_SECONDS


def active_runs(*, study_id: int, kind: str, wave_id: int | None = None) -> QuerySet:
    runs = AnalysisRun.objects.filter(study_id=study_id, kind=kind, status__in=ACTIVE_STATUSES)
    return runs.filter(wave_id=wave_id) if wave_id is not None else runs.filter(wave__isnull=True)


def last_finished_run(*, study_id: int, kind: str, wave_id: int | None = None) -> AnalysisRun | None:
    """The latest run of `kind` that stored results (status done): of the wave `wave_id`, or of
    the whole study whatever the wave (None)."""
    runs = AnalysisRun.objects.filter(study_id=study_id, kind=kind, status=AnalysisRun.Status.DONE)
    if wave_id is not None:
        runs = runs.filter(wave_id=wave_id)
    return runs.order_by("-finished_at", "-id").first()


def request_run(*, study_id: int, kind: str, wave_id: int | None = None,
                parameters: dict) -> tuple[AnalysisRun | None, bool]:
    """(the active run of this key, whether this call created it as queued)."""
    try:
        with transaction.atomic():
            run = AnalysisRun.objects.create(study_id=study_id, wave_id=wave_id, kind=kind,
                                             status=AnalysisRun.Status.QUEUED, parameters=parameters)
        return run, True
    except IntegrityError:
        return active_runs(study_id=study_id, kind=kind, wave_id=wave_id).first(), False


#: A queued run whose message could not be sent is sent again this long after it was created
#: (the moment lets the request that created it send it first, after its commit).
NEVER_SENT_GRACE_S = 5


def _lost(cutoff: dt.datetime, now: dt.datetime) -> Q:
    never_sent = now - dt.timedelta(seconds=NEVER_SENT_GRACE_S)
    queued = Q(status=AnalysisRun.Status.QUEUED) & (
        Q(dispatched_at__lt=cutoff) | Q(dispatched_at__isnull=True, created_at__lt=never_sent))
    running = Q(status=AnalysisRun.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
    return queued | running


def lost_runs(*, now: dt.datetime | None = None) -> QuerySet:
    """Active runs nobody is known to work on: running ones whose heartbeat stopped, queued ones
    whose message was never sent (broker down) or has waited `lost_after_seconds` since it was
    sent."""
    now = now or timezone.now()
    return AnalysisRun.objects.filter(_lost(now - dt.timedelta(seconds=lost_after_seconds()), now))


def needs_sending(run: AnalysisRun, *, now: dt.datetime | None = None) -> bool:
    """Whether `run` (active) should be sent again: never sent, or lost (see `lost_runs`)."""
    if run.status == AnalysisRun.Status.QUEUED and run.dispatched_at is None:
        return True
    return lost_runs(now=now).filter(pk=run.pk).exists()


def mark_dispatched(run_id: int, *, sent: bool = True) -> None:
    """Note that the run's message was handed to the broker now (`sent=False`: it was refused)."""
    AnalysisRun.objects.filter(pk=run_id, status__in=ACTIVE_STATUSES).update(
        dispatched_at=timezone.now() if sent else None)


def claim_run(*, study_id: int, kind: str, wave_id: int | None = None, parameters: dict,
              run_id: int | None = None) -> AnalysisRun:
    """The active run of this key (or the run `run_id` a message names), with `run.claimed`
    telling whether this worker now computes it. Created running (with `parameters`) when no run
    of the key is active and no `run_id` is named; a message naming a run that is finished or
    gone computes nothing."""
    for _attempt in range(3):
        if run_id is not None:
            named = AnalysisRun.objects.filter(pk=run_id).first()
            if named is None:  # its run was deleted (with its study, or by hand): nothing to do
                gone = AnalysisRun(pk=run_id, study_id=study_id, kind=kind, wave_id=wave_id,
                                   status=AnalysisRun.Status.SKIPPED, parameters=parameters)
                gone.claimed = False
                return gone
            if named.status not in ACTIVE_STATUSES:
                named.claimed = False  # a duplicate or late message: its run is finished
                return named
        run = active_runs(study_id=study_id, kind=kind, wave_id=wave_id).first()
        now = timezone.now()
        if run is None:
            try:
                with transaction.atomic():
                    run = AnalysisRun.objects.create(
                        study_id=study_id, wave_id=wave_id, kind=kind, status=AnalysisRun.Status.RUNNING,
                        parameters=parameters, started_at=now, heartbeat_at=now)
                run.claimed = True
                return run
            except IntegrityError:
                continue  # another worker created it a moment ago: try to claim that one
        cutoff = now - dt.timedelta(seconds=lost_after_seconds())
        claimable = Q(status=AnalysisRun.Status.QUEUED) | (Q(status=AnalysisRun.Status.RUNNING) & (
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)))
        took = AnalysisRun.objects.filter(claimable, pk=run.pk).update(
            status=AnalysisRun.Status.RUNNING, started_at=now, heartbeat_at=now)
        run.refresh_from_db()
        run.claimed = bool(took)
        return run
    where = f" of wave {wave_id}" if wave_id is not None else ""
    raise RuntimeError(f"could not claim a {kind} run{where} of study {study_id}")


def _advisory_key(run: AnalysisRun) -> tuple[int, int]:
    """Two 32-bit keys for pg_advisory_lock: the kind, and the wave (or the study)."""
    kind = zlib.crc32(f"disagreement.analysis.{run.kind}".encode()) & 0x7FFFFFFF
    return kind, (run.wave_id if run.wave_id is not None else run.study_id) & 0x7FFFFFFF


@contextmanager
def _advisory_lock(run: AnalysisRun) -> Iterator[bool]:
    """PostgreSQL: a session advisory lock of the run's key (released when the worker dies with
    its connection); yields False when another session holds it. Always True elsewhere."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _advisory_key(run)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


class _Heartbeat(threading.Thread):
    """Stamps the run's `heartbeat_at` every `heartbeat_seconds` while the computation lives."""

    def __init__(self, run: AnalysisRun):
        super().__init__(name=f"heartbeat-run-{run.pk}", daemon=True)
        self.run_id, self.claimed_at, self.stopped = run.pk, run.started_at, threading.Event()

    def run(self) -> None:
        touched = False
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                touched = True
                AnalysisRun.objects.filter(pk=self.run_id, status=AnalysisRun.Status.RUNNING,
                                           started_at=self.claimed_at).update(heartbeat_at=timezone.now())
        except Exception:  # noqa: BLE001 - a missed beat is not an error of the computation
            logger.warning("heartbeat of run %s failed", self.run_id, exc_info=True)
        finally:
            if touched:
                connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def execute(run: AnalysisRun, *, compute: Callable[[AnalysisRun], AnalysisRun]) -> AnalysisRun:
    """`compute(run)` when this worker claimed `run` (see `claim_run`), with a heartbeat; else
    `run` as it is. `compute` reads in a `snapshot` and stores in a `swap`. An error fails the
    run and is raised; a run another worker took over is left to it."""
    if not getattr(run, "claimed", True):
        return run
    with _advisory_lock(run) as held:
        if not held:
            return run  # a worker presumed dead still computes this key: it will finish it
        heartbeat = _Heartbeat(run)
        heartbeat.start()
        try:
            return compute(run)
        except RunTakenOver:
            logger.warning("run %s was taken over by another worker; nothing stored", run.pk)
            return run
        except BaseException as exc:  # a soft time limit or a shutdown fails the run too
            fail(run, exc)
            raise
        finally:
            heartbeat.stop()


@contextmanager
def snapshot() -> Iterator[None]:
    """Reads inside see one state of the database. PostgreSQL: a REPEATABLE READ, READ ONLY
    transaction (it takes no lock a writer waits for). SQLite (one host, the demo): plain reads;
    a change between them is caught by the next sweep, as the fingerprint then differs."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextmanager
def swap(run: AnalysisRun) -> Iterator[None]:
    """The short transaction that stores a run's results: it first locks the run's own row and
    checks that this worker still owns the run (else `RunTakenOver`, nothing stored)."""
    with transaction.atomic():
        owned = AnalysisRun.objects.select_for_update().filter(
            pk=run.pk, status=AnalysisRun.Status.RUNNING, started_at=run.started_at).exists()
        if not owned:
            raise RunTakenOver(run.pk)
        yield


def fail(run: AnalysisRun, exc: BaseException) -> None:
    AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES, started_at=run.started_at).update(
        status=AnalysisRun.Status.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:4000])


def stamp(run: AnalysisRun, *, fingerprint: str, seed: int, parameters: dict, exclusions: list[str]) -> None:
    """Record what the run computes from (saved by `skip` or `finish`)."""
    run.fingerprint, run.code_version, run.seed = fingerprint, CODE_VERSION, seed
    run.parameters = parameters
    run.exclusions_applied = exclusions


def unchanged_since(run: AnalysisRun, *, force: bool = False) -> AnalysisRun | None:
    """The last finished run of `run`'s key when it has `run`'s fingerprint (and the recompute is
    not forced): its stored rows are what `run` would store."""
    if force:
        return None
    last = last_finished_run(study_id=run.study_id, kind=run.kind, wave_id=run.wave_id)
    return last if last is not None and last.fingerprint == run.fingerprint else None


def skip(run: AnalysisRun) -> AnalysisRun:
    run.status, run.finished_at = AnalysisRun.Status.SKIPPED, timezone.now()
    run.save()
    return run


def finish(run: AnalysisRun, **facts) -> AnalysisRun:
    """Mark the run done; `facts` (rows stored, timings...) join its parameters."""
    run.status, run.finished_at = AnalysisRun.Status.DONE, timezone.now()
    run.parameters = {**run.parameters, **facts}
    run.save()
    return run
