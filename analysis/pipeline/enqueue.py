"""The one module that sends the pipeline's tasks: a wave's indices, a study's effects, a
researcher's Recompute, and the periodic sweep that catches up with changed answers and lost
messages. Nothing here computes; no web request waits for a computation.

Tasks are sent by their registered names after the transaction commits
(`common.celery.dispatch_on_commit`), so nothing that computes imports `analysis.tasks` (which
imports the computations). Each message names its run (`run_id`), so a message sent twice is
computed once. A broker outage never fails the caller: the run stays queued, never sent, and
`resend_lost_runs` (beat, every minute) sends it again, as it does runs whose worker died.
"""

from django.db import transaction

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
from common.celery import dispatch
from surveys.models import Study, Wave

INDICES_TASK = "analysis.compute_wave_indices"
EFFECTS_TASK = "analysis.compute_study_effects"
REPORT_TASK = "analysis.build_study_report"
CATCH_UP = "the periodic sweep will retry"


def send(run: AnalysisRun) -> bool:
    """Send `run`'s task now (naming the run, so that a duplicate message does nothing), noting
    when in `dispatched_at` (cleared again when the broker refused it: never sent)."""
    runs.mark_dispatched(run.pk)
    if run.kind in (AnalysisRun.Kind.EFFECTS, AnalysisRun.Kind.REPORT):
        task = EFFECTS_TASK if run.kind == AnalysisRun.Kind.EFFECTS else REPORT_TASK
        sent = dispatch(task, {"study_id": run.study_id, "run_id": run.pk}, catch_up=CATCH_UP)
    else:
        force = bool(run.parameters.get("force"))
        sent = dispatch(INDICES_TASK, {"study_id": run.study_id, "wave_id": run.wave_id, "force": force,
                                       "run_id": run.pk}, catch_up=CATCH_UP)
    if not sent:
        runs.mark_dispatched(run.pk, sent=False)
    return sent


def _send_on_commit(run: AnalysisRun) -> None:
    transaction.on_commit(lambda: send(run))


def request_wave_indices(*, study_id: int, wave_id: int, force: bool = False, resend: bool = False) -> AnalysisRun:
    """Queue a recompute of one wave (sent after commit); returns the active run, which is an
    existing one when a recompute is already queued or running. `resend`: also send an existing
    run again when its message was never sent or it is lost (see `runs.lost_runs`)."""
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.INDICES, wave_id=wave_id,
                                    parameters={**INDEX_PARAMETERS, "force": force})
    if created or (resend and run is not None and runs.needs_sending(run)):
        _send_on_commit(run)
    return run


def request_study_effects(*, study_id: int, resend: bool = False) -> AnalysisRun | None:
    """Queue a recompute of a study's effects (sent after commit); None when the study has no
    intervention or no control arm, the active run when one is already queued or running
    (`resend` as for `request_wave_indices`)."""
    if intervention_wave_of(study_id=study_id) is None or not has_control_arm(study_id=study_id):
        return None
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS,
                                    parameters=dict(EFFECT_PARAMETERS))
    if created or (resend and run is not None and runs.needs_sending(run)):
        _send_on_commit(run)
    return run


def request_study_report(*, study_id: int) -> AnalysisRun:
    """Queue a build of the study report (after commit); the active run when one is already
    queued or running."""
    run, created = runs.request_run(study_id=study_id, kind=AnalysisRun.Kind.REPORT, parameters={})
    if created or (run is not None and runs.needs_sending(run)):
        _send_on_commit(run)
    return run


def recompute_study(*, study_id: int) -> list[AnalysisRun]:
    """A researcher's Recompute: queue every wave with answers, even when unchanged; runs already
    queued or running are sent again when their message was never sent or is lost, and so is the
    study's effects run. Returns the waves' runs."""
    waves = Wave.objects.filter(study_id=study_id, submissions__isnull=False).distinct()
    queued = [request_wave_indices(study_id=study_id, wave_id=wave.pk, force=True, resend=True) for wave in waves]
    effects = runs.active_runs(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS).first()
    if effects is not None and runs.needs_sending(effects):
        _send_on_commit(effects)
    return queued


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


def resend_lost_runs() -> list[int]:
    """Send again every run a worker lost (its heartbeat stopped) or a broker never received or
    never delivered (queued too long); beat runs this every minute. Returns their ids."""
    lost = list(runs.lost_runs())
    for run in lost:
        send(run)
    return [run.pk for run in lost]


def sweep_indices() -> list[int]:
    """Send lost runs again (`resend_lost_runs`) and queue every wave whose answers changed.
    Returns the ids of the waves queued or sent again."""
    touched = [run.wave_id for run in runs.lost_runs() if run.wave_id is not None]
    resend_lost_runs()
    for wave in waves_needing_indices():
        if wave.pk not in touched:
            request_wave_indices(study_id=wave.study_id, wave_id=wave.pk)
            touched.append(wave.pk)
    return touched
