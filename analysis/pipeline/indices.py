"""A wave's indices: computed from its inputs and stored with their run (`runs` keeps the run's
life: one writer per wave, unchanged inputs skipped, nothing half-stored).

Groups are `all`, `arm:<name>` and `<grouping code>:<value>`, with between-group pairs
`A|B`; rows without an item pool over the attitude items. The dashboard tables of the wave
(`dashboard_store`) are replaced in the same transaction.
"""

import time
from functools import partial

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from analysis.models import AnalysisRun, IndexResult
from analysis.pipeline import dashboard_store, enqueue, runs, text
from analysis.pipeline.inputs import WaveInputs, intervention_wave_of, read_wave_inputs
from analysis.pipeline.provenance import INDEX_PARAMETERS, wave_fingerprint, wave_seed
from analysis.stats.tables import PARTICIPANT_PARTS, Scale, compute_index_table
from analysis.stats.weighted import weighted_index_table
from surveys.models import Participant, Study, Wave


def compute_wave_indices(*, study_id: int, wave_id: int, force: bool = False,
                         run_id: int | None = None) -> AnalysisRun:
    """Compute and store every index of one wave. Idempotent: unchanged inputs are skipped and a
    rerun stores identical rows; safe under concurrency (one claimant per wave, see `runs`).
    `run_id` names the run a message was sent for (a duplicate message then does nothing)."""
    run = runs.claim_run(study_id=study_id, kind=AnalysisRun.Kind.INDICES, wave_id=wave_id,
                         parameters={**INDEX_PARAMETERS, "force": force}, run_id=run_id)
    force = force or bool(run.parameters.get("force"))
    return runs.execute(run, compute=lambda run: _compute(run=run, force=force))


def _compute(*, run: AnalysisRun, force: bool) -> AnalysisRun:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    parameters = dict(INDEX_PARAMETERS)
    with runs.snapshot():  # one consistent state; no lock a participant's request waits for
        wave = Wave.objects.select_related("study").get(pk=run.wave_id, study_id=run.study_id)
        study = wave.study
        inputs = read_wave_inputs(wave=wave)
        intervention = intervention_wave_of(study_id=study.pk)
        runs.stamp(run, fingerprint=wave_fingerprint(inputs.state, parameters=parameters),
                   seed=wave_seed(study=study, wave=wave), parameters={**parameters, "force": force},
                   exclusions=inputs.excluded)
        previous = runs.unchanged_since(run, force=force)
        # results from before the dashboard tables: store those tables from the previous run
        dashboard_missing = previous is not None and not dashboard_store.wave_dashboard_stored(wave_id=wave.pk)
        if previous is None or dashboard_missing:
            inputs.answers  # noqa: B018 - read (and cached) inside the snapshot
        if previous is None:
            inputs.texts  # noqa: B018
    if previous is not None:
        with runs.swap(run):
            if dashboard_missing:
                dashboard_store.store_wave_dashboard(run=previous, wave=wave, answers=inputs.answers,
                                                     items=inputs.items)
            return runs.skip(run)

    answers = inputs.answers
    weights = respondent_weights(study=study, wave=wave)
    if weights is not None:  # weighted counts on the distributions page too
        answers = answers.assign(weight=answers["participant"].astype(str).map(weights))
    timings["query_s"] = time.perf_counter() - started

    t0 = time.perf_counter()
    frame = wave_index_frame(answers, scales=inputs.items.scales, grouping=inputs.items.grouping, seed=run.seed,
                             weights=weights, weight_kind=study.weight_kind, **parameters)
    notes: list[str] = []
    frame = text.with_text_indices(frame, inputs.texts, grouping=inputs.items.grouping, seed=run.seed, notes=notes,
                                   **parameters)
    timings["compute_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with runs.swap(run):  # the short transaction: readers see the old rows or the new, never half
        _store(run=run, study=study, wave=wave, frame=frame, inputs=inputs)
        # The distributions and quality pages read these, replaced in this same transaction.
        dashboard_store.store_wave_dashboard(run=run, wave=wave, answers=answers, items=inputs.items)
        timings["store_s"] = time.perf_counter() - t0
        if intervention is not None and wave.number >= intervention:
            # New post-intervention indices: the effects are due too.
            transaction.on_commit(lambda: enqueue.request_study_effects(study_id=study.pk))
        facts = {"text_notes": notes} if notes else {}
        return runs.finish(run, timings={k: round(v, 4) for k, v in timings.items()}, rows=len(frame),
                           **facts)


def respondent_weights(*, study: Study, wave: Wave) -> dict[str, float] | None:
    """Imported survey data with weights (Study.weight_kind set): public id -> weight."""
    if not study.weight_kind:
        return None
    return dict(Participant.objects.filter(study=study, submissions__wave=wave)
                .values_list("public_id", "weight"))


def wave_index_frame(answers: pd.DataFrame, *, scales: dict, grouping: list[str], seed: int,
                     bootstrap: int, level: float, weights: dict | None = None,
                     weight_kind: str = "") -> pd.DataFrame:
    """The index table of one wave: groups `all`, `arm:<name>` and `<grouping code>:<value>`;
    weighted (analysis.stats.weighted) when `weights` maps each participant to a weight."""
    columns = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]
    keep = answers["item"].isin(scales)
    if not keep.all():  # a copy of a large wave's answers only when something is left out
        answers = answers[keep]
    if answers.empty:
        return pd.DataFrame(columns=columns)
    compute = compute_index_table
    if weights is not None:
        answers = answers.assign(weight=answers["participant"].astype(str).map(weights))
        compute = partial(weighted_index_table, weight="weight", kind=weight_kind or "sampling")
    # Items outside the indices across items (multiple-choice options, 0/1 each) get their per-item
    # rows only, from a second table; a wave without such items is one table, as always.
    apart = {code for code, s in scales.items() if not s.pooled}
    frames = []
    for part, participant_indices in (({c: s for c, s in scales.items() if c not in apart}, PARTICIPANT_PARTS),
                                      ({c: s for c, s in scales.items() if c in apart}, ())):
        rows = answers[answers["item"].isin(part)] if apart else answers
        if not part or rows.empty:
            continue
        table = compute(
            rows, scales={code: Scale(s.scale_min, s.scale_max, s.step) for code, s in part.items()},
            by=["arm", *grouping], reverse={code for code, s in part.items() if s.reverse_coded},
            bootstrap=bootstrap, seed=seed, level=level, participant_indices=participant_indices,
        )
        frames.append(table.frame[columns])
    if not frames:
        return pd.DataFrame(columns=columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def finite(value) -> float | None:
    """A stored float: None for missing, NaN and infinite values."""
    return None if value is None or pd.isna(value) or not np.isfinite(value) else float(value)


def _store(*, run: AnalysisRun, study: Study, wave: Wave, frame: pd.DataFrame, inputs: WaveInputs) -> None:
    items = inputs.items.ids
    now = timezone.now()
    rows = [
        IndexResult(
            study=study, wave=wave, item_id=None if pd.isna(item) else items[item], group=group, index=index,
            value=finite(value), ci_low=finite(low), ci_high=finite(high),
            n=0 if pd.isna(n) else int(n), computed_at=now, run=run,
        )
        for item, group, index, value, low, high, n in frame[
            ["item", "group", "index", "value", "ci_low", "ci_high", "n"]].itertuples(index=False)
    ]
    IndexResult.objects.filter(study=study, wave=wave).delete()
    IndexResult.objects.bulk_create(rows, batch_size=5000)
