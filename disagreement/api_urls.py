"""REST API routes (docs/contracts.md): /api/v1/..., /api/schema/, /api/docs/."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analysis.api import views as analysis_api
from common.api import ApiNotFound
from surveys import api as surveys_api
from surveys.spec import api as spec_api

LIST = {"get": "list", "post": "create"}
DETAIL = {"get": "retrieve", "put": "update", "patch": "partial_update"}
STUDY = "api/v1/studies/<slug:slug>/"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/studies/", surveys_api.StudyViewSet.as_view(LIST), name="api-study-list"),
    path(STUDY, surveys_api.StudyViewSet.as_view(DETAIL), name="api-study-detail"),
    path(STUDY + "items/", surveys_api.ItemViewSet.as_view(LIST), name="api-item-list"),
    path(STUDY + "items/<str:code>/", surveys_api.ItemViewSet.as_view(DETAIL), name="api-item-detail"),
    path(STUDY + "waves/", surveys_api.WaveViewSet.as_view(LIST), name="api-wave-list"),
    path(STUDY + "waves/<int:number>/", surveys_api.WaveViewSet.as_view(DETAIL), name="api-wave-detail"),
    path(STUDY + "arms/", surveys_api.ArmViewSet.as_view(LIST), name="api-arm-list"),
    path(STUDY + "arms/<str:name>/", surveys_api.ArmViewSet.as_view(DETAIL), name="api-arm-detail"),
    path(STUDY + "participants/", surveys_api.ParticipantListApi.as_view({"get": "list"}), name="api-participant-list"),
    path(STUDY + "responses/", surveys_api.ResponseListApi.as_view({"get": "list"}), name="api-response-list"),
    path(STUDY + "indices/", analysis_api.IndexListApi.as_view({"get": "list"}), name="api-index-list"),
    path(STUDY + "effects/", analysis_api.EffectListApi.as_view({"get": "list"}), name="api-effect-list"),
    path(STUDY + "export/", analysis_api.StudyExportApi.as_view(), name="api-study-export"),
    path(STUDY + "export/codebook/", analysis_api.StudyCodebookApi.as_view(), name="api-study-codebook"),
    path(STUDY + "recompute/", analysis_api.StudyRecomputeApi.as_view(), name="api-study-recompute"),
    path(STUDY + "spec/", spec_api.StudySpecApi.as_view(), name="api-study-spec"),
    path("api/v1/spec/validate/", spec_api.SpecValidateApi.as_view(), name="api-spec-validate"),
    path("api/v1/schema/study-spec.json", spec_api.SpecSchemaApi.as_view(), name="api-spec-schema"),
    re_path(r"^api/v1/.*$", ApiNotFound.as_view(), name="api-not-found"),
]
