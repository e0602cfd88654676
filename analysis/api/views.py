"""Results and export endpoints of the REST API: indices, effects, export, codebook, recompute.
Who may do what is decided in `common.access`; the shared plumbing is in `common.api` and the
export formats in `common.formats`."""

from django.http import StreamingHttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from analysis.api import exports
from analysis.api.serializers import (
    EffectEstimateSerializer,
    IndexResultSerializer,
    RecomputeSerializer,
)
from analysis.models import AnalysisRun, EffectEstimate, IndexResult
from analysis.pipeline.enqueue import recompute_study
from common import access, formats, group_keys
from common.api import IntegerFilter, StudyListApi, StudyScopedMixin, parse_bool
from surveys.models import ApiToken, ExportAudit, Item

# --- Indices and effects -------------------------------------------------------------------------


class PooledOrNumberFilter(filters.CharFilter):
    """A wave number, or `pooled` for rows without a wave."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if value == "pooled":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        try:
            number = int(value)
        except ValueError:
            raise exceptions.ValidationError({"wave": [f"Give a wave number or 'pooled', not {value!r}."]}) from None
        return qs.filter(**{f"{self.field_name}__number": number})


class ItemOrPooledFilter(filters.CharFilter):
    """An item code, or `pooled` for rows pooled over items."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if value == "pooled":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        return qs.filter(**{f"{self.field_name}__code": value})


class IndexFilter(filters.FilterSet):
    wave = IntegerFilter(field_name="wave__number", help_text="Wave number.")
    item = ItemOrPooledFilter(field_name="item", help_text="Item code, or 'pooled'.")
    group = filters.CharFilter(field_name="group", help_text="Group key, e.g. all, side:1, arm:control, side:1|side:2.")
    index = filters.CharFilter(field_name="index", help_text="Index name (docs/indices.md), e.g. mad_pairwise.")

    class Meta:
        model = IndexResult
        fields = ["wave", "item", "group", "index"]


class EffectFilter(filters.FilterSet):
    arm = filters.CharFilter(field_name="arm__name")
    outcome = filters.CharFilter(field_name="outcome")
    item = ItemOrPooledFilter(field_name="item", help_text="Item code, or 'pooled'.")
    wave = PooledOrNumberFilter(field_name="wave", help_text="Wave number, or 'pooled'.")
    method = filters.CharFilter(field_name="method")
    sample = filters.CharFilter(field_name="sample")
    group = filters.CharFilter(field_name="group")

    class Meta:
        model = EffectEstimate
        fields = ["arm", "outcome", "item", "wave", "method", "sample", "group"]


@extend_schema_view(list=extend_schema(summary="Stored disagreement indices with bootstrap intervals"))
class IndexListApi(StudyListApi):
    serializer_class = IndexResultSerializer
    filterset_class = IndexFilter
    queryset = IndexResult.objects.none()

    def rows(self, study):
        return (IndexResult.objects.filter(study=study).select_related("wave", "item")
                .order_by("wave__number", "item__order", "item_id", "group", "index", "id"))


@extend_schema_view(list=extend_schema(summary="Stored intervention effects"))
class EffectListApi(StudyListApi):
    serializer_class = EffectEstimateSerializer
    filterset_class = EffectFilter
    queryset = EffectEstimate.objects.none()

    def rows(self, study):
        return (EffectEstimate.objects.filter(study=study).select_related("arm", "item", "wave")
                .order_by("outcome", "arm__name", "item_id", "wave__number", "method", "group", "sample", "id"))


# --- Export and codebook ---------------------------------------------------------------------------


class CodebookCSVRenderer(JSONRenderer):
    """The codebook as CSV (`exports.codebook_csv`); format and media type from `formats.CSV`."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return exports.codebook_csv(data).encode()


def _list_param(request, name: str, cast=str) -> list | None:
    raw = request.query_params.getlist(name)
    values = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    if not values:
        return None
    try:
        return [cast(v) for v in values]
    except ValueError:
        raise exceptions.ValidationError({name: [f"{', '.join(values)!r}: give {cast.__name__} values."]}) from None


def export_spec(request, study) -> exports.ExportSpec:
    """Validate the export parameters (400 with a message naming the parameter)."""
    params = request.query_params
    shape = params.get("shape", "long")
    if shape not in exports.SHAPES:
        raise exceptions.ValidationError({"shape": [f"{shape!r} is not a shape: use long or wide."]})
    waves = _list_param(request, "wave", int)
    if waves and not all(1 <= w < 2**31 for w in waves):
        raise exceptions.ValidationError({"wave": ["Wave numbers are whole numbers from 1."]})
    arms = _list_param(request, "arm")
    items = _list_param(request, "item")
    group = None
    key = params.get("group", "").strip()
    try:
        parsed = group_keys.parse(key, pairs=False) if key else group_keys.GroupKey()
    except ValueError as error:
        raise exceptions.ValidationError({"group": [str(error)]}) from None
    if not parsed.is_all:
        code, value = parsed.column, parsed.value
        if code != group_keys.ARM and not Item.objects.filter(study=study, role=Item.Role.GROUPING, code=code).exists():
            raise exceptions.ValidationError({"group": [f"{code!r} is not a grouping item of this study."]})
        group = (code, value)
    language = params.get("language", "")
    if language and language not in study.languages:
        raise exceptions.ValidationError({"language": [f"{language!r} is not a language of this study "
                                                       f"({', '.join(study.languages)})."]})
    unknown_items = set(items or []) - set(Item.objects.filter(study=study).values_list("code", flat=True))
    if unknown_items:
        raise exceptions.ValidationError({"item": [f"No item {', '.join(sorted(unknown_items))} in this study."]})
    include_external_id = parse_bool(request, "include_external_id")
    if include_external_id:
        access.may_see_external_ids.require(request.user, study)
    return exports.ExportSpec(study=study, shape=shape, waves=waves, arms=arms, items=items, group=group,
                              include_excluded=parse_bool(request, "include_excluded"),
                              include_external_id=include_external_id, language=language)


def record_export(request, spec: exports.ExportSpec, *, what: str, file_format: str) -> ExportAudit:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return ExportAudit.objects.create(
        study=spec.study, user=request.user, username=request.user.get_username(), token=token, what=what,
        format=file_format, shape=spec.shape, parameters=spec.parameters(),
        excluded_included=spec.include_excluded, external_ids_included=spec.include_external_id,
    )


EXPORT_PARAMETERS = [  # of the export and its codebook; each adds its `format`
    OpenApiParameter("shape", str, enum=list(exports.SHAPES), description="long: one row per answer; wide: one row "
                     "per participant with <item>_w<wave> columns."),
    OpenApiParameter("wave", str, description="Wave numbers, comma-separated."),
    OpenApiParameter("arm", str, description="Arm names, comma-separated."),
    OpenApiParameter("item", str, description="Item codes, comma-separated."),
    OpenApiParameter("group", str, description="all, arm:<name> or <grouping code>:<value>."),
    OpenApiParameter("include_excluded", bool, description="Add excluded and withdrawn participants (with status)."),
    OpenApiParameter("include_external_id", bool, description="Owners only: add external ids."),
    OpenApiParameter("language", str, description="Language of labels (default: the study's first)."),
]


class StudyExportApi(StudyScopedMixin, GenericAPIView):
    """GET: the study's answers as a streamed file (owners and analysts); every export is audited."""

    read_roles = access.may_read_participant_data
    renderer_classes = formats.DATA_EXPORT.renderer_classes()

    @extend_schema(summary="Export the answers (CSV, Parquet, SPSS, Stata)",
                   parameters=[formats.DATA_EXPORT.parameter(), *EXPORT_PARAMETERS],
                   responses=formats.DATA_EXPORT.responses())
    def get(self, request, slug: str):
        study = self.study
        spec = export_spec(request, study)
        file_format = request.accepted_renderer.format
        try:
            stream = exports.export_stream(spec, file_format=file_format, user=request.user)
        except exports.ExportError as exc:
            raise exceptions.ValidationError({"format": [str(exc)]}) from None
        record_export(request, spec, what="data", file_format=file_format)
        response = StreamingHttpResponse(stream, content_type=formats.DATA_EXPORT.get(file_format).content_type)
        response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(spec, file_format)}"'
        response["Cache-Control"] = "no-store"
        return response


class StudyCodebookApi(StudyScopedMixin, GenericAPIView):
    """GET: the codebook of an export with the same parameters (JSON or CSV), with provenance."""

    read_roles = access.may_read_participant_data
    renderer_classes = formats.CODEBOOK.renderer_classes(csv=CodebookCSVRenderer)

    @extend_schema(summary="Codebook of an export: variables, labels, value labels, provenance",
                   parameters=[formats.CODEBOOK.parameter(), *EXPORT_PARAMETERS],
                   responses=formats.CODEBOOK.responses(json=OpenApiTypes.OBJECT, csv=OpenApiTypes.STR))
    def get(self, request, slug: str):
        spec = export_spec(request, self.study)
        file_format = request.accepted_renderer.format
        codebook = exports.build_codebook(spec, user=request.user, file_format=file_format)
        record_export(request, spec, what="codebook", file_format=file_format)
        response = Response(codebook)
        if file_format == "csv":
            response["Content-Disposition"] = f'attachment; filename="{spec.study.slug}_{spec.shape}_codebook.csv"'
        return response


# --- Recompute ------------------------------------------------------------------------------------------


class StudyRecomputeApi(StudyScopedMixin, GenericAPIView):
    """POST: queue a recompute of every wave with answers (owners and analysts); 202 with the run ids."""

    serializer_class = RecomputeSerializer
    write_roles = access.may_recompute

    @extend_schema(summary="Recompute the study's indices", request=None, responses={202: RecomputeSerializer})
    def post(self, request, slug: str):
        study = self.study
        run_ids = [run.pk for run in recompute_study(study_id=study.pk)]
        runs = AnalysisRun.objects.filter(pk__in=run_ids).select_related("wave").order_by("wave__number")
        body = {
            "study": study.slug,
            "run_ids": run_ids,
            "runs": [{"id": run.pk, "kind": run.kind, "wave": run.wave.number if run.wave_id else None,
                      "status": run.status} for run in runs],
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
