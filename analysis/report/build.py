"""The study report: one self-contained HTML file (plotly.js inlined from our own static files,
no CDN, prints to PDF), built by a worker from stored results only: design, enrolment and
attrition per arm, data quality, trends with intervals, planned and exploratory effects with
the method in plain words, the glossary of the indices used, provenance.

`build_study_report(*, study_id) -> AnalysisRun  # idempotent: unchanged inputs are skipped`

Its inputs are the finished runs it reads (their ids), the frozen plan's hash and the code
version; the run is a `report` run of the one run lifecycle (`analysis.pipeline.runs`).
"""

import hashlib
import json
import time

import pandas as pd
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from analysis import charts
from analysis.dashboards import reads
from analysis.dashboards.static_finders import plotly_package_data
from analysis.models import AnalysisRun, IndexResult, StudyReport
from analysis.pipeline import runs
from analysis.pipeline.provenance import CODE_VERSION
from analysis.planning import plan_of
from analysis.stats import glossary
from analysis.stats.quality import QualityRules, flag_submissions, summarize_flags
from common import group_keys
from surveys.models import Arm, Item, Study, Wave

#: Reports kept per study (each holds plotly.js, about 5 MB).
KEEP_REPORTS = 3
#: Indices drawn in the report's trends when the plan names none.
DEFAULT_TREND_INDICES = ("mad_pairwise", "agreement_a")

METHOD_IN_WORDS = {
    "did_bootstrap": (
        "Difference in differences of the index: how much the index of an intervention arm changed from "
        "the mean of the waves before the intervention to each later wave, minus the same change in the "
        "control arm, averaged over the later waves. The 95% interval and p-value come from resampling "
        "whole participants (all their waves together) within each arm, 1,000 times."),
    "twfe": (
        "Two-way fixed effects regression on the answers: each person is compared with themselves over time "
        "(person effects) and every wave with the others (wave effects); the effect is the extra change of "
        "the intervention arm after the intervention. Standard errors are clustered by participant."),
}


def build_study_report(*, study_id: int, run_id: int | None = None) -> AnalysisRun:
    """Build and store the study report from stored results; one claimant per study (`runs`),
    unchanged inputs skipped. `run_id` names the run a message was sent for."""
    run = runs.claim_run(study_id=study_id, kind=AnalysisRun.Kind.REPORT, parameters={}, run_id=run_id)
    return runs.execute(run, compute=lambda run: _build(run=run, study=Study.objects.get(pk=study_id)))


def report_inputs(*, study: Study) -> dict:
    """What a report is built from: the latest finished runs and the frozen plan's hash."""
    indices = (AnalysisRun.objects.filter(study=study, kind=AnalysisRun.Kind.INDICES, status=AnalysisRun.Status.DONE)
               .order_by("wave__number", "-finished_at", "-id").values_list("wave__number", "id"))
    latest: dict[int, int] = {}
    for number, run_id in indices:
        latest.setdefault(number, run_id)
    effects = runs.last_finished_run(study_id=study.pk, kind=AnalysisRun.Kind.EFFECTS)
    plan = plan_of(study=study)
    return {"indices_runs": {str(k): v for k, v in sorted(latest.items())},
            "effects_run": effects.pk if effects else None,
            "plan_hash": plan.frozen_hash if plan else "", "status": study.status}


def _build(*, run: AnalysisRun, study: Study) -> AnalysisRun:
    started = time.perf_counter()
    inputs = report_inputs(study=study)
    fingerprint = hashlib.sha256(json.dumps({**inputs, "code": CODE_VERSION}, sort_keys=True).encode()).hexdigest()
    runs.stamp(run, fingerprint=fingerprint, seed=0, parameters=inputs, exclusions=[])
    if runs.unchanged_since(run) is not None and StudyReport.objects.filter(study=study).exists():
        with runs.swap(run):
            return runs.skip(run)
    context = report_context(study=study, inputs=inputs, run=run)
    html = render_to_string("analysis/report/report.html", {**context, "plotly_js": _plotly_js()})
    with runs.swap(run):  # the short transaction that stores the report
        StudyReport.objects.create(study=study, run=run, html=html)
        old = list(StudyReport.objects.filter(study=study).values_list("pk", flat=True)[KEEP_REPORTS:])
        StudyReport.objects.filter(pk__in=old).delete()
        return runs.finish(run, bytes=len(html), seconds=round(time.perf_counter() - started, 3))


def _plotly_js() -> str:
    text = (plotly_package_data() / "plotly.min.js").read_text(encoding="utf-8")
    return mark_safe(text.replace("</script", "<\\/script"))


def _figure_json(figure) -> str:
    text = figure.to_json()
    return mark_safe(text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026"))


def _chart(name: str, figure, caption: str) -> dict:
    return {"name": name, "json": _figure_json(figure), "caption": caption}


def report_context(*, study: Study, inputs: dict, run: AnalysisRun | None = None) -> dict:
    """Everything the report shows, from stored rows (no index or effect is computed here)."""
    items = list(Item.objects.filter(study=study).order_by("order", "id"))
    for item in items:
        item.study = study
    waves = list(Wave.objects.filter(study=study).order_by("number"))
    arms = list(Arm.objects.filter(study=study).order_by("-is_control", "name"))
    intervention = reads.intervention_wave(study_id=study.pk)
    record = plan_of(study=study)
    plan = record.plan() if record else None

    funnel = reads.attrition_funnel_frame(study_id=study.pk)
    enrolment = _enrolment_table(funnel)
    quality = summarize_flags(flag_submissions(reads.quality_submissions_frame(study_id=study.pk), QualityRules()))

    trend_indices = [o.outcome for o in plan.outcomes if glossary.BY_NAME.get(o.outcome)
                     and not glossary.entry(o.outcome).pair_key] if plan else []
    trend_indices = list(dict.fromkeys(trend_indices or [i for i in (study.primary_outcome, *DEFAULT_TREND_INDICES)
                                                         if i and i in glossary.BY_NAME]))
    stored = set(IndexResult.objects.filter(study=study, item__isnull=True).values_list("index", flat=True).distinct())
    trend_indices = [i for i in trend_indices if i in stored]
    labels = reads.group_labels(study_id=study.pk, language=study.default_language, items=items)
    arm_groups = [group_keys.arm(a.name) for a in arms]
    trends, trend_tables = [], []
    for index in trend_indices:
        frame = reads.index_trend_frame(study_id=study.pk, indices=[index], item_id=None, groups=arm_groups)
        term = glossary.term(index)
        shown = frame.assign(group=[reads.label_group(g, labels) for g in frame["group"]],
                             flag=reads.under_coverage_flags(index, frame["n"]))
        trends.append(_chart(f"trend-{index}", charts.trend_figure(
            shown, title=f"{glossary.label(index)}, all items pooled, per arm", intervention_wave=intervention,
            y_title=glossary.label(index), more_disagreement=term.more_disagreement if term else None,
            empty="No stored values."),
            f"{glossary.label(index)} per wave and arm with 95% bootstrap intervals; "
            f"{term.direction_text if term else ''}."))
        trend_tables.append({"index": index, "label": glossary.label(index), "rows": shown.to_dict("records")})

    effects = reads.effects_frame(study_id=study.pk, item_id=None, sample="all", pooled=True) \
        if inputs.get("effects_run") else pd.DataFrame(columns=reads.EFFECT_COLUMNS)
    item_effects = _item_effects(study=study, items=items)
    every = pd.concat([effects.assign(item="all items pooled"), item_effects], ignore_index=True)
    every = every[every["group"] == group_keys.ALL] if len(every) else every
    rows = [{**{k: None if isinstance(v, float) and v != v else v for k, v in r.items()},
             "label": glossary.label(r["outcome"]), "method_label": glossary.method_label(r["method"])}
            for r in every.to_dict("records")]
    planned = [r for r in rows if r["primary"]]
    exploratory = [r for r in rows if not r["primary"]]
    used = [name for name in dict.fromkeys([*trend_indices, *(r["outcome"] for r in rows)]) if glossary.term(name)]
    methods = sorted({r["method"].removesuffix("_balanced") for r in rows})
    effects_run = AnalysisRun.objects.filter(pk=inputs.get("effects_run")).first()
    return {
        "study": study, "items": items, "waves": waves, "arms": arms, "intervention_wave": intervention,
        "plan_record": record, "plan": plan, "enrolment": enrolment,
        "funnel_chart": _chart("funnel", charts.funnel_figure(funnel, title="Enrolment and attrition per arm"),
                               "Participants per arm who joined, consented and completed each wave."),
        "quality": quality.to_dict("records"), "trends": trends, "trend_tables": trend_tables,
        "planned": planned, "exploratory": exploratory,
        "methods": [(m, glossary.method_label(m), METHOD_IN_WORDS.get(m, "")) for m in methods],
        "glossary_terms": [glossary.term(n) for n in used],
        "provenance": {"code_version": CODE_VERSION, "inputs": inputs, "effects_run": effects_run,
                       "report_run": run.pk if run else None, "built_at": timezone.now()},
    }


def _enrolment_table(funnel: pd.DataFrame) -> list[dict]:
    """Per arm: joined, consented, and completed per wave with the share of joined."""
    table = []
    for arm, rows in funnel.groupby("arm", sort=False):
        table.append({"arm": arm, "stages": [{"stage": r.stage, "count": int(r.count),
                                              "share": None if pd.isna(r.share) else f"{r.share:.0%}"}
                                             for r in rows.sort_values("step").itertuples()]})
    return table


def _item_effects(*, study: Study, items: list[Item]) -> pd.DataFrame:
    frames = []
    for item in items:
        if item.role != Item.Role.ATTITUDE:
            continue
        frame = reads.effects_frame(study_id=study.pk, item_id=item.pk, sample="all", pooled=True)
        if len(frame):
            frames.append(frame.assign(item=item.code))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*reads.EFFECT_COLUMNS, "item"])
