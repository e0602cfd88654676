"""Reading and writing study specifications: YAML (the default) or JSON, one canonical layout.

`dump` writes keys in the order the sections give them and never sorts, so exporting the same
design twice gives the same bytes; `load` accepts either format and turns YAML's own dates into
ISO strings, so a date typed without quotes means what it looks like.
"""

import datetime as dt
import json

import yaml

FORMATS = ("yaml", "json")


class SpecSyntaxError(ValueError):
    """The file is not YAML or JSON; the message names the line and column."""


def load_text(text: str, *, name: str = "<spec>") -> object:
    """The data in `text` (YAML or JSON; JSON is YAML too, but its own parser gives better
    positions for a JSON file)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecSyntaxError(f"{name}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(error, "problem", None) or str(error)
        raise SpecSyntaxError(f"{where}: not valid YAML: {problem}") from None
    return _plain(data)


def _plain(value):
    """YAML's datetimes and dates as ISO strings; everything else as it is."""
    if isinstance(value, dict):
        return {str(k) if isinstance(k, int | float) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, value: str):
    # Long or multi-line texts as literal blocks, so a spec reads like the page it describes.
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_presenter)


def dump(data: dict, fmt: str = "yaml") -> str:
    """`data` as YAML or JSON text, keys in the given order, ending with a newline."""
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
