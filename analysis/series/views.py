"""Researcher pages for imported series: import a text corpus or an outcome series,
relate two series. Login required; a non-member gets 404; only owners and analysts import or
delete (`common.access.may_edit_series`). Thin: validate the form, call one service, render (bad files: 400, nothing stored)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from analysis import charts
from analysis.cli.base import InputError
from analysis.dashboards.views import _chart, _csv_or_400, _wants_csv
from analysis.models import TimeSeries
from analysis.series import services as text_services
from analysis.stats.correlate import METHODS
from common import access

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_LAGS = 24


class CorpusImportForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. letters-to-the-editor")
    period = forms.ChoiceField(choices=[("year", "year"), ("month", "month"), ("week", "week (from Monday)")],
                               initial="month")
    file = forms.FileField(label="Corpus CSV", help_text="Columns date, text and optionally group; ISO dates.")


class OutcomeImportForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. misinformation-posts")
    file = forms.FileField(label="Series CSV", help_text="Columns period and value; periods 2021, 2021-03 or ISO dates.")


class RelateForm(forms.Form):
    a = forms.ChoiceField(label="Series A")
    b = forms.ChoiceField(label="Series B")
    lags = forms.IntegerField(min_value=0, max_value=MAX_LAGS, initial=2,
                              help_text="Lag L pairs A(t) with B(t+L); also shown for -L.")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["a"].choices = self.fields["b"].choices = list(choices)


def _index_context(request, study, **forms_):
    may_edit = access.may_edit_series(request.user, study)
    choices = text_services.list_series_choices(study=study)
    return {
        "study": study, "page": "text", "series": text_services.list_series(study=study), "may_edit": may_edit,
        "corpus_form": forms_.get("corpus_form") or CorpusImportForm(),
        "outcome_form": forms_.get("outcome_form") or OutcomeImportForm(),
        "relate_form": RelateForm(choices=choices, initial={
            "a": choices[0][0] if choices else None, "b": choices[-1][0] if choices else None}),
    }


@login_required
def text_index(request, slug: str):
    study = access.get_member_study(request.user, slug)
    return render(request, "analysis/text/index.html", _index_context(request, study))


@login_required
@require_POST
def text_import(request, slug: str, kind: str):
    study = access.get_member_study(request.user, slug, roles=access.may_edit_series)
    form_class = CorpusImportForm if kind == "corpus" else OutcomeImportForm
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB; use the "
                                   "text_disagreement command and import its series as an outcome.")
        else:
            try:
                arguments = {"study": study, "name": form.cleaned_data["name"], "data": upload.read(),
                             "filename": upload.name, "user": request.user}
                if kind == "corpus":
                    series = text_services.import_corpus(period=form.cleaned_data["period"], **arguments)
                else:
                    series = text_services.import_outcome(**arguments)
            except InputError as error:
                form.add_error("file" if "series named" not in str(error) else "name", str(error))
            else:
                messages.success(request, f"Imported {series.name!r}: {series.points.count()} points.")
                return redirect("text-index", slug=study.slug)
    context = _index_context(request, study, **{f"{kind}_form": form})
    return render(request, "analysis/text/index.html", context, status=400)


@login_required
@require_POST
def text_series_delete(request, slug: str, pk: int):
    study = access.get_member_study(request.user, slug, roles=access.may_edit_series)
    series = get_object_or_404(TimeSeries, study=study, pk=pk)
    series.delete()
    messages.success(request, f"Deleted {series.name!r}.")
    return redirect("text-index", slug=study.slug)


def _picked(value: str, study) -> tuple[TimeSeries, str]:
    series_id, _colon, group = value.partition(":")
    return get_object_or_404(TimeSeries, study=study, pk=int(series_id)), group or "all"


def correlation_rows(frame) -> list[dict]:
    """One row per (differenced, lag) with a cell per method, in the records' order."""
    rows: dict[tuple, dict] = {}
    for record in frame.to_dict("records"):
        key = (record["differenced"], record["lag"])
        row = rows.setdefault(key, {"differenced": record["differenced"], "lag": record["lag"], "n": record["n"],
                                    "methods": {}})
        row["methods"][record["method"]] = record
    return [{**row, "methods": [row["methods"].get(m) for m in METHODS]} for row in rows.values()]


@login_required
def text_relate(request, slug: str):
    study = access.get_member_study(request.user, slug)
    choices = text_services.list_series_choices(study=study)
    form = RelateForm(request.GET, choices=choices)
    context = {"study": study, "page": "text", "form": form, "methods": METHODS}
    if not form.is_valid():
        return render(request, "analysis/text/relate.html", context, status=400)
    (a, group_a), (b, group_b) = _picked(form.cleaned_data["a"], study), _picked(form.cleaned_data["b"], study)
    try:
        relation = text_services.relate_series(a=a, b=b, group_a=group_a, group_b=group_b,
                                               lags=form.cleaned_data["lags"])
    except InputError as error:
        context["error"] = str(error)
        return render(request, "analysis/text/relate.html", context, status=400)
    if _wants_csv(request):
        return _csv_or_400(request, study, {"series": relation.plot, "correlations": relation.correlations})
    figure = charts.text_series_figure(relation.plot, title=f"{a.name} and {b.name}")
    context.update({
        "relation": relation, "rows": correlation_rows(relation.correlations),
        "charts": [_chart(request, study, "series", figure,
                          caption="Both series rescaled to 0..1 (lowest to highest value) on one time axis.")],
    })
    return render(request, "analysis/text/relate.html", context)

