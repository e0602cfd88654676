"""Writes of the analysis side: computing and storing indices, with their run history.

Concurrency model for one (study, kind, wave):
- `request_wave_indices` records a *queued* run and dispatches the task after commit. The partial
  unique constraint on active runs makes a burst of requests collapse into one run.
- `compute_wave_indices` marks the active run *running* (committed, so dashboards see it), then
  in one transaction locks the wave row (`select_for_update`; PostgreSQL serialises writers, a
  no-op on SQLite whose writes are serial anyway), compares the input fingerprint with the last
  finished run, computes, and replaces the stored rows. A reader never sees half a result; a
  worker killed mid-way leaves the old rows and a *running* row that the next delivery adopts.
"""

import datetime as dt
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import disagreement
from analysis.dashboards import reads as dashboards
from analysis.models import ACTIVE_STATUSES, AnalysisRun, IndexResult
from analysis.pipeline import inputs as selectors
from analysis.pipeline import text as text_pipeline
from analysis.stats.tables import Scale, compute_index_table
from surveys.models import Item, Study, Wave

logger = logging.getLogger(__name__)

#: Parameters of the stored indices; part of every fingerprint.
INDEX_PARAMETERS = {"bootstrap": 1000, "level": 0.95}


def _code_version() -> str:
    """Package version plus a hash of the numerical code, so a changed formula invalidates results."""
    digest = hashlib.sha256()
    stats = Path(__file__).resolve().parents[1] / "stats"
    for path in sorted(stats.rglob("*.py")):
        digest.update(path.relative_to(stats).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{disagreement.__version__}+{digest.hexdigest()[:12]}"


CODE_VERSION = _code_version()


def wave_seed(*, study: Study, wave: Wave) -> int:
    """A fixed seed per (study, wave): recomputing unchanged data gives identical intervals."""
    return int.from_bytes(hashlib.sha256(f"{study.slug}:{wave.number}".encode()).digest()[:4], "big")


def wave_fingerprint(*, study_id: int, wave_id: int, parameters: dict) -> str:
    state = selectors.wave_input_state(study_id=study_id, wave_id=wave_id)
    state["text"] = text_pipeline.wave_text_state(study_id=study_id, wave_id=wave_id)  # free-text answers
    # completions, durations and attention checks: the stored data-quality rows depend on them
    state["submissions"] = selectors.wave_submission_state(study_id=study_id, wave_id=wave_id)
    payload = json.dumps({"state": state, "parameters": parameters, "code": CODE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def request_wave_indices(*, study_id: int, wave_id: int, force: bool = False) -> AnalysisRun:
    """Queue a recompute of one wave (dispatched after commit); returns the active run, which is
    an existing one when a recompute is already queued or running."""
    from analysis.tasks import (
        compute_wave_indices_task,  # tasks import services; keep the cycle lazy
    )

    try:
        with transaction.atomic():
            run = AnalysisRun.objects.create(
                study_id=study_id, wave_id=wave_id, kind=AnalysisRun.Kind.INDICES,
                status=AnalysisRun.Status.QUEUED, parameters={**INDEX_PARAMETERS, "force": force},
            )
    except IntegrityError:
        return _active_run(study_id=study_id, wave_id=wave_id)
    transaction.on_commit(lambda: dispatch(compute_wave_indices_task, study_id=study_id, wave_id=wave_id, force=force))
    return run


def dispatch(task, **kwargs) -> bool:
    """Send a task; a broker outage is logged, not raised: the periodic sweep catches up."""
    try:
        task.apply_async(kwargs=kwargs)
    except Exception:  # noqa: BLE001 - kombu/redis raise many types; none may fail a participant's request
        logger.warning("could not dispatch %s(%s); the periodic sweep will retry", task.name, kwargs, exc_info=True)
        return False
    return True


def _active_run(*, study_id: int, wave_id: int) -> AnalysisRun | None:
    return AnalysisRun.objects.filter(study_id=study_id, wave_id=wave_id, kind=AnalysisRun.Kind.INDICES,
                                      status__in=ACTIVE_STATUSES).first()


def _claim_run(*, study_id: int, wave_id: int, force: bool) -> AnalysisRun:
    """The active run of this wave, marked running; created when none is queued."""
    for _attempt in range(3):
        run = _active_run(study_id=study_id, wave_id=wave_id)
        if run is None:
            try:
                with transaction.atomic():
                    run = AnalysisRun.objects.create(
                        study_id=study_id, wave_id=wave_id, kind=AnalysisRun.Kind.INDICES,
                        status=AnalysisRun.Status.RUNNING, parameters={**INDEX_PARAMETERS, "force": force},
                        started_at=timezone.now(),
                    )
                return run
            except IntegrityError:
                continue  # another worker created it a moment ago: adopt that one
        AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=AnalysisRun.Status.RUNNING, started_at=timezone.now())
        run.refresh_from_db()
        return run
    raise RuntimeError(f"could not claim an indices run for wave {wave_id}")


def compute_wave_indices(*, study_id: int, wave_id: int, force: bool = False) -> AnalysisRun:
    """Compute and store every index of one wave. Idempotent: unchanged inputs are skipped and a
    rerun stores identical rows; safe under concurrency (one writer per wave)."""
    run = _claim_run(study_id=study_id, wave_id=wave_id, force=force)
    force = force or bool(run.parameters.get("force"))
    try:
        with transaction.atomic():
            wave = Wave.objects.select_for_update().select_related("study").get(pk=wave_id, study_id=study_id)
            run.refresh_from_db()
            if run.status not in ACTIVE_STATUSES:
                return run  # finished by another worker while we waited for the lock
            return _compute_locked(run=run, wave=wave, force=force)
    except Exception as exc:
        AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=AnalysisRun.Status.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:4000])
        raise


def _compute_locked(*, run: AnalysisRun, wave: Wave, force: bool) -> AnalysisRun:
    study = wave.study
    timings: dict[str, float] = {}
    started = time.perf_counter()
    parameters = dict(INDEX_PARAMETERS)
    fingerprint = wave_fingerprint(study_id=study.pk, wave_id=wave.pk, parameters=parameters)
    last = (AnalysisRun.objects.filter(study=study, wave=wave, kind=AnalysisRun.Kind.INDICES,
                                       status=AnalysisRun.Status.DONE).order_by("-finished_at", "-id").first())
    run.fingerprint = fingerprint
    run.code_version = CODE_VERSION
    run.seed = wave_seed(study=study, wave=wave)
    run.parameters = {**parameters, "force": force}
    run.exclusions_applied = selectors.list_excluded_public_ids(study_id=study.pk)
    if last is not None and last.fingerprint == fingerprint and not force:
        if not dashboards.wave_dashboard_stored(wave_id=wave.pk):  # results from before the dashboard tables
            dashboards.store_wave_dashboard(run=last, wave=wave, grouping_codes=selectors.list_grouping_codes(
                study_id=study.pk), answers=selectors.wave_answers_frame(study_id=study.pk, wave_id=wave.pk))
        run.status = AnalysisRun.Status.SKIPPED
        run.finished_at = timezone.now()
        run.save()
        return run

    scales = selectors.list_attitude_scales(study_id=study.pk)
    answers = selectors.wave_answers_frame(study_id=study.pk, wave_id=wave.pk)
    timings["query_s"] = time.perf_counter() - started

    t0 = time.perf_counter()
    frame = wave_index_frame(answers, scales=scales, grouping=selectors.list_grouping_codes(study_id=study.pk),
                             seed=run.seed, **parameters)
    frame = text_pipeline.with_text_indices(frame, study_id=study.pk, wave_id=wave.pk, seed=run.seed, **parameters)
    timings["compute_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _store(run=run, study=study, wave=wave, frame=frame)
    # The distributions and quality pages read these, replaced in this same transaction.
    dashboards.store_wave_dashboard(run=run, wave=wave, answers=answers,
                                    grouping_codes=selectors.list_grouping_codes(study_id=study.pk))
    timings["store_s"] = time.perf_counter() - t0
    run.status = AnalysisRun.Status.DONE
    run.finished_at = timezone.now()
    intervention = intervention_wave_of(study)
    if intervention is not None and wave.number >= intervention:
        # New post-intervention indices: the effects are due too.
        transaction.on_commit(lambda: request_study_effects(study_id=study.pk))
    run.parameters = {**run.parameters, "timings": {k: round(v, 4) for k, v in timings.items()}, "rows": len(frame)}
    run.save()
    return run


def wave_index_frame(answers: pd.DataFrame, *, scales: dict, grouping: list[str], seed: int,
                     bootstrap: int, level: float) -> pd.DataFrame:
    """The index table of one wave: groups `all`, `arm:<name>` and `<grouping code>:<value>`."""
    columns = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]
    keep = answers["item"].isin(scales)
    if not keep.all():  # a copy of a large wave's answers only when something is left out
        answers = answers[keep]
    if answers.empty:
        return pd.DataFrame(columns=columns)
    table = compute_index_table(
        answers, scales={code: Scale(s.scale_min, s.scale_max, s.step) for code, s in scales.items()},
        by=["arm", *grouping], reverse={code for code, s in scales.items() if s.reverse_coded},
        bootstrap=bootstrap, seed=seed, level=level,
    )
    return table.frame[columns]


def _finite(value) -> float | None:
    return None if value is None or pd.isna(value) or not np.isfinite(value) else float(value)


def _store(*, run: AnalysisRun, study: Study, wave: Wave, frame: pd.DataFrame) -> None:
    items = dict(Item.objects.filter(study=study).values_list("code", "pk"))
    now = timezone.now()
    rows = [
        IndexResult(
            study=study, wave=wave, item_id=None if pd.isna(item) else items[item], group=group, index=index,
            value=_finite(value), ci_low=_finite(low), ci_high=_finite(high),
            n=0 if pd.isna(n) else int(n), computed_at=now, run=run,
        )
        for item, group, index, value, low, high, n in frame[
            ["item", "group", "index", "value", "ci_low", "ci_high", "n"]].itertuples(index=False)
    ]
    IndexResult.objects.filter(study=study, wave=wave).delete()
    IndexResult.objects.bulk_create(rows, batch_size=5000)


def waves_needing_indices(*, study_id: int | None = None) -> list[Wave]:
    """Waves with answers whose inputs differ from their last finished run (or that have none)."""
    waves = Wave.objects.exclude(state=Wave.State.SCHEDULED).exclude(study__status=Study.Status.DRAFT)
    if study_id is not None:
        waves = waves.filter(study_id=study_id)
    due = []
    for wave in waves.filter(submissions__isnull=False).distinct().select_related("study"):
        last = (AnalysisRun.objects.filter(study_id=wave.study_id, wave=wave, kind=AnalysisRun.Kind.INDICES,
                                           status=AnalysisRun.Status.DONE).order_by("-finished_at", "-id").first())
        fingerprint = wave_fingerprint(study_id=wave.study_id, wave_id=wave.pk, parameters=dict(INDEX_PARAMETERS))
        if last is None or last.fingerprint != fingerprint:
            due.append(wave)
    return due


def sweep_indices(*, stale_after_s: int | None = None) -> list[int]:
    """Queue every wave whose answers changed; re-dispatch runs whose task was lost. Returns the
    ids of the waves queued or re-dispatched."""
    from analysis.tasks import compute_wave_indices_task

    stale_after_s = stale_after_s if stale_after_s is not None else settings.CELERY_TASK_TIME_LIMIT + 60
    touched: list[int] = []
    # A queued run whose message was lost, or a running one whose worker died and whose message
    # will not come back, is older than any task may live (the hard time limit): send it again.
    cutoff = timezone.now() - dt.timedelta(seconds=stale_after_s)
    stale = AnalysisRun.objects.filter(kind=AnalysisRun.Kind.INDICES).filter(
        Q(status=AnalysisRun.Status.QUEUED, created_at__lt=cutoff)
        | Q(status=AnalysisRun.Status.RUNNING, started_at__lt=cutoff))
    for run in stale:
        dispatch(compute_wave_indices_task, study_id=run.study_id, wave_id=run.wave_id, force=False)
        touched.append(run.wave_id)
    for wave in waves_needing_indices():
        if wave.pk not in touched:
            request_wave_indices(study_id=wave.study_id, wave_id=wave.pk)
            touched.append(wave.pk)
    return touched


def recompute_study(*, study_id: int) -> list[AnalysisRun]:
    """A researcher's Recompute: queue every wave with answers, even when unchanged."""
    waves = Wave.objects.filter(study_id=study_id, submissions__isnull=False).distinct()
    return [request_wave_indices(study_id=study_id, wave_id=wave.pk, force=True) for wave in waves]


# --- Intervention effects ---------------------------------------------------------------------

#: Parameters of the stored effects; part of every fingerprint.
EFFECT_PARAMETERS = {"bootstrap": 1000, "permutations": 1000, "level": 0.95}


def intervention_wave_of(study: Study) -> int | None:
    """The first wave at which some arm is shown an intervention (None: no intervention)."""
    first = Wave.objects.filter(study=study, interventions__isnull=False).order_by("number").first()
    return first.number if first else None


def effects_fingerprint(*, study: Study, parameters: dict) -> str:
    states = [selectors.wave_input_state(study_id=study.pk, wave_id=wave.pk)
              for wave in Wave.objects.filter(study=study).order_by("number")]
    payload = json.dumps({"waves": states, "parameters": parameters, "primary": study.primary_outcome,
                          "code": CODE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def request_study_effects(*, study_id: int) -> AnalysisRun | None:
    """Queue a recompute of a study's effects (after commit); None when the study has no
    intervention or no control arm, the active run when one is already queued or running."""
    from analysis.tasks import compute_study_effects_task

    study = Study.objects.get(pk=study_id)
    if intervention_wave_of(study) is None or not study.arms.filter(is_control=True).exists():
        return None
    try:
        with transaction.atomic():
            run = AnalysisRun.objects.create(study=study, kind=AnalysisRun.Kind.EFFECTS,
                                             status=AnalysisRun.Status.QUEUED, parameters=dict(EFFECT_PARAMETERS))
    except IntegrityError:
        return AnalysisRun.objects.filter(study=study, kind=AnalysisRun.Kind.EFFECTS, wave__isnull=True,
                                          status__in=ACTIVE_STATUSES).first()
    transaction.on_commit(lambda: dispatch(compute_study_effects_task, study_id=study_id))
    return run


def compute_study_effects(*, study_id: int) -> AnalysisRun:
    """Estimate and store every intervention effect of a study. Idempotent (fingerprinted,
    fixed seed) and one writer per study (the study row is locked)."""
    active = Q(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS, wave__isnull=True, status__in=ACTIVE_STATUSES)
    run = AnalysisRun.objects.filter(active).first()
    if run is None:
        try:
            with transaction.atomic():
                run = AnalysisRun.objects.create(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS,
                                                 status=AnalysisRun.Status.RUNNING, started_at=timezone.now(),
                                                 parameters=dict(EFFECT_PARAMETERS))
        except IntegrityError:
            run = AnalysisRun.objects.filter(active).first()
    AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
        status=AnalysisRun.Status.RUNNING, started_at=timezone.now())
    try:
        with transaction.atomic():
            study = Study.objects.select_for_update().get(pk=study_id)
            run.refresh_from_db()
            if run.status not in ACTIVE_STATUSES:
                return run
            return _compute_effects_locked(run=run, study=study)
    except Exception as exc:
        AnalysisRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=AnalysisRun.Status.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:4000])
        raise


def _compute_effects_locked(*, run: AnalysisRun, study: Study) -> AnalysisRun:
    from analysis.models import EffectEstimate
    from analysis.stats.effects import estimate_effects

    started = time.perf_counter()
    parameters = dict(EFFECT_PARAMETERS)
    fingerprint = effects_fingerprint(study=study, parameters=parameters)
    last = (AnalysisRun.objects.filter(study=study, kind=AnalysisRun.Kind.EFFECTS, status=AnalysisRun.Status.DONE)
            .order_by("-finished_at", "-id").first())
    run.fingerprint, run.code_version = fingerprint, CODE_VERSION
    run.seed = int.from_bytes(hashlib.sha256(f"{study.slug}:effects".encode()).digest()[:4], "big")
    run.exclusions_applied = selectors.list_excluded_public_ids(study_id=study.pk)
    if last is not None and last.fingerprint == fingerprint:
        run.status, run.finished_at = AnalysisRun.Status.SKIPPED, timezone.now()
        run.save()
        return run
    scales = selectors.list_attitude_scales(study_id=study.pk)
    grouping = selectors.list_grouping_codes(study_id=study.pk)
    waves = {w.number: w for w in Wave.objects.filter(study=study)}
    answers = pd.concat([selectors.wave_answers_frame(study_id=study.pk, wave_id=w.pk) for w in waves.values()],
                        ignore_index=True)
    answers = answers[answers["item"].isin(scales)]
    control = study.arms.get(is_control=True).name
    table = estimate_effects(
        answers, arm_column="arm", control=control, intervention_wave=intervention_wave_of(study),
        scales={code: Scale(s.scale_min, s.scale_max, s.step) for code, s in scales.items()},
        by=grouping[0] if grouping else None, seed=run.seed,
        reverse=[code for code, s in scales.items() if s.reverse_coded],
        primary_outcome=study.primary_outcome or None, **parameters,
    )
    arms = {arm.name: arm for arm in study.arms.all()}
    items = dict(Item.objects.filter(study=study).values_list("code", "pk"))
    rows = []
    for record in table.frame.to_dict("records"):
        wave = record["wave"]
        rows.append(EffectEstimate(
            study=study, arm=arms[record["arm"]], outcome=record["outcome"],
            item_id=items.get(record["item"]) if isinstance(record["item"], str) else None,
            wave=None if wave == "pooled" or pd.isna(wave) else waves[int(wave)], method=record["method"],
            group=record.get("group") or "all", sample=record.get("sample") or "all",
            estimate=_finite(record["estimate"]), se=_finite(record["se"]), ci_low=_finite(record["ci_low"]),
            ci_high=_finite(record["ci_high"]), p_value=_finite(record["p_value"]), p_holm=_finite(record["p_holm"]),
            p_ri=_finite(record.get("p_ri")), n=int(record["n"]) if not pd.isna(record["n"]) else 0,
            attrition_warning=bool(record.get("attrition_warning", False)), is_primary=bool(record.get("primary", False)),
            run=run,
        ))
    EffectEstimate.objects.filter(study=study).delete()
    EffectEstimate.objects.bulk_create(rows, batch_size=5000)
    run.status, run.finished_at = AnalysisRun.Status.DONE, timezone.now()
    run.parameters = {**parameters, "rows": len(rows), "seconds": round(time.perf_counter() - started, 3),
                      "warnings": list(getattr(table, "warnings", []))[:20]}
    run.save()
    return run


# --- Exclusions (dashboards, issue 7) ---------------------------------------------------------


def exclude_participants(*, study_id: int, public_ids: list[str], reason: str, by=None) -> list:
    """Exclude the listed participants of a study from analysis, recorded with reason, who and
    when, and queue a recompute of every wave; atomic. Unknown ids raise ValueError and store
    nothing; participants already excluded are left as they are. Returns the new exclusions."""
    from surveys.models import Exclusion, Participant

    reason = (reason or "").strip()
    wanted = sorted(set(public_ids))
    if not wanted:
        raise ValueError("Choose at least one participant to exclude.")
    if not reason:
        raise ValueError("Give a reason for the exclusion.")
    if len(reason) > Exclusion._meta.get_field("reason").max_length:
        raise ValueError("The reason is too long (at most 200 characters).")
    with transaction.atomic():
        found = {p.public_id: p for p in Participant.objects.select_for_update()
                 .filter(study_id=study_id, public_id__in=wanted, is_preview=False)}
        unknown = [pid for pid in wanted if pid not in found]
        if unknown:
            raise ValueError(f"Not participants of this study: {', '.join(unknown[:10])}.")
        already = set(Exclusion.objects.filter(participant__in=found.values(), lifted_at__isnull=True)
                      .values_list("participant__public_id", flat=True))
        created = Exclusion.objects.bulk_create([
            Exclusion(participant=found[pid], reason=reason, excluded_by=by) for pid in wanted if pid not in already
        ])
        if created:
            recompute_study(study_id=study_id)
    return created
