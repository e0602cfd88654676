"""The study specification over the REST API: read and replace a study's design as one document,
validate a document without writing, and the JSON Schema of the format. The same validation and
refusals as `manage.py study import` (surveys/spec/service.py); owners write, any member reads.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ApiMixin, StudyScopedMixin, parse_bool
from surveys.models import DesignChange
from surveys.spec import io
from surveys.spec.schema import build_schema
from surveys.spec.service import SpecError, apply_spec, export_spec
from surveys.spec.validate import validate_spec


class YAMLRenderer(BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return io.dump(data, "yaml").encode("utf-8")


class YAMLParser(BaseParser):
    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            text = stream.read().decode("utf-8")
            return io.load_text(text, name="body")
        except (UnicodeDecodeError, io.SpecSyntaxError) as error:
            raise exceptions.ParseError(str(error)) from None


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"


def problems_response(error_or_problems, *, title: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    problems = [str(p) for p in getattr(error_or_problems, "problems", error_or_problems)]
    return Response({"detail": title, "problems": problems}, status=code)


SPEC_BODY = {"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR}


class StudySpecApi(StudyScopedMixin, APIView):
    """A study's whole design as one specification (docs/building-a-study.md)."""

    renderer_classes = [JSONRenderer, YAMLRenderer]
    parser_classes = [JSONParser, YAMLParser, TextYAMLParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "PUT":  # the answer to a write (changes or problems) is always JSON
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        elif request.query_params.get("format", "json") not in ("json", "yaml"):
            raise exceptions.ValidationError({"format": ["Give json or yaml."]})

    @extend_schema(summary="The study's specification (any member; ?format=yaml|json)",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug: str):
        return Response(export_spec(self.study))

    @extend_schema(summary="Replace the study's design by a specification (owners)", request=SPEC_BODY,
                   parameters=[OpenApiParameter("dry_run", bool, description="report the changes, write nothing")],
                   responses={200: OpenApiTypes.OBJECT})
    def put(self, request, slug: str):
        study = self.study  # owners only (write_roles), 404 for a non-member
        dry_run = parse_bool(request, "dry_run")
        data = request.data
        if isinstance(data, dict) and isinstance(data.get("study"), dict) and data["study"].get("slug") not in (None, slug):
            return problems_response([f'study.slug: "{data["study"]["slug"]}" is not this study ("{slug}"); '
                                      "create a copy with POST /api/v1/studies/ or the builder"],
                                     title="The specification is not valid")
        try:
            result = apply_spec(data=data, user=request.user, slug=study.slug, dry_run=dry_run,
                                source=DesignChange.Source.API)
        except SpecError as error:
            return problems_response(error, title=error.title)
        return Response({"slug": result.study.slug, "dry_run": dry_run,
                         "changes": [{"path": c.path, "before": c.before, "after": c.after} for c in result.changes]})


class SpecValidateApi(ApiMixin, APIView):
    """Validate a specification; nothing is written."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, YAMLParser, TextYAMLParser]

    @extend_schema(summary="Validate a study specification (no writes)", request=SPEC_BODY,
                   responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        problems = validate_spec(request.data)
        if problems:
            return problems_response(problems, title="The specification is not valid")
        return Response({"detail": "valid", "problems": []})


class SpecSchemaApi(ApiMixin, APIView):
    """The JSON Schema of the study specification."""

    renderer_classes = [JSONRenderer]

    @extend_schema(summary="JSON Schema of the study specification", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(build_schema())
