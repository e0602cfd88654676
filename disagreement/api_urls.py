"""REST API routes (DESIGN section 5): /api/v1/..., /api/schema/, /api/docs/."""

from django.urls import path

from analysis import api as analysis_api

urlpatterns = [
    path("api/v1/studies/<slug:slug>/recompute/", analysis_api.StudyRecomputeApi.as_view(), name="api-study-recompute"),
]
