"""The one module that sends the pipeline's tasks: a wave's indices, a study's effects, a
researcher's Recompute, and the periodic sweep that catches up with changed answers and lost
messages. Nothing here computes; no web request waits for a computation.

Tasks are sent by their registered names after the transaction commits
(`common.celery.dispatch_on_commit`), so nothing that computes imports `analysis.tasks` (which
imports the computations). A broker outage never fails the caller: the run stays queued and the
sweep sends it again once it is older than any task may live.
"""

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.pipeline import runs
from analysis.pipeline.inputs import (
    StudyItems,
    has_control_arm,
    intervention_wave_of,
    list_excluded_public_ids,
    read_study_items,
    read_wave_inputs,
)
from analysis.pipeline.provenance import EFFECT_PARAMETERS, INDEX_PARAMETERS, wave_fingerprint
from common.celery import dispatch, dispatch_on_commit
from surveys.models import Study, Wave

INDICES_TASK = "analysis.compute_wave_indices"
EFFECTS_TASK = "analysis.compute_study_effects"
REPORT_TASK = "analysis.build_study_report"
CATCH_UP = "the periodic sweep will retry"


def request_wave_indices(*, study_id: int, wave_id: int, force: bool = False) -> AnalysisRun:
    """Queue a recompute of one wave (dispatched after commit); returns the active run, which is
    an existing one when a recompute is already queued or running."""
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.INDICES, wave_id=wave_id,
                                    parameters={**INDEX_PARAMETERS, "force": force})
    if created:
        dispatch_on_commit(INDICES_TASK, {"study_id": study_id, "wave_id": wave_id, "force": force},
                           catch_up=CATCH_UP)
    return run


def request_study_effects(*, study_id: int) -> AnalysisRun | None:
    """Queue a recompute of a study's effects (after commit); None when the study has no
    intervention or no control arm, the active run when one is already queued or running."""
    if intervention_wave_of(study_id=study_id) is None or not has_control_arm(study_id=study_id):
        return None
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS,
                                    parameters=dict(EFFECT_PARAMETERS))
    if created:
        dispatch_on_commit(EFFECTS_TASK, {"study_id": study_id}, catch_up=CATCH_UP)
    return run


def request_study_report(*, study_id: int) -> AnalysisRun:
    """Queue a build of the study report (after commit); the active run when one is already
    queued or running."""
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.REPORT, parameters={})
    if created:
        dispatch_on_commit(REPORT_TASK, {"study_id": study_id}, catch_up=CATCH_UP)
    return run


def recompute_study(*, study_id: int) -> list[AnalysisRun]:
    """A researcher's Recompute: queue every wave with answers, even when unchanged."""
    waves = Wave.objects.filter(study_id=study_id, submissions__isnull=False).distinct()
    return [request_wave_indices(study_id=study_id, wave_id=wave.pk, force=True) for wave in waves]


def waves_needing_indices(*, study_id: int | None = None) -> list[Wave]:
    """Waves with answers whose inputs differ from their last finished run (or that have none)."""
    waves = Wave.objects.exclude(state=Wave.State.SCHEDULED).exclude(study__status=Study.Status.DRAFT)
    if study_id is not None:
        waves = waves.filter(study_id=study_id)
    studies: dict[int, tuple[StudyItems, list[str]]] = {}  # read once per study
    due = []
    for wave in waves.filter(submissions__isnull=False).distinct().select_related("study"):
        if wave.study_id not in studies:
            studies[wave.study_id] = (read_study_items(study_id=wave.study_id),
                                      list_excluded_public_ids(study_id=wave.study_id))
        items, excluded = studies[wave.study_id]
        inputs = read_wave_inputs(wave=wave, items=items, excluded=excluded)
        last = runs.last_finished_run(study_id=wave.study_id, kind=AnalysisRun.Kind.INDICES, wave_id=wave.pk)
        if last is None or last.fingerprint != wave_fingerprint(inputs.state, parameters=dict(INDEX_PARAMETERS)):
            due.append(wave)
    return due


def sweep_indices(*, stale_after_s: int | None = None) -> list[int]:
    """Queue every wave whose answers changed; re-dispatch runs whose task was lost. Returns the
    ids of the waves queued or re-dispatched."""
    stale_after_s = stale_after_s if stale_after_s is not None else settings.CELERY_TASK_TIME_LIMIT + 60
    touched: list[int] = []
    # A queued run whose message was lost, or a running one whose worker died and whose message
    # will not come back, is older than any task may live (the hard time limit): send it again.
    cutoff = timezone.now() - dt.timedelta(seconds=stale_after_s)
    stale = AnalysisRun.objects.filter(Q(status=AnalysisRun.Status.QUEUED, created_at__lt=cutoff)
                                       | Q(status=AnalysisRun.Status.RUNNING, started_at__lt=cutoff))
    for run in stale:
        if run.kind in (AnalysisRun.Kind.EFFECTS, AnalysisRun.Kind.REPORT):
            task = EFFECTS_TASK if run.kind == AnalysisRun.Kind.EFFECTS else REPORT_TASK
            dispatch(task, {"study_id": run.study_id}, catch_up=CATCH_UP)
            continue
        dispatch(INDICES_TASK, {"study_id": run.study_id, "wave_id": run.wave_id, "force": False}, catch_up=CATCH_UP)
        touched.append(run.wave_id)
    for wave in waves_needing_indices():
        if wave.pk not in touched:
            request_wave_indices(study_id=wave.study_id, wave_id=wave.pk)
            touched.append(wave.pk)
    return touched
