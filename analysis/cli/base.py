"""What every command-line tool shares, without Django.

Each tool (``indices_cli``, ``effects_cli``, ``power_cli``, ...) defines ``PROG``,
``add_arguments(parser)``, ``build_parser()`` and ``run(options, stdout=, stderr=)``; this module
gives them one ``main`` (exit status 0 ok, 2 bad input or bad usage), one error type whose
message is the single line shown, and one writer for records: JSON is a list of flat objects,
CSV one row per record; non-finite numbers become ``null`` (JSON) or an empty cell (CSV).
The thin Django commands are :class:`analysis.management.cli_command.CliCommand`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from common import csvsafe

EXIT_BAD_INPUT = 2  # as argparse's bad usage: every bad file, path or option exits 2 with one line

__all__ = ["EXIT_BAD_INPUT", "InputError", "clean", "csv_cell", "main", "records", "say", "to_csv", "to_json",
           "write_file", "write_records"]


class InputError(Exception):
    """Bad input; the message is the single line to show (naming file, line and column)."""


def say(stream: TextIO, line: str) -> None:
    """Write one message line."""
    stream.write(line if line.endswith("\n") else line + "\n")


def clean(value):
    """A cell as a JSON-ready Python value: numpy scalars unwrapped, NaN/inf/NA -> None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict]:
    """The frame's rows as flat dicts in ``fields`` order."""
    return [{column: clean(value) for column, value in zip(fields, row, strict=True)}
            for row in frame[list(fields)].itertuples(index=False, name=None)]


def to_json(frame: pd.DataFrame, fields: Sequence[str]) -> str:
    rows = records(frame, fields)
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(row, allow_nan=False) for row in rows) + "\n]\n"


def csv_cell(value) -> str:
    """A clean value as a CSV cell: None empty, booleans true/false, floats at full precision."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(frame: pd.DataFrame, fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)
    writer.writerow(fields)
    for row in records(frame, fields):
        writer.writerow([csv_cell(row[column]) for column in fields])
    return buffer.getvalue()


def write_file(path: str | Path, text: str, *, option: str) -> None:
    """Write `text` (UTF-8) to `path`, or an InputError naming the option and why it failed."""
    try:
        Path(path).write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        raise InputError(f"{option} {path}: cannot write the file ({error.strerror or error})") from None


def write_records(frame: pd.DataFrame, fields: Sequence[str], options: dict, *, prog: str,
                  stdout: TextIO, stderr: TextIO) -> None:
    """Write the records as ``options["format"]`` (json default) to ``options["output"]`` or stdout."""
    text = to_csv(frame, fields) if options.get("format", "json") == "csv" else to_json(frame, fields)
    if options.get("output"):
        write_file(options["output"], text, option="--output")
        say(stderr, f"{prog}: wrote {len(frame)} records to {options['output']}")
    else:
        stdout.write(text)


def main(prog: str, build_parser: Callable[[], argparse.ArgumentParser], run: Callable[..., object],
         argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Parse ``argv`` and call ``run``; returns the exit status (0 ok, 2 bad input or usage)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    try:
        options = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its usage message
        return int(exit_.code or 0)
    try:
        run(vars(options), stdout=stdout, stderr=stderr)
    except InputError as error:
        say(stderr, f"{prog}: {error}")
        return EXIT_BAD_INPUT
    return 0
