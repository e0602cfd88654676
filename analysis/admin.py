"""Read-only admin for computed results: they are written by the pipeline, never by hand."""

from django.contrib import admin

from surveys.admin import StudyScopedAdmin

from .models import AnalysisRun, EffectEstimate, IndexResult


class ReadOnlyAdmin(StudyScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
