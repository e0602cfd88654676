"""REST API of the study design and the collected data (DESIGN section 5).

Access: a token or a browser session authenticates a user; the user's role in the study decides:

| role    | study, items, waves, arms, indices, effects | participants, responses, export | design writes | external ids |
| ------- | ------------------------------------------- | ------------------------------- | ------------- | ------------ |
| viewer  | read                                        | -                               | -             | -            |
| analyst | read                                        | read                            | -             | -            |
| owner   | read                                        | read                            | write         | on request   |

Authentication is checked before anything else, the format too (see `DeferredNegotiation`), so
every /api/v1/ path answers 401 to an anonymous client; a study the user is no member of is 404.
"""

from django import forms
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, pagination, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from common import group_keys
from surveys import serializers
from surveys.models import Arm, Exclusion, Item, Membership, Participant, Response, Study, Wave

ALL_ROLES = (Membership.Role.OWNER, Membership.Role.ANALYST, Membership.Role.VIEWER)
DATA_ROLES = (Membership.Role.OWNER, Membership.Role.ANALYST)  # participant-level data
DESIGN_ROLES = (Membership.Role.OWNER,)  # changes to a study's design
EXTERNAL_ID_ROLES = (Membership.Role.OWNER,)

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


# --- Plumbing shared by every API view ------------------------------------------------------------


class DeferredNegotiation(DefaultContentNegotiation):
    """DRF negotiates the format before it authenticates, so `?format=xyz` would answer an
    anonymous client 404. This remembers the failure and `ApiMixin.initial` raises it (as 400 for
    an unknown format) after authentication and permissions."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            request.negotiation_error = exceptions.ValidationError({"format": [
                f"Unknown format {request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)!r}; this endpoint "
                f"offers: {', '.join(sorted({r.format for r in renderers if r.format != 'api'}))}."]})
        except exceptions.NotAcceptable as exc:
            request.negotiation_error = exc
        return renderers[0], renderers[0].media_type


class ApiMixin:
    """Defaults of every /api/v1/ view: authentication first, then the format, and errors always
    as JSON (an export renderer never renders an error body)."""

    permission_classes = [IsAuthenticated]
    content_negotiation_class = DeferredNegotiation

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        error = getattr(request, "negotiation_error", None)
        if error is not None:
            raise error

    def options(self, request, *args, **kwargs):
        # The metadata of an export endpoint is JSON too, never a file.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().options(request, *args, **kwargs)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        renderer = getattr(self.request, "accepted_renderer", None)
        if getattr(renderer, "format", None) not in ("json", "api"):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return response


def parse_bool(request, name: str) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in TRUE_VALUES:
        return True
    if raw in FALSE_VALUES:
        return False
    raise exceptions.ValidationError({name: [f"Give true or false, not {raw!r}."]})


def member_role(user, study: Study) -> str | None:
    if user.is_superuser:
        return Membership.Role.OWNER
    return Membership.objects.filter(study=study, user=user).values_list("role", flat=True).first()


def get_member_study(request, slug: str, roles: tuple[str, ...] = ALL_ROLES) -> Study:
    """The study if the user is a member (404 otherwise, never a hint that it exists); 403 when
    the member's role is not among `roles`."""
    study = Study.objects.for_user(request.user).filter(slug=slug).first()
    if study is None:
        raise exceptions.NotFound("No study with this slug among your studies.")
    role = member_role(request.user, study)
    if role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise exceptions.PermissionDenied(f"Your role in this study ({role}) does not allow this; it needs: {allowed}.")
    request.study_role = role
    return study


class StudyScopedMixin(ApiMixin):
    """Views under /api/v1/studies/<slug>/: the role needed depends on the method."""

    read_roles: tuple[str, ...] = ALL_ROLES
    write_roles: tuple[str, ...] = DESIGN_ROLES

    @property
    def study(self) -> Study:
        if not hasattr(self, "_study"):
            roles = self.read_roles if self.request.method in SAFE_METHODS else self.write_roles
            self._study = get_member_study(self.request, self.kwargs["slug"], roles)
        return self._study

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["study"] = self.study
        return context


class StrictPageSize:
    """`page_size` must be a whole number from 1 to max_page_size (DRF would silently ignore it)."""

    page_size_query_param = "page_size"
    max_page_size = 10_000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]})
        return size


class LargePagePagination(StrictPageSize, pagination.PageNumberPagination):
    page_size = 1000

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "page_size":
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
            if parameter["name"] == "page":
                parameter["schema"].update({"minimum": 1})
        return parameters


class ResponseCursorPagination(StrictPageSize, pagination.CursorPagination):
    page_size = 1000
    ordering = ("id",)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "page_size":
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters


class IntegerFilter(filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField


# --- Studies, items, waves, arms --------------------------------------------------------------------

SLUG_PARAMETER = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The study's slug.")


@extend_schema_view(
    list=extend_schema(summary="Your studies"),
    create=extend_schema(summary="Create a study (you become its owner)"),
    retrieve=extend_schema(summary="One study"),
    update=extend_schema(summary="Edit a study (owners)"),
    partial_update=extend_schema(summary="Edit a study (owners)"),
)
class StudyViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = serializers.StudySerializer
    lookup_field = "slug"
    queryset = Study.objects.none()

    def get_queryset(self):
        return Study.objects.for_user(self.request.user).order_by("slug")

    def get_object(self):
        roles = ALL_ROLES if self.request.method in SAFE_METHODS else DESIGN_ROLES
        return get_member_study(self.request, self.kwargs["slug"], roles)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        if user.is_authenticated and self.action == "list":
            context["roles"] = dict(Membership.objects.filter(user=user).values_list("study_id", "role"))
        return context


class StudyChildViewSet(StudyScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(study=self.study)

    def get_object(self):
        obj = self.get_queryset().filter(**{self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}).first()
        if obj is None:
            raise exceptions.NotFound(f"No {self.model._meta.verbose_name} {self.kwargs[self.lookup_field]!r} in this study.")
        return obj


@extend_schema_view(
    list=extend_schema(summary="Items of a study", parameters=[SLUG_PARAMETER]),
    create=extend_schema(summary="Add an item (owners)", parameters=[SLUG_PARAMETER]),
    retrieve=extend_schema(summary="One item", parameters=[SLUG_PARAMETER]),
    update=extend_schema(summary="Edit an item (owners; the scale is frozen once answered)", parameters=[SLUG_PARAMETER]),
    partial_update=extend_schema(summary="Edit an item (owners; the scale is frozen once answered)", parameters=[SLUG_PARAMETER]),
)
class ItemViewSet(StudyChildViewSet):
    model = Item
    serializer_class = serializers.ItemSerializer
    lookup_field = "code"

    def get_queryset(self):
        return super().get_queryset().order_by("order", "id")


@extend_schema_view(
    list=extend_schema(summary="Waves of a study", parameters=[SLUG_PARAMETER]),
    create=extend_schema(summary="Add a wave (owners)", parameters=[SLUG_PARAMETER]),
    retrieve=extend_schema(summary="One wave", parameters=[SLUG_PARAMETER]),
    update=extend_schema(summary="Edit a wave (owners)", parameters=[SLUG_PARAMETER]),
    partial_update=extend_schema(summary="Edit a wave (owners)", parameters=[SLUG_PARAMETER]),
)
class WaveViewSet(StudyChildViewSet):
    model = Wave
    serializer_class = serializers.WaveSerializer
    lookup_field = "number"

    def get_queryset(self):
        return super().get_queryset().order_by("number").prefetch_related("items")


@extend_schema_view(
    list=extend_schema(summary="Arms of a study", parameters=[SLUG_PARAMETER]),
    create=extend_schema(summary="Add an arm (owners)", parameters=[SLUG_PARAMETER]),
    retrieve=extend_schema(summary="One arm", parameters=[SLUG_PARAMETER]),
    update=extend_schema(summary="Edit an arm (owners)", parameters=[SLUG_PARAMETER]),
    partial_update=extend_schema(summary="Edit an arm (owners)", parameters=[SLUG_PARAMETER]),
)
class ArmViewSet(StudyChildViewSet):
    model = Arm
    serializer_class = serializers.ArmSerializer
    lookup_field = "name"


# --- Participants and responses ------------------------------------------------------------------


def group_q(key: str, study: Study, prefix: str = "") -> Q:
    """The filter for a group key: `all`, `arm:<name>` or `<grouping code>:<value>`."""
    key = (key or "").strip()
    if not key:
        return Q()
    try:
        group = group_keys.parse(key, pairs=False)
    except ValueError as error:
        raise exceptions.ValidationError({"group": [str(error)]}) from None
    if group.is_all:
        return Q()
    code, value = group.column, group.value
    if code == group_keys.ARM:
        return Q(**{f"{prefix}arm__name": value})
    if not Item.objects.filter(study=study, role=Item.Role.GROUPING, code=code).exists():
        raise exceptions.ValidationError({"group": [f"{code!r} is not a grouping item."]})
    lookup = f"{prefix}groups__{code}"
    options = Q()
    for stored in group_keys.stored_values(value):
        options |= Q(**{lookup: stored})
    return options


class ParticipantFilter(filters.FilterSet):
    arm = filters.CharFilter(field_name="arm__name", help_text="Arm name.")
    status = filters.ChoiceFilter(choices=[("active", "active"), ("withdrawn", "withdrawn"), ("excluded", "excluded")])
    group = filters.CharFilter(method="filter_group", help_text="all, arm:<name> or <grouping code>:<value>.")

    class Meta:
        model = Participant
        fields = ["arm", "status", "group"]

    def filter_group(self, queryset, name, value):
        return queryset.filter(group_q(value, self.request.parser_context["view"].study))


def participants_with_status(study: Study):
    excluded = Exclusion.objects.filter(participant=OuterRef("pk"), lifted_at__isnull=True)

    return (Participant.objects.filter(study=study, is_preview=False)
            .annotate(is_excluded=Exists(excluded), arm_name=F("arm__name"))
            .annotate(status=Case(When(withdrawn_at__isnull=False, then=Value("withdrawn")),
                                  When(is_excluded=True, then=Value("excluded")),
                                  default=Value("active"), output_field=CharField())))


@extend_schema_view(list=extend_schema(
    summary="Participants (owners and analysts); previews never appear",
    parameters=[SLUG_PARAMETER, OpenApiParameter("include_external_id", bool, description="Owners only: add external_id.")],
))
class ParticipantListApi(StudyScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    read_roles = DATA_ROLES
    serializer_class = serializers.ParticipantSerializer
    pagination_class = LargePagePagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ParticipantFilter
    queryset = Participant.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Participant.objects.none()
        return participants_with_status(self.study).order_by("joined_at", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            wanted = parse_bool(self.request, "include_external_id")
            if wanted and self.request.study_role not in EXTERNAL_ID_ROLES:
                raise exceptions.PermissionDenied("Only a study's owners may see external ids.")
            context["include_external_id"] = wanted
        return context


class ResponseFilter(filters.FilterSet):
    wave = IntegerFilter(field_name="submission__wave__number", help_text="Wave number.")
    item = filters.CharFilter(field_name="item__code", help_text="Item code.")
    arm = filters.CharFilter(field_name="submission__participant__arm__name", help_text="Arm name.")
    group = filters.CharFilter(method="filter_group", help_text="all, arm:<name> or <grouping code>:<value>.")

    class Meta:
        model = Response
        fields = ["wave", "item", "arm", "group"]

    def filter_group(self, queryset, name, value):
        return queryset.filter(group_q(value, self.request.parser_context["view"].study,
                                       prefix="submission__participant__"))


def response_rows(study: Study, *, include_excluded: bool):
    """Answers of a study in long format (dicts); previews never, excluded and withdrawn
    participants only when asked for."""
    participants = Participant.objects.filter(study=study, is_preview=False)
    if not include_excluded:
        participants = participants.analysable()
    return (Response.objects.filter(submission__participant__in=participants, submission__wave__study=study)
            .values("id", "value", "text", "missing", "answered_at", "response_time_ms",
                    participant=F("submission__participant__public_id"), wave=F("submission__wave__number"),
                    arm=F("submission__participant__arm__name"), groups=F("submission__participant__groups"),
                    item_code=F("item__code")))


@extend_schema_view(list=extend_schema(
    summary="Answers in long format (owners and analysts), cursor paginated",
    parameters=[SLUG_PARAMETER, OpenApiParameter("include_excluded", bool,
                                                 description="Add excluded and withdrawn participants.")],
))
class ResponseListApi(StudyScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    read_roles = DATA_ROLES
    serializer_class = serializers.ResponseRowSerializer
    pagination_class = ResponseCursorPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ResponseFilter
    queryset = Response.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Response.objects.none()
        return response_rows(self.study, include_excluded=parse_bool(self.request, "include_excluded"))


class ApiNotFound(ApiMixin, APIView):
    """Unknown /api/v1/ paths: authentication first (401 for anonymous), then 404 as JSON."""

    renderer_classes = [JSONRenderer]
    schema = None

    def get(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such API endpoint; see /api/docs/.")

    post = put = patch = delete = get


class ExportRenderer(BaseRenderer):
    """An export format. The export view streams its own response; the renderer only makes the
    format a valid value of DRF's `format` parameter, negotiated after authentication."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - never called with data
        raise exceptions.NotAcceptable("This format is only for exports.")


def error_responses_hook(result, generator, request, public):
    """drf-spectacular postprocessing: document the error answers every operation can give."""
    error = {"type": "object", "properties": {"detail": {"type": "string"}},
             "additionalProperties": True, "description": "DRF's error shape: detail, or a list of messages per field."}
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = error
    reference = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = ["400", "401", "403", "404", "405", "406"] if path.startswith("/api/v1/") else ["400"]
            for code in codes:
                responses.setdefault(code, {"description": "Error", **reference})
    return result
