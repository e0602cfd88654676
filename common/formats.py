"""Every file format the API exports, declared once: its `?format=` name, media type, file
extension and label. A `FormatSet` (the formats one endpoint offers) yields the DRF renderer
classes that make each name a valid `format` and the OpenAPI description of the parameter and
of the answers. Adding a format: one `ExportFormat`, one entry in a set, and its writer in the
endpoint's stream function."""

from dataclasses import dataclass

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer, JSONRenderer


@dataclass(frozen=True)
class ExportFormat:
    name: str  # the value of ?format=
    media_type: str
    extension: str
    label: str

    @property
    def content_type(self) -> str:
        """The Content-Type header: text formats say their encoding (always UTF-8)."""
        return f"{self.media_type}; charset=utf-8" if self.media_type.startswith("text/") else self.media_type


CSV = ExportFormat("csv", "text/csv", "csv", "CSV")
PARQUET = ExportFormat("parquet", "application/vnd.apache.parquet", "parquet", "Parquet")
SAV = ExportFormat("sav", "application/x-spss-sav", "sav", "SPSS")
DTA = ExportFormat("dta", "application/x-stata-dta", "dta", "Stata")
JSON = ExportFormat("json", "application/json", "json", "JSON")


class ExportRenderer(BaseRenderer):
    """An export format. The export view streams its own response; the renderer only makes the
    format a valid value of DRF's `format` parameter, negotiated after authentication."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - never called with data
        raise exceptions.NotAcceptable("This format is only for exports.")


def renderer_class(export_format: ExportFormat, base: type[BaseRenderer] | None = None) -> type[BaseRenderer]:
    """The renderer class of `export_format`: `base` (default `ExportRenderer`; DRF's own
    JSONRenderer for JSON) with the format's name and media type."""
    if base is None and export_format == JSON:
        return JSONRenderer
    base = base or ExportRenderer
    name = base.__name__ if base is not ExportRenderer else f"{export_format.label}ExportRenderer"
    return type(name, (base,), {"format": export_format.name, "media_type": export_format.media_type,
                                "__module__": base.__module__, "__doc__": base.__doc__})


@dataclass(frozen=True)
class FormatSet:
    """The formats one endpoint offers, the first being the default."""

    formats: tuple[ExportFormat, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.formats)

    def get(self, name: str) -> ExportFormat:
        return next(f for f in self.formats if f.name == name)

    def renderer_classes(self, **bases: type[BaseRenderer]) -> list[type[BaseRenderer]]:
        """One renderer class per format, in order; `bases` gives a format its own renderer
        (one that writes a body) by name."""
        return [renderer_class(f, bases.get(f.name)) for f in self.formats]

    def parameter(self) -> OpenApiParameter:
        """The `format` query parameter of the schema."""
        labels = ", ".join(f"{f.name} ({f.label})" for f in self.formats)
        return OpenApiParameter("format", str, enum=list(self.names), description=f"File format: {labels}.")

    def responses(self, **types) -> dict:
        """The 200 answers of the schema, one per media type: a file, unless `types` gives an
        OpenAPI type by format name."""
        return {(200, f.media_type): OpenApiResponse(types.get(f.name, OpenApiTypes.BINARY)) for f in self.formats}


DATA_EXPORT = FormatSet((CSV, PARQUET, SAV, DTA))  # a study's answers
CODEBOOK = FormatSet((JSON, CSV))  # the codebook of an export
