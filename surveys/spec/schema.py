"""The JSON Schema of a study specification, assembled from the registry of sections.

Served at ``/api/v1/schema/study-spec.json`` and written to ``docs/study-spec.schema.json``
(``manage.py study schema``); a test keeps the file in ``docs/`` equal to this.
"""

from surveys.spec.sections import SECTIONS

SPEC_VERSION = 1
SCHEMA_ID = "/api/v1/schema/study-spec.json"


def build_schema() -> dict:
    """The whole schema (JSON Schema 2020-12): `spec_version` and one property per section."""
    properties = {"spec_version": {"const": SPEC_VERSION, "description": "The version of this format."}}
    for section in SECTIONS:
        properties[section.key] = {**section.schema, "title": section.title}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "disagreement study specification",
        "description": "Everything a study's design is, as one YAML or JSON file (members are not part of it). "
                       "See docs/building-a-study.md.",
        "type": "object",
        "properties": properties,
        "required": ["spec_version", *[s.key for s in SECTIONS if s.required]],
        "additionalProperties": False,
    }
