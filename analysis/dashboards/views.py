"""Researcher pages (login required; a non-member gets 404, `common.access` decides). Thin: validate the controls (query
parameters, so a view can be bookmarked), read stored results, build figures, render.

Every chart's data is also served as CSV from the same URL with `?format=csv&chart=<name>`.
"""

import pandas as pd
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from analysis import charts
from analysis.dashboards import reads as dashboards
from analysis.models import AnalysisRun
from analysis.pipeline.enqueue import recompute_study
from analysis.pipeline.runs import last_finished_run
from analysis.pipeline.state import analysis_state
from analysis.planning import plan_of
from analysis.stats import glossary
from analysis.stats.cross_sections import period_differences
from analysis.stats.quality import (
    QualityRules,
    flag_submissions,
    flagged_participants,
    summarize_flags,
)
from common import access, csvsafe, group_keys
from surveys.attrition import attrition_context
from surveys.enrolment import overview as enrolment_overview
from surveys.exclusions import exclude_participants
from surveys.kinds import kind_of
from surveys.models import Item, Study

# --- Shared pieces ----------------------------------------------------------------------------------


def _figure_json(figure) -> str:
    # Inside <script type="application/json">: escape what could end the element (as json_script).
    text = figure.to_json()
    return mark_safe(text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026"))


def _csv_url(request, name: str) -> str:
    query = request.GET.copy()
    query["format"], query["chart"] = "csv", name
    return f"?{query.urlencode()}"


def _chart(request, study: Study, name: str, figure, *, caption: str, terms: tuple[str, ...] = (),
           empty: str = "") -> dict:
    """A chart for `_chart.html`; its help link leads to the glossary entry of `terms[0]` (or
    the glossary's top); `empty` says in the page why an empty chart is empty."""
    anchor = f"#{terms[0]}" if terms and glossary.term(terms[0]) else ""
    return {"name": name, "json": _figure_json(figure), "caption": caption, "traces": len(figure.data),
            "csv_url": _csv_url(request, name), "filename": f"{study.slug}-{name}",
            "help_url": f"{reverse('study-glossary', args=[study.slug])}{anchor}",
            "help_label": ", ".join(glossary.label(t) for t in terms[:3]) if terms else "the indices and methods",
            "empty": empty if not figure.data else ""}


def _csv(frame: pd.DataFrame, filename: str) -> HttpResponse:
    text = csvsafe.frame_to_csv(frame, date_format="%Y-%m-%dT%H:%M:%S%z")
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def _csv_or_400(request, study: Study, frames: dict[str, pd.DataFrame]) -> HttpResponse:
    name = request.GET.get("chart", "")
    if name not in frames:
        return HttpResponseBadRequest(f"Unknown chart {name!r}; this page has: {', '.join(frames)}.",
                                      content_type="text/plain; charset=utf-8")
    return _csv(frames[name], f"{study.slug}-{name}")


def _controls(form_class, request, **kwargs):
    """Bind the page's controls to the query string on top of their defaults."""
    probe = form_class(**kwargs)
    data = {name: field.initial for name, field in probe.fields.items() if field.initial is not None}
    data.update({k: v for k, v in request.GET.items() if k in probe.fields})
    return form_class(data=data, **kwargs)


def _invalid(request, template: str, context: dict) -> HttpResponse:
    return render(request, template, context, status=400)


def _language(request, study: Study) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or study.default_language


def _latest(values) -> object:
    values = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    return max(values) if values else None


# --- Study list, overview, recompute -----------------------------------------------------------------


@login_required
def study_list(request):
    studies = dashboards.list_study_summaries(user=request.user)
    return render(request, "analysis/study_list.html", {"studies": studies})


@login_required
def study_overview(request, slug: str):
    study = access.get_member_study(request.user, slug)
    panel = dashboards.panel_counts(study_id=study.pk)  # kept by the write path; None: count raw rows
    counts = dashboards.submission_counts(study_id=study.pk, panel=panel)
    funnel = dashboards.attrition_funnel_frame(study_id=study.pk, counts=counts, panel=panel)
    if _wants_csv(request):
        return _csv_or_400(request, study, {"funnel": funnel})
    joined = int(funnel.loc[funnel["stage"] == "joined", "count"].sum()) if len(funnel) else 0
    context = {
        "study": study, "page": "overview",
        "waves": dashboards.list_wave_rows(study_id=study.pk, counts=counts, panel=panel),
        "analysis": analysis_state(study_id=study.pk),
        "can_recompute": access.may_recompute(request.user, study),
        "joined": joined,
        "analysable": dashboards.count_analysable_participants(study_id=study.pk, panel=panel),
        "charts": [_chart(request, study, "funnel", charts.funnel_figure(funnel),
                          caption="Attrition per arm: participants who joined, consented and completed each wave.")],
        "now": timezone.now(),
        # invited / reminded / started / completed per wave and arm, and who missed the last wave
        **attrition_context(study, at_risk_limit=10, panel=panel,
                            participant_level=access.may_read_participant_data(request.user, study)),
        "enrolment": enrolment_overview(study, panel=panel),
    }
    return render(request, "analysis/study_overview.html", context)


@login_required
@require_POST
def study_recompute(request, slug: str):
    study = access.get_member_study(request.user, slug, roles=access.may_recompute)
    runs = recompute_study(study_id=study.pk)
    messages.success(request, f"Recompute queued for {len(runs)} wave(s).")
    return redirect("study-overview", slug=study.slug)


# --- Trends -----------------------------------------------------------------------------------------


class TrendControls(forms.Form):
    index = forms.ChoiceField(label="Index")
    item = forms.ChoiceField(label="Item")
    grouping = forms.ChoiceField(label="Lines per")

    def __init__(self, *args, indices, items, groupings, default_index, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["index"].choices = [(name, glossary.label(name)) for name in indices]
        self.fields["index"].initial = default_index
        self.fields["item"].choices = [("pooled", "all items pooled")] + [(i.code, i.code) for i in items]
        self.fields["item"].initial = "pooled"
        self.fields["grouping"].choices = [(g.key, g.label) for g in groupings]
        self.fields["grouping"].initial = "arm"


@login_required
def study_trends(request, slug: str):
    study = access.get_member_study(request.user, slug)
    stored = dashboards.stored_index_keys(study_id=study.pk)
    indices = dashboards.list_stored_indices(study_id=study.pk, keys=stored) or ["mad_pairwise"]
    every_item = dashboards.study_items(study=study)
    # numeric items, and the free-text items whose text_negativity the pipeline stores
    items = [i for i in every_item if i.role == Item.Role.ATTITUDE]
    default_index = study.primary_outcome if study.primary_outcome in indices else indices[0]
    form = _controls(TrendControls, request, indices=indices, items=items,
                     groupings=dashboards.list_groupings(study_id=study.pk, items=every_item),
                     default_index=default_index)
    context = {"study": study, "page": "trends", "form": form}
    if not form.is_valid():
        return _invalid(request, "analysis/trends.html", context)
    index, grouping = form.cleaned_data["index"], form.cleaned_data["grouping"]
    item = next((i for i in items if i.code == form.cleaned_data["item"]), None)
    text_items = [i for i in items if kind_of(i).free_text]
    if index in glossary.names(glossary.TEXT) and (item is None or not kind_of(item).free_text) and text_items:
        item = text_items[0]  # text indices exist per free-text item only
    singles, pairs = dashboards.groups_of(grouping, dashboards.list_stored_groups(study_id=study.pk, keys=stored))
    trend = dashboards.index_trend_frame(study_id=study.pk, indices=[index], item_id=item.pk if item else None,
                                         groups=singles)
    between = dashboards.index_trend_frame(study_id=study.pk, indices=list(dashboards.BETWEEN_GROUP_INDICES),
                                           item_id=item.pk if item else None, groups=pairs)
    frames = {"trend": trend, "between": between} if pairs else {"trend": trend}
    if _wants_csv(request):
        return _csv_or_400(request, study, frames)
    labels = dashboards.group_labels(study_id=study.pk, language=_language(request, study), items=every_item)
    marked = dashboards.intervention_wave(study_id=study.pk)
    what = item.code if item else "all items pooled"
    shown = trend.assign(group=[dashboards.label_group(g, labels) for g in trend["group"]],
                         flag=dashboards.under_coverage_flags(index, trend["n"], pooled=item is None))
    periods = study.design == Study.Design.CROSS_SECTION
    if periods:  # waves are periods: drawn at their dates
        starts = dashboards.period_starts(study_id=study.pk)
        shown, between = shown.assign(wave=shown["wave"].map(starts)), between.assign(wave=between["wave"].map(starts))
    term = glossary.term(index)
    empty = "" if len(trend) else _empty_trend_reason(index=index, what=what, grouping=grouping, singles=singles)
    page_charts = [_chart(request, study, "trend", charts.trend_figure(
        shown, title=f"{glossary.label(index)}, {what}", intervention_wave=marked, time_axis=periods,
        y_title=" ".join(filter(None, (glossary.label(index), f"({_units(index, item)})" if _units(index, item) else ""))),
        more_disagreement=term.more_disagreement if term else None, empty=empty),
        caption=f"{glossary.label(index)} per wave with 95% bootstrap intervals, one line per "
                f"{'group' if grouping != 'all' else 'study'}; {term.direction_text if term else ''}.",
        terms=(index,), empty=empty)]
    if pairs:
        shown_between = between.assign(group=[f"{glossary.label(name)}: {dashboards.label_group(g, labels)}"
                                              for name, g in zip(between["index"], between["group"], strict=True)])
        page_charts.append(_chart(
            request, study, "between",
            charts.trend_figure(shown_between, title=f"between groups, {what}", intervention_wave=marked,
                                time_axis=periods, y_title="share of the scale",
                                empty="No between-group indices are stored for this grouping yet."),
            caption="Between-group indices: "
                    + "; ".join(f"{glossary.label(n)}: {glossary.term(n).direction_text}"
                                for n in dashboards.BETWEEN_GROUP_INDICES) + ".",
            terms=tuple(dashboards.BETWEEN_GROUP_INDICES)))
    context.update({
        "charts": page_charts, "index": index, "item": item,
        "analysable": dashboards.count_analysable_participants(study_id=study.pk),
        "computed_at": _latest(list(trend["computed_at"]) + list(between["computed_at"])),
        "latest_n": _latest_n(trend),
    })
    return render(request, "analysis/trends.html", context)


def _units(index: str, item) -> str:
    """The units of an index's values as a chart's axis says them."""
    entry = glossary.BY_NAME.get(index)
    if entry is not None and entry.own_units:
        return f"{item.code}'s scale" if item is not None else "pooled: answers rescaled to 0..1"
    if entry is not None and entry.count:
        return "count"
    return ""


def _empty_trend_reason(*, index: str, what: str, grouping: str, singles: list[str]) -> str:
    if not singles:
        return (f"No stored indices for the groups of '{grouping}': the indices of a wave are computed once it "
                "has answers (see the overview's analysis state).")
    return (f"No {glossary.label(index)} is stored for {what} in these groups: it is not computed for this item "
            "or is undefined in every wave (see the glossary).")


def _latest_n(frame: pd.DataFrame) -> dict | None:
    """Answers behind the last wave's points (the groups of one grouping partition them)."""
    if frame.empty:
        return None
    wave = int(frame["wave"].max())
    return {"wave": wave, "n": int(frame.loc[frame["wave"] == wave, "n"].sum())}


# --- Distributions --------------------------------------------------------------------------------


class DistributionControls(forms.Form):
    item = forms.ChoiceField(label="Item")
    grouping = forms.ChoiceField(label="Bars per")

    def __init__(self, *args, items, groupings, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(i.code, i.code) for i in items]
        self.fields["item"].initial = items[0].code if items else None
        self.fields["grouping"].choices = [(g.key, g.label) for g in groupings]
        self.fields["grouping"].initial = groupings[2].key if len(groupings) > 2 else "arm"


@login_required
def study_distributions(request, slug: str):
    study = access.get_member_study(request.user, slug)
    every_item = dashboards.study_items(study=study)
    items = dashboards.list_numeric_items(study_id=study.pk, items=every_item)
    form = _controls(DistributionControls, request, items=items,
                     groupings=dashboards.list_groupings(study_id=study.pk, items=every_item))
    context = {"study": study, "page": "distributions", "form": form}
    if not items or not form.is_valid():
        return _invalid(request, "analysis/distributions.html", context) if items else \
            render(request, "analysis/distributions.html", context)
    item = next(i for i in items if i.code == form.cleaned_data["item"])
    grouping = form.cleaned_data["grouping"]
    counts = dashboards.answer_distribution_frame(study_id=study.pk, item_id=item.pk, grouping=grouping)
    if _wants_csv(request):
        return _csv_or_400(request, study, {"distribution": counts})
    labels = dashboards.group_labels(study_id=study.pk, language=_language(request, study), items=every_item)
    figure = charts.distribution_figure(counts, title=f"{item.code}: {item.prompt_in(_language(request, study))}"[:120],
                                        scale=(item.scale_min, item.scale_max, item.step),
                                        labels={g: dashboards.label_group(g, labels) for g in counts["group"].unique()},
                                        wave_names=dashboards.period_labels(study_id=study.pk)
                                        if study.design == Study.Design.CROSS_SECTION else None)
    context.update({
        "item": item,
        "charts": [_chart(request, study, "distribution", figure,
                          caption=f"Share of answers to {item.code} per value (long scales in bins labelled by "
                                  f"their lower edge), one panel per wave"
                                  f"{'' if grouping == 'all' else ', one bar colour per group'}; "
                                  "'don't know' is left out.")],
        "answers": int(counts["count"].sum()), "computed_at": _last_computed(study),
        "per_wave": counts.groupby("wave")["count"].sum().to_dict(),
    })
    return render(request, "analysis/distributions.html", context)


# --- Effects ----------------------------------------------------------------------------------------


class PeriodControls(forms.Form):
    item = forms.ChoiceField(label="Item")
    index = forms.ChoiceField(label="Index")

    def __init__(self, *args, items, indices, default_index, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [("pooled", "all items pooled")] + [(i.code, i.code) for i in items]
        self.fields["item"].initial = "pooled"
        self.fields["index"].choices = [(name, name) for name in indices]
        self.fields["index"].initial = default_index


def _period_differences(request, study: Study):
    """Repeated cross-sections: no panel estimator applies (new people each period); the page
    shows the chosen index's differences between consecutive periods and since the first, with
    intervals for independent samples (analysis.stats.cross_sections)."""
    items = [i for i in dashboards.study_items(study=study) if i.role == Item.Role.ATTITUDE]
    stored = dashboards.stored_index_keys(study_id=study.pk)
    indices = [name for name in (dashboards.list_stored_indices(study_id=study.pk, keys=stored) or ["mad_pairwise"])
               if not glossary.entry(name).count]
    default_index = study.primary_outcome if study.primary_outcome in indices else indices[0]
    form = _controls(PeriodControls, request, items=items, indices=indices, default_index=default_index)
    context = {"study": study, "page": "effects", "form": form, "cross_section": True, "has_effects": True}
    if not form.is_valid():
        return _invalid(request, "analysis/effects.html", context)
    index = form.cleaned_data["index"]
    item = next((i for i in items if i.code == form.cleaned_data["item"]), None)
    trend = dashboards.index_trend_frame(study_id=study.pk, indices=[index], item_id=item.pk if item else None,
                                         groups=[group_keys.ALL])
    labels = dashboards.period_labels(study_id=study.pk)
    series = trend.assign(period=trend["wave"].map(labels))
    steps = period_differences(series)
    since = period_differences(series, baseline=True)
    frames = {"steps": steps, "since_first": since}
    if _wants_csv(request):
        return _csv_or_400(request, study, frames)
    context.update({"index": index, "what": item.code if item else "all items pooled",
                    "steps": steps.to_dict("records"), "since": since.to_dict("records"),
                    "steps_csv": _csv_url(request, "steps"), "since_csv": _csv_url(request, "since_first")})
    return render(request, "analysis/effects.html", context)


class EffectControls(forms.Form):
    item = forms.ChoiceField(label="Item")
    group = forms.ChoiceField(label="Within")
    sample = forms.ChoiceField(label="Sample", choices=[("all", "everyone (intention to treat)"),
                                                        ("balanced", "balanced panel (answered every wave)")],
                               initial="all")
    outcome = forms.ChoiceField(label="Effect over waves of")

    def __init__(self, *args, items, pooled, groups, outcomes, default_outcome, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = ([("pooled", "all items pooled")] if pooled else []) + \
            [(i.code, i.code) for i in items]
        self.fields["item"].initial = items[0].code if items else "pooled"
        self.fields["group"].choices = [(group_keys.ALL, "everyone (and between groups)")] + list(groups.items())
        self.fields["group"].initial = group_keys.ALL
        self.fields["outcome"].choices = [(o, glossary.label(o)) for o in outcomes]
        self.fields["outcome"].initial = default_outcome


@login_required
def study_effects(request, slug: str):
    study = access.get_member_study(request.user, slug)
    if study.design == Study.Design.CROSS_SECTION:
        return _period_differences(request, study)
    every_item = dashboards.study_items(study=study)
    items, pooled_stored, stored_groups = dashboards.effect_items(study_id=study.pk, items=every_item)
    outcomes = [*dashboards.INDIVIDUAL_OUTCOMES, *dashboards.EFFECT_INDICES]
    default = study.primary_outcome if study.primary_outcome in outcomes else "value"
    labels = dashboards.group_labels(study_id=study.pk, language=_language(request, study), items=every_item)
    groups = {g: dashboards.label_group(g, labels) for g in stored_groups}
    form = _controls(EffectControls, request, items=items, pooled=pooled_stored, groups=groups, outcomes=outcomes,
                     default_outcome=default)
    context = {"study": study, "page": "effects", "form": form, "has_effects": bool(items) or pooled_stored}
    if not context["has_effects"]:
        return render(request, "analysis/effects.html", context)
    if not form.is_valid():
        return _invalid(request, "analysis/effects.html", context)
    item = next((i for i in items if i.code == form.cleaned_data["item"]), None)
    item_id = item.pk if item else None
    what = item.code if item else "all items pooled"
    sample, outcome, group = form.cleaned_data["sample"], form.cleaned_data["outcome"], form.cleaned_data["group"]
    pooled = dashboards.effects_frame(study_id=study.pk, item_id=item_id, sample=sample, pooled=True)
    # The charts and the page's table show the chosen group (everyone: with the between-group
    # pairs); the table's CSV has every stored row of the item and sample.
    main = pooled[_in_group(pooled, group)]
    individual = main[main["outcome"].isin(dashboards.INDIVIDUAL_OUTCOMES)]
    index_rows = main[~main["outcome"].isin(dashboards.INDIVIDUAL_OUTCOMES)]
    waves = dashboards.effects_frame(study_id=study.pk, item_id=item_id, sample=sample, pooled=False, outcome=outcome)
    waves = waves[_in_group(waves, group)]
    frames = {"individual": individual, "indices": index_rows, "waves": waves, "table": pooled}
    if _wants_csv(request):
        return _csv_or_400(request, study, frames)
    marked = dashboards.intervention_wave(study_id=study.pk)
    within = "" if group == group_keys.ALL else f", within {groups[group]}"
    width = (item.scale_max - item.scale_min) if item is not None and item.is_numeric else 1.0
    page_charts = []
    if len(individual):
        page_charts.append(_forest_chart(request, study, "individual", individual, width=width,
                                         title=f"answers to {what}: two-way fixed effects{within}",
                                         caption="Effect of each arm against control on the answers, pooled over "
                                                 "post-intervention waves, with 95% intervals "
                                                 "(participant-clustered)."))
    page_charts.append(_forest_chart(
        request, study, "indices", index_rows, width=width,
        title=f"indices of {what}: difference in differences{within}",
        caption="Difference in differences of each index against control, pooled over post-intervention waves, "
                "with 95% cluster-bootstrap intervals.",
        empty=f"No index effects are stored for {what} in this group and sample."))
    term = glossary.term(outcome)
    reference = _reference_wave(outcome, dashboards.pre_intervention_waves(study_id=study.pk, intervention=marked))
    empty = "" if len(waves) else _empty_effects_reason(outcome=outcome, item=item, group=group)
    page_charts.append(_chart(request, study, "waves", charts.event_study_figure(
        waves, title=f"{glossary.label(outcome)} of {what} per wave{within}", intervention_wave=marked,
        reference_wave=reference, y_title=" ".join(filter(None, (
            f"effect on {glossary.label(outcome)}",
            f"({_effect_units(outcome, item)})" if _effect_units(outcome, item) else ""))),
        more_disagreement=term.more_disagreement if term else None, empty=empty),
        caption="Effect per wave. Hollow points before the intervention are placebo checks (they should lie near 0); "
                + ("the hollow diamond is the reference wave, 0 by construction." if reference is not None else
                   "each wave is compared with the mean of the pre-intervention waves."),
        terms=(outcome,), empty=empty))
    run = last_finished_run(study_id=study.pk, kind=AnalysisRun.Kind.EFFECTS)
    context.update({
        "item": item, "what": what, "charts": page_charts, "run": run,
        "n": int(pooled["n"].max()) if len(pooled) else 0,
        "warnings": [{**row, "label": glossary.label(row["outcome"]), "method_label": glossary.method_label(row["method"])}
                     for row in main[main["attrition_warning"]].to_dict("records")],
        "primary": study.primary_outcome,
        "plan": plan_of(study=study),
        **_split_table(main, labels=labels, width=width),
        "table_csv": _csv_url(request, "table"),
    })
    return render(request, "analysis/effects.html", context)


def _forest_chart(request, study: Study, name: str, rows: pd.DataFrame, *, width: float, title: str, caption: str,
                  empty: str = "") -> dict:
    """A forest plot on one comparable axis: each effect as a share of its outcome's possible
    range, the raw estimate written beside it; outcomes without a finite range are named in the
    caption (their raw values are in the table)."""
    spans = {o: glossary.possible_span(o, scale_width=width) for o in rows["outcome"].unique()}
    marks = {o: charts.direction_mark(glossary.term(o).more_disagreement, axis="x") if glossary.term(o) else ""
             for o in spans}
    shares, left_out = charts.share_of_range(rows, spans, labels={o: glossary.label(o) for o in spans}, marks=marks)
    if len(left_out):
        caption += (" Not on this axis (no finite range; see the table): "
                    + ", ".join(sorted({glossary.label(o) for o in left_out["outcome"]})) + ".")
    figure = charts.forest_figure(shares, title=title, empty=empty,
                                  x_title="effect as a share of the outcome's possible range "
                                          "(raw value in the outcome's units beside each point)")
    return _chart(request, study, name, figure, caption=caption + " Arrows mark which way means more disagreement.",
                  terms=tuple(rows["outcome"].unique()), empty=empty if not len(shares) else "")


def _reference_wave(outcome: str, pre_waves: list[int]) -> int | None:
    """The wave an event study's per-wave effects are compared with: the last pre-intervention
    wave for the regressions on answers; for index differences in differences the mean of the
    pre waves, which is a wave only when there is one."""
    if not pre_waves:
        return None
    if outcome in dashboards.INDIVIDUAL_OUTCOMES:
        return max(pre_waves)
    return pre_waves[0] if len(pre_waves) == 1 else None


def _effect_units(outcome: str, item) -> str:
    if outcome in dashboards.INDIVIDUAL_OUTCOMES:
        return f"{item.code}'s scale" if item is not None else "item's scale"
    return _units(outcome, item)


def _empty_effects_reason(*, outcome: str, item, group: str) -> str:
    if outcome in dashboards.INDIVIDUAL_OUTCOMES and item is None:
        return (f"{glossary.label(outcome)} is an answer-level outcome, estimated per item and never pooled over "
                "items: choose an item, or an index as the outcome.")
    if outcome in dashboards.INDIVIDUAL_OUTCOMES and group != group_keys.ALL:
        return f"{glossary.label(outcome)} is estimated for everyone, not within a group: choose 'everyone'."
    return (f"No per-wave estimates of {glossary.label(outcome)} are stored for this item, group and sample "
            "(the outcome may be undefined here, or the effects not computed yet).")


def _split_table(rows: pd.DataFrame, *, labels: dict[str, str], width: float) -> dict:
    """The effects table's rows, planned (the frozen plan's outcomes and contrasts, else the
    study's primary outcome) apart from exploratory, each with its label, method in words and
    its estimate as a share of the outcome's possible range."""
    records = rows.assign(
        group=[dashboards.label_group(g, labels) for g in rows["group"]],
        label=[glossary.label(o) for o in rows["outcome"]],
        method_label=[glossary.method_label(m) for m in rows["method"]],
        share=[f"{e / span:+.1%}" if span and pd.notna(e) else "–" for e, span in
               zip(rows["estimate"], (glossary.possible_span(o, scale_width=width) for o in rows["outcome"]),
                   strict=True)],
    ).to_dict("records")
    for record in records:
        if record.get("p_plan_holm") is not None and pd.isna(record["p_plan_holm"]):
            record["p_plan_holm"] = None
    return {"table": records, "planned_rows": [r for r in records if r["primary"]],
            "exploratory_rows": [r for r in records if not r["primary"]]}


def _in_group(frame: pd.DataFrame, group: str) -> pd.Series:
    if group == group_keys.ALL:
        return _whole_sample(frame)
    return frame["group"] == group


def _whole_sample(frame: pd.DataFrame) -> pd.Series:
    return (frame["group"] == group_keys.ALL) | frame["group"].str.contains(group_keys.PAIR_SEPARATOR, regex=False)


# --- Glossary ---------------------------------------------------------------------------------------


def glossary_sections() -> list[dict]:
    """The glossary's sections: indices (in the dashboards' order), answer-level outcomes, methods."""
    indices = [glossary.term(name) for name in glossary.display_order() if glossary.term(name)]
    return [
        {"title": "Indices", "terms": indices},
        {"title": "Answer-level outcomes of the effects", "terms": list(glossary.OUTCOME_TERMS)},
    ]


@login_required
def study_glossary(request, slug: str):
    study = access.get_member_study(request.user, slug)
    return render(request, "analysis/glossary.html", {
        "study": study, "page": "glossary", "sections": glossary_sections(),
        "methods": sorted(glossary.METHOD_LABELS.items()),
    })


# --- Quality ----------------------------------------------------------------------------------------

SPEEDER_SHARES = [("0.25", "a quarter"), ("0.33", "a third"), ("0.5", "half")]


class QualityControls(forms.Form):
    speed = forms.ChoiceField(label="Speeder: faster than", choices=SPEEDER_SHARES, initial="0.33",
                              help_text="of the wave's median completion time")
    rows = forms.ChoiceField(label="Flagged participants listed", choices=[("100", "the 100 most flagged"),
                                                                          ("all", "all")], initial="100")


class ExcludeForm(forms.Form):
    participants = forms.MultipleChoiceField(label="Participants to exclude", widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label="Reason (recorded)", max_length=200,
                             initial="Flagged by the data-quality screens")

    def __init__(self, *args, flagged: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participants"].choices = [(pid, pid) for pid in flagged]


def _quality_context(request, study: Study, speed: str, rows: str = "all",
                     checked: frozenset = frozenset()) -> tuple[dict, dict[str, pd.DataFrame]]:
    participant_level = access.may_read_participant_data(request.user, study)
    if dashboards.quality_stored(study_id=study.pk):  # the flags the workers stored with each wave
        summary = dashboards.stored_quality_summary(study_id=study.pk, speeder_share=speed)
        limit = (None if rows == "all" else int(rows)) if participant_level else 0
        people, flagged_total = dashboards.stored_flagged_participants(
            study_id=study.pk, speeder_share=speed, limit=limit)
        submissions = int(summary["submissions"].sum())
    else:  # waves computed before the flags were stored: flag their rows here
        flags = flag_submissions(dashboards.quality_submissions_frame(study_id=study.pk),
                                 QualityRules(speeder_share=float(speed)))
        summary = summarize_flags(flags)
        people = flagged_participants(dashboards.with_public_ids(flags[flags["flagged"]], study_id=study.pk))
        flagged_total, submissions = len(people), len(flags)
    exclusions = dashboards.list_active_exclusions(study_id=study.pk)
    people["excluded"] = people["participant"].isin({e.participant.public_id for e in exclusions})
    if not participant_level:  # viewers see the per-wave shares only, as in the API
        people, exclusions, flagged_total = people.iloc[0:0], [], 0
    frames = {"quality": summary}
    if participant_level:
        frames["flagged"] = people.assign(**{f: people[f].map(lambda waves: " ".join(map(str, waves)))
                                             for f in FLAG_NAMES})
    # The page lists the most flagged first; the CSV always has everyone. The rows' texts are
    # made here: a filter per cell in the template costs more than the rest of the page.
    shown = people if rows == "all" else people.head(int(rows))
    records = shown.to_dict("records")
    for record in records:
        record.update({f"{f}_text": ", ".join(map(str, record[f])) for f in FLAG_NAMES})
        record["checked"] = record["participant"] in checked
    context = {
        "summary": summary.to_dict("records"), "people": records, "flagged_total": flagged_total,
        "participant_level": participant_level,
        "exclusions": exclusions,
        "submissions": submissions, "computed_at": _last_computed(study),
        "charts": [_chart(request, study, "quality", charts.quality_figure(summary, title="flagged submissions per wave"),
                          caption="Share of each wave's submissions flagged by each screen.")],
        "can_exclude": access.may_exclude(request.user, study),
        "flaggable": people.loc[~people["excluded"], "participant"].tolist(),
    }
    return context, frames


FLAG_NAMES = ("attention", "speeder", "straightlining")


def _last_computed(study: Study):
    run = last_finished_run(study_id=study.pk, kind=AnalysisRun.Kind.INDICES)
    return run.finished_at if run else None


@login_required
def study_quality(request, slug: str):
    study = access.get_member_study(request.user, slug)
    form = _controls(QualityControls, request)
    context = {"study": study, "page": "quality", "form": form}
    if not form.is_valid():
        return _invalid(request, "analysis/quality.html", context)
    rows = "all" if _wants_csv(request) else form.cleaned_data["rows"]  # the CSV lists everyone
    extra, frames = _quality_context(request, study, form.cleaned_data["speed"], rows)
    if _wants_csv(request):
        return _csv_or_400(request, study, frames)
    context.update(extra)
    context["exclude_form"] = ExcludeForm(flagged=extra["flaggable"])
    return render(request, "analysis/quality.html", context)


@login_required
@require_POST
def study_exclude(request, slug: str):
    study = access.get_member_study(request.user, slug, roles=access.may_exclude)
    speed = request.GET.get("speed", "0.33")
    speed = speed if speed in dict(SPEEDER_SHARES) else "0.33"
    extra, _frames = _quality_context(request, study, speed, checked=frozenset(request.POST.getlist("participants")))
    form = ExcludeForm(request.POST, flagged=extra["flaggable"])
    error = None
    if form.is_valid():
        try:
            created = exclude_participants(study_id=study.pk, public_ids=form.cleaned_data["participants"],
                                           reason=form.cleaned_data["reason"], by=request.user)
        except ValueError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Excluded {len(created)} participant(s); the analysis is being recomputed.")
            return redirect(f"{reverse('study-quality', args=[study.slug])}?speed={speed}")
    context = {"study": study, "page": "quality", "form": QualityControls(data={"speed": speed, "rows": "all"}),
               "exclude_form": form, "exclude_error": error, **extra}
    return _invalid(request, "analysis/quality.html", context)
