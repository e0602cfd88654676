"""Read-only admin for computed results: they are written by the pipeline, never by hand."""

from django.contrib import admin

from analysis.models import AnalysisRun, EffectEstimate, IndexResult, TimeSeries, TimeSeriesPoint
from surveys.admin import ReadOnlyAdmin


@admin.register(AnalysisRun)
class AnalysisRunAdmin(ReadOnlyAdmin):
    list_display = ["study", "kind", "wave", "status", "created_at", "finished_at"]
    list_filter = ["study", "kind", "status"]


@admin.register(IndexResult)
class IndexResultAdmin(ReadOnlyAdmin):
    list_display = ["study", "wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]
    list_filter = ["study", "index", "group"]


@admin.register(EffectEstimate)
class EffectEstimateAdmin(ReadOnlyAdmin):
    list_display = ["study", "arm", "outcome", "item", "wave", "method", "estimate", "ci_low", "ci_high", "p_holm"]
    list_filter = ["study", "outcome", "method"]


# --- Text series: imported on the study's text page, read-only here ---


@admin.register(TimeSeries)
class TimeSeriesAdmin(ReadOnlyAdmin):
    list_display = ["study", "name", "kind", "period", "lexicon", "texts", "scored", "source_name", "created_at"]
    list_filter = ["study", "kind", "period"]


@admin.register(TimeSeriesPoint)
class TimeSeriesPointAdmin(ReadOnlyAdmin):
    study_path = "series__study"
    list_display = ["series", "period", "group", "value", "ci_low", "ci_high", "value_mean", "texts", "scored"]
    list_filter = ["series__study", "series"]
