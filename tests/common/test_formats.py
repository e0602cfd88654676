"""The export-format registry: each format declared once yields its renderer and its schema."""

from drf_spectacular.types import OpenApiTypes
from rest_framework.renderers import JSONRenderer

from common import formats


def test_the_data_export_renderers_carry_the_registry_names_and_media_types():
    renderers = formats.DATA_EXPORT.renderer_classes()
    assert [(r.format, r.media_type) for r in renderers] == [
        ("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet"),
        ("sav", "application/x-spss-sav"), ("dta", "application/x-stata-dta")]
    assert all(issubclass(r, formats.ExportRenderer) and r.charset is None for r in renderers)


def test_a_format_can_have_its_own_renderer_and_json_is_drfs():
    class Table(JSONRenderer):
        charset = "utf-8"

    json, csv = formats.CODEBOOK.renderer_classes(csv=Table)
    assert json is JSONRenderer
    assert issubclass(csv, Table) and (csv.format, csv.media_type, csv.charset) == ("csv", "text/csv", "utf-8")


def test_the_schema_enumerates_the_formats_and_their_answers():
    parameter = formats.DATA_EXPORT.parameter()
    assert (parameter.name, parameter.enum) == ("format", ["csv", "parquet", "sav", "dta"])
    assert "sav (SPSS)" in parameter.description
    responses = formats.CODEBOOK.responses(json=OpenApiTypes.OBJECT)
    assert {key: value.response for key, value in responses.items()} == {
        (200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.BINARY}


def test_text_formats_say_their_encoding():
    assert formats.CSV.content_type == "text/csv; charset=utf-8"
    assert formats.PARQUET.content_type == "application/vnd.apache.parquet"
    assert formats.DATA_EXPORT.get("dta").extension == "dta"
