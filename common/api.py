"""Plumbing shared by every /api/v1/ view: authentication before content negotiation, errors
always as JSON, strict query parameters, pagination, the study-scoped base views and schema
helpers. Who may do what is decided in `common.access`; the formats of exports in
`common.formats`.

Authentication is checked before anything else, the format too (see `DeferredNegotiation`), so
every /api/v1/ path answers 401 to an anonymous client; a study the user is no member of is 404
(on every path and format), a member whose role is not enough gets 403.
"""

from django import forms
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, mixins, pagination, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from common import access

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}

SLUG_PARAMETER = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The study's slug.")


# --- Every view ------------------------------------------------------------------------------------


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
    """A true/false query parameter (absent: false); anything else is a 400 naming it."""
    raw = request.query_params.get(name, "").strip().lower()
    if raw in TRUE_VALUES:
        return True
    if raw in FALSE_VALUES:
        return False
    raise exceptions.ValidationError({name: [f"Give true or false, not {raw!r}."]})


class IntegerFilter(filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField


class ApiNotFound(ApiMixin, APIView):
    """Unknown /api/v1/ paths: authentication first (401 for anonymous), then 404 as JSON."""

    renderer_classes = [JSONRenderer]
    schema = None

    def get(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such API endpoint; see /api/docs/.")

    post = put = patch = delete = get


# --- Pagination -------------------------------------------------------------------------------------


class StrictPageSize:
    """`page_size` must be a whole number from 1 to max_page_size (DRF would silently ignore it)."""

    page_size = 1000
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

    def get_schema_operation_parameters(self, view):
        bounds = {"page_size": {"minimum": 1, "maximum": self.max_page_size}, "page": {"minimum": 1}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class LargePagePagination(StrictPageSize, pagination.PageNumberPagination):
    """Numbered pages of up to 10,000 rows (1,000 by default)."""


class IdCursorPagination(StrictPageSize, pagination.CursorPagination):
    """A cursor over rows in id order: stable while rows are added, fast at any depth."""

    ordering = ("id",)


# --- Views of one study --------------------------------------------------------------------------------


class StudyScopedSchema(AutoSchema):
    """Every operation under /api/v1/studies/<slug>/ documents the slug."""

    def get_override_parameters(self):
        return [SLUG_PARAMETER, *super().get_override_parameters()]


class StudyScopedMixin(ApiMixin):
    """Views under /api/v1/studies/<slug>/: the role needed depends on the method."""

    # The docstring above is also the API docs' text for every subclass without its own. The
    # study comes from the URL through `access.get_member_study`: reading needs `read_roles`,
    # anything else `write_roles` (capabilities of `common.access`, or roles).

    read_roles: access.Roles = access.may_see_study
    write_roles: access.Roles = access.may_edit_design
    schema = StudyScopedSchema()

    @property
    def study(self):
        if not hasattr(self, "_study"):
            roles = self.read_roles if self.request.method in SAFE_METHODS else self.write_roles
            self._study = access.get_member_study(self.request.user, self.kwargs["slug"], roles=roles)
        return self._study

    def option(self, name: str, *, needs: access.Capability | None = None) -> bool:
        """A true/false query parameter; asking for it (true) needs `needs` in this study (403)."""
        wanted = parse_bool(self.request, name)
        if wanted and needs is not None:
            needs.require(self.request.user, self.study)
        return wanted

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["study"] = self.study
        return context


class StudyListApi(StudyScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    # GET: a study's rows, paginated and filtered by `filterset_class`. A subclass sets
    # `queryset = Model.objects.none()` (for the schema) and writes `rows(study)`. (No docstring:
    # the API docs would show it.)

    pagination_class = LargePagePagination
    filter_backends = [filters.DjangoFilterBackend]

    def rows(self, study):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.rows(self.study)


# --- Schema ------------------------------------------------------------------------------------------


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
