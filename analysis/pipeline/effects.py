"""A study's intervention effects: estimated from every wave's answers and stored with their run
(`runs` keeps the run's life: one writer per study, unchanged inputs skipped, nothing
half-stored). The estimators are `analysis.stats.effects`."""

import time

import pandas as pd

from analysis.models import AnalysisRun, EffectEstimate
from analysis.pipeline import runs
from analysis.pipeline.indices import finite
from analysis.pipeline.inputs import intervention_wave_of, read_study_inputs
from analysis.pipeline.provenance import EFFECT_PARAMETERS, effects_fingerprint, effects_seed
from analysis.planning import frozen_plan
from analysis.stats.effects import estimate_effects
from analysis.stats.plan import mark_planned
from analysis.stats.tables import Scale
from surveys.models import Study


def compute_study_effects(*, study_id: int, run_id: int | None = None) -> AnalysisRun:
    """Estimate and store every intervention effect of a study. Idempotent (fingerprinted,
    fixed seed) and one claimant per study (see `runs`; the study row is never locked).
    `run_id` names the run a message was sent for (a duplicate message then does nothing)."""
    run = runs.claim_run(study_id=study_id, kind=AnalysisRun.Kind.EFFECTS, parameters=dict(EFFECT_PARAMETERS),
                         run_id=run_id)
    return runs.execute(run, compute=_compute)


def _compute(run: AnalysisRun) -> AnalysisRun:
    started = time.perf_counter()
    parameters = dict(EFFECT_PARAMETERS)
    # Freezing a launched study's plan is a short write of its own: before the read-only snapshot.
    plan = frozen_plan(study=Study.objects.get(pk=run.study_id))
    with runs.snapshot():  # one consistent state; no lock a participant's request waits for
        study = Study.objects.get(pk=run.study_id)
        inputs = read_study_inputs(study=study)
        intervention = intervention_wave_of(study_id=study.pk)
        arms = {arm.name: arm for arm in study.arms.all()}
        primary = f"{study.primary_outcome}|plan:{plan.fingerprint() if plan else ''}"
        runs.stamp(run, fingerprint=effects_fingerprint(inputs.states, primary=primary, parameters=parameters),
                   seed=effects_seed(study=study), parameters=parameters, exclusions=inputs.excluded)
        unchanged = runs.unchanged_since(run) is not None
        if not unchanged:
            inputs.answers  # noqa: B018 - read (and cached) inside the snapshot
    if unchanged:
        with runs.swap(run):
            return runs.skip(run)
    scales = inputs.items.scales
    grouping = inputs.items.grouping
    answers = inputs.answers
    keep = answers["item"].isin(scales)
    if not keep.all():  # a copy of every answer only when something is left out
        answers = answers[keep]
    del keep
    control = next(arm.name for arm in arms.values() if arm.is_control)
    table = estimate_effects(
        answers, arm_column="arm", control=control, intervention_wave=intervention,
        scales={code: Scale(s.scale_min, s.scale_max, s.step) for code, s in scales.items()},
        by=grouping[0] if grouping else None, seed=run.seed,
        reverse=[code for code, s in scales.items() if s.reverse_coded],
        apart=[code for code, s in scales.items() if not s.pooled],
        primary_outcome=study.primary_outcome or None, **parameters,
    )
    frame = table.frame.assign(group=table.frame["group"].fillna("all"), sample=table.frame["sample"].fillna("all"))
    if plan is not None:  # the frozen plan decides what is planned; Holm across its rows only
        frame = mark_planned(frame.assign(item=frame["item"].where(frame["item"].map(
            lambda v: isinstance(v, str)), None)), plan, control=control)
        frame["primary"] = frame["planned"]
    waves = {wave.number: wave for wave in inputs.waves}
    items = inputs.items.ids
    rows = []
    for record in frame.to_dict("records"):
        wave = record["wave"]
        rows.append(EffectEstimate(
            study=study, arm=arms[record["arm"]], outcome=record["outcome"],
            item_id=items.get(record["item"]) if isinstance(record["item"], str) else None,
            wave=None if wave == "pooled" or pd.isna(wave) else waves[int(wave)], method=record["method"],
            group=record.get("group") or "all", sample=record.get("sample") or "all",
            estimate=finite(record["estimate"]), se=finite(record["se"]), ci_low=finite(record["ci_low"]),
            ci_high=finite(record["ci_high"]), p_value=finite(record["p_value"]), p_holm=finite(record["p_holm"]),
            p_ri=finite(record.get("p_ri")), n=int(record["n"]) if not pd.isna(record["n"]) else 0,
            attrition_warning=bool(record.get("attrition_warning", False)), is_primary=bool(record.get("primary", False)),
            p_plan_holm=finite(record.get("p_plan_holm")),
            run=run,
        ))
    with runs.swap(run):  # the short transaction: readers see the old rows or the new, never half
        EffectEstimate.objects.filter(study=study).delete()
        EffectEstimate.objects.bulk_create(rows, batch_size=5000)
        return runs.finish(run, rows=len(rows), seconds=round(time.perf_counter() - started, 3),
                           warnings=list(getattr(table, "warnings", []))[:20])
