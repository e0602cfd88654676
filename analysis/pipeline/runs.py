"""The life of an `AnalysisRun`, the same for every kind of stored result (a wave's indices, a
study's effects). A run is a history row, never overwritten; its key is (study, kind, wave), the
wave empty for study-wide kinds.

- `request_run` records a *queued* run. The partial unique constraint on active runs (queued or
  running) makes a burst of requests collapse into one run: the loser gets the active one.
- `claim_run` marks the active run *running* (committed, so dashboards see it), adopting a
  queued run or one left running by a worker that died; it creates one when none is active.
- `execute` computes inside one transaction that first locks the row the results belong to
  (the wave, the study): PostgreSQL serialises writers (a no-op on SQLite, whose writes are
  serial anyway), a reader never sees half a result, and a worker killed mid-way leaves the old
  rows and a *running* run that the next delivery adopts. An error marks the run *failed* with
  its message and is raised (the task's retry policy decides what next).
- The computation `stamp`s the run's provenance, `skip`s when `unchanged_since` finds the last
  finished run with the same fingerprint, else stores its rows and `finish`es.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from analysis.models import ACTIVE_STATUSES, AnalysisRun
from analysis.pipeline.provenance import CODE_VERSION

Owner = TypeVar("Owner")


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


def claim_run(*, study_id: int, kind: str, wave_id: int | None = None, parameters: dict) -> AnalysisRun:
    """The active run of this key, marked running; created (with `parameters`) when none is active."""
    for _attempt in range(3):
        run = active_runs(study_id=study_id, kind=kind, wave_id=wave_id).first()
        if run is None:
            try:
                with transaction.atomic():
                    return AnalysisRun.objects.create(
                        study_id=study_id, wave_id=wave_id, kind=kind, status=AnalysisRun.Status.RUNNING,
                        parameters=parameters, started_at=timezone.now())
            except IntegrityError:
                continue  # another worker created it a moment ago: adopt that one
        AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=AnalysisRun.Status.RUNNING, started_at=timezone.now())
        run.refresh_from_db()
        return run
    where = f" of wave {wave_id}" if wave_id is not None else ""
    raise RuntimeError(f"could not claim a {kind} run{where} of study {study_id}")


def execute(run: AnalysisRun, *, lock: Callable[[], Owner],
            compute: Callable[[AnalysisRun, Owner], AnalysisRun]) -> AnalysisRun:
    """`compute(run, lock())` in one transaction; a run that another worker finished while this
    one waited for the lock is returned as it is. An error fails the run and is raised."""
    try:
        with transaction.atomic():
            owner = lock()
            run.refresh_from_db()
            if run.status not in ACTIVE_STATUSES:
                return run  # finished by another worker while we waited for the lock
            return compute(run, owner)
    except Exception as exc:
        fail(run, exc)
        raise


def fail(run: AnalysisRun, exc: BaseException) -> None:
    AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
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
