"""Validating a study specification: the JSON Schema (checked by `jsonschema`), then the rules
the schema cannot say (references between sections, the rules of each item kind), every problem
with its path in the file: ``waves[2].items[0]: unknown item code "q9"``."""

from jsonschema import Draft202012Validator

from surveys.spec.schema import build_schema
from surveys.spec.sections import SECTIONS, Problem, Problems

_VALIDATOR: Draft202012Validator | None = None


def _validator() -> Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = Draft202012Validator(build_schema())
    return _VALIDATOR


def format_path(parts) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(error) -> str:
    """jsonschema's message, said the way a researcher reads it."""
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f'missing required field "{missing}"'
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(error.schema.get("properties", {}))
        return f'unknown field{"s" if len(extra) > 1 else ""} {", ".join(map(repr, extra))}; known: {known}'
    if kind == "enum":
        return f"{error.instance!r} is not one of: {', '.join(map(str, value))}"
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"must be {'an' if wanted[0] in 'aeiou' else 'a'} {wanted}, not {type(error.instance).__name__}"
    if kind == "pattern":
        return f"{error.instance!r} does not have the expected form ({value})"
    if kind == "const":
        return f"must be {value!r}"
    return error.message


def validate_spec(data) -> list[Problem]:
    """Every problem of `data` (a parsed spec), in the order of the file; [] when it is valid."""
    problems = Problems()
    if not isinstance(data, dict):
        problems.add("", "a study specification is a mapping with the keys spec_version, study, items, waves, ...")
        return problems
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        if error.validator == "propertyNames":
            continue  # the key's own error follows with its path
        problems.add(format_path(path), _message(error))
    for section in SECTIONS:
        try:
            section.check(data, problems)
        except (TypeError, ValueError, KeyError, AttributeError):
            # A shape the schema already reported; the section's own rules cannot read it.
            if not problems:
                raise
    return problems
