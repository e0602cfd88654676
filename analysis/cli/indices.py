"""The ``indices`` command without Django: a CSV of answers in, index records out.

``manage.py indices`` (analysis/management/commands/indices.py) is a thin wrapper around
:func:`add_arguments` and :func:`run`; :func:`main` runs the same without Django. No database
is involved. Data go to stdout (or ``--output``), messages to stderr; bad input raises
:class:`InputError` whose message is one line naming file, line and column, e.g.
``answers.csv:17: column 'value': 9 is outside the scale 1..7 of item 'q1'``.

Input: columns ``participant, wave, item, value`` plus the grouping columns named by ``--by``,
one row per answer. Exports of survey tools are read as they come: a UTF-8 byte order mark,
UTF-16, ``;`` or tab separators, blank lines, whitespace around cells and headers, and empty
cells or ``NA``/``N/A``/``NaN``/``null``/``.``/``#N/A`` as missing answers (excluded and counted).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from analysis.cli import base as cli
from analysis.cli import weights as weights_cli
from analysis.cli.base import EXIT_BAD_INPUT, InputError
from analysis.stats.tables import (
    COLUMNS,
    REQUIRED_COLUMNS,
    AnswersError,
    IndexTable,
    Scale,
)
from analysis.stats.units import POOLED_UNIT

PROG = "indices"
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "#n/a", "-"})

__all__ = ["EXIT_BAD_INPUT", "InputError", "add_arguments", "main", "read_answers", "records", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by :func:`main` and the Django command)."""
    parser.add_argument("file", metavar="FILE.csv",
                        help="answers: columns participant, wave, item, value and the --by columns")
    parser.add_argument("--by", metavar="COL", nargs="+", action="extend", default=[],
                        help="grouping column(s); groups '<col>:<value>' and their pairs")
    parser.add_argument("--scale-min", type=float, metavar="A",
                        help="lowest scale point of every item (with --scale-max; fixes k even if a "
                             "category is empty). Without both, each item's scale is inferred from its answers")
    parser.add_argument("--scale-max", type=float, metavar="B", help="highest scale point of every item")
    parser.add_argument("--scale-step", type=float, metavar="H", default=1.0,
                        help="distance between scale points (default 1; sliders: their step)")
    parser.add_argument("--bootstrap", type=int, metavar="N", default=1000,
                        help="bootstrap resamples for the intervals (default 1000; 0 = no intervals)")
    parser.add_argument("--seed", type=int, metavar="S", default=0, help="random seed (default 0)")
    parser.add_argument("--level", type=float, metavar="L", default=0.95,
                        help="confidence level of the percentile intervals (default 0.95)")
    parser.add_argument("--reverse", metavar="ITEM", nargs="+", action="extend", default=[],
                        help="reverse-coded items (flipped in pooled rows and constraint)")
    parser.add_argument("--missing-code", metavar="VALUE", type=float, nargs="+", action="extend", default=[],
                        help="numeric codes meaning 'no answer' (e.g. -99); excluded and counted")
    parser.add_argument("--format", choices=("json", "csv"), default="json",
                        help="json: a list of flat objects (default); csv: one row per record")
    parser.add_argument("--output", metavar="PATH", help="write the records here instead of stdout")
    weights_cli.add_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Disagreement indices with bootstrap intervals from a CSV of answers.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input or usage)."""
    return cli.main(PROG, build_parser, run, argv, stdout, stderr)


def run(options: dict, *, stdout: TextIO, stderr: TextIO) -> IndexTable:
    """Read ``options["file"]``, compute the index table and write the records."""
    path = Path(options["file"])
    by = list(dict.fromkeys(options.get("by") or []))
    scale_min, scale_max = options.get("scale_min"), options.get("scale_max")
    if (scale_min is None) != (scale_max is None):
        raise InputError("give both --scale-min and --scale-max, or neither")
    if options.get("bootstrap", 1000) < 0:
        raise InputError("--bootstrap must be 0 or more")
    if not 0 < options.get("level", 0.95) < 1:
        raise InputError("--level must lie strictly between 0 and 1")
    step = options.get("scale_step") or 1.0
    if options.get("counts"):
        return weights_cli.run_counts(options, stdout=stdout, stderr=stderr)

    answers = read_answers(path, [*by, *weights_cli.design_columns(options)])
    missing_codes = list(options.get("missing_code") or [])
    if scale_min is not None:
        scales: Scale | dict = given_scale(scale_min, scale_max, step)
    else:
        scales = infer_scales(answers, path, step, missing_codes)
        listed = ", ".join(f"{item} {scale}" for item, scale in list(scales.items())[:8])
        more = "" if len(scales) <= 8 else f", ... ({len(scales)} items)"
        _say(stderr, f"{PROG}: no --scale-min/--scale-max given: scales inferred from the answers per item "
                     f"({listed}{more}); a category nobody chose at an end of the scale is left out of k")

    try:
        table = weights_cli.compute(options)(
            answers, scales=scales, by=by, reverse=options.get("reverse") or (),
            bootstrap=options.get("bootstrap", 1000), seed=options.get("seed", 0),
            level=options.get("level", 0.95), missing_codes=missing_codes,
        )
    except AnswersError as error:
        raise InputError(_located(path, error)) from None
    except ValueError as error:
        raise InputError(f"{path.name}: {error}") from None

    _summarize(table, answers, path, stderr)
    cli.write_records(table.frame, COLUMNS, options, prog=PROG, stdout=stdout, stderr=stderr)
    return table


# --------------------------------------------------------------------------- reading


def _located(path: Path, error: AnswersError) -> str:
    where = path.name if error.row is None else f"{path.name}:{error.row}"
    column = "" if error.column is None else f" column {error.column!r}:"
    return f"{where}:{column} {error.detail}"


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Excel's "CSV" on Western-European Windows


def _delimiter(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def read_answers(path: Path, by: Sequence[str] = ()) -> pd.DataFrame:
    """The answers of a CSV file as the frame :func:`compute_index_table` takes, indexed by
    line number (so errors name lines). Missing-answer tokens become NaN values."""
    text = _decode(path)
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise InputError(f"{path.name}:1: no header row (expected columns {', '.join(REQUIRED_COLUMNS)})")
    sep = _delimiter(header)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                          skip_blank_lines=False, skipinitialspace=True, engine="c")
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(f"{path.name}: not a readable CSV file ({str(error).strip().splitlines()[0]})") from None
    raw.columns = [str(c).strip().strip('"').strip() for c in raw.columns]
    raw.index = np.arange(2, len(raw) + 2)  # line numbers: the header is line 1
    raw = raw.apply(lambda column: column.str.strip())
    blank = (raw == "").all(axis=1)
    raw = raw[~blank]

    columns = _match_columns(raw.columns, [*REQUIRED_COLUMNS, *by], path)
    frame = pd.DataFrame(index=raw.index)
    for name in ("participant", "wave", "item"):
        column = raw[columns[name]]
        empty = column.str.lower().isin(MISSING_TOKENS)
        if empty.any():
            raise InputError(f"{path.name}:{column.index[empty.to_numpy()][0]}: column {name!r}: empty")
        frame[name] = column
    frame["wave"] = _wave_labels(frame["wave"], path)
    frame["value"] = _numbers(raw[columns["value"]], path, decimal_comma=sep != ",")
    for name in by:
        column = raw[columns[name]]
        frame[name] = column.where(~column.str.lower().isin(MISSING_TOKENS), None).astype(object)
    return frame


def _match_columns(found, wanted: Sequence[str], path: Path) -> dict[str, str]:
    found = list(found)
    lower = {}
    for name in found:
        lower.setdefault(name.lower(), name)
    matched = {}
    for name in wanted:
        if name in found:
            matched[name] = name
        elif name.lower() in lower:
            matched[name] = lower[name.lower()]
        else:
            raise InputError(f"{path.name}:1: missing column {name!r} (the header has: {', '.join(found)})")
    return matched


def _wave_labels(column: pd.Series, path: Path | None = None) -> pd.Series:
    """Wave numbers: whole numbers, else an error naming the first bad line."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | (np.mod(numbers.fillna(0), 1) != 0)
    if bad.any():
        line = column.index[bad.to_numpy()][0]
        name = path.name if path is not None else "input"
        raise InputError(f"{name}:{line}: column 'wave': {column.loc[line]!r} is not a whole number")
    return numbers.astype(np.int64)


def _numbers(column: pd.Series, path: Path, *, decimal_comma: bool) -> pd.Series:
    missing = column.str.lower().isin(MISSING_TOKENS)
    text = column.where(~missing, None)
    if decimal_comma:
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        line = column.index[bad.to_numpy()][0]
        raise InputError(f"{path.name}:{line}: column 'value': {column.loc[line]!r} is not a number")
    infinite = ~np.isfinite(numbers.fillna(0))
    if infinite.any():
        line = column.index[infinite.to_numpy()][0]
        raise InputError(f"{path.name}:{line}: column 'value': {column.loc[line]!r} is not a finite number")
    return numbers.astype(float)


#: Widest scale, in points, as the survey and the API allow (a wider one would need memory in
#: proportion: 1e9 points tried to allocate 7 GiB).
MAX_SCALE_POINTS = 1001


def _bounded(scale: Scale) -> Scale:
    points = round((scale.max - scale.min) / scale.step) + 1
    if points > MAX_SCALE_POINTS:
        raise ValueError(f"{scale.min:g}..{scale.max:g} in steps of {scale.step:g} has {points} points; "
                         f"at most {MAX_SCALE_POINTS} are allowed")
    return scale


def given_scale(scale_min: float, scale_max: float, step: float) -> Scale:
    """The scale of --scale-min/--scale-max/--scale-step, within MAX_SCALE_POINTS, or one line."""
    try:
        return _bounded(Scale(scale_min, scale_max, step))
    except ValueError as error:
        raise InputError(f"bad scale: {error}") from None


def infer_scales(answers: pd.DataFrame, path: Path, step: float, missing_codes=()) -> dict:
    """Per item, the scale from its smallest to its largest answer (missing codes ignored)."""
    values = answers["value"].where(~answers["value"].isin(list(missing_codes)))
    spans = values.groupby(answers["item"], sort=False).agg(["min", "max"])
    if spans["min"].isna().all():
        raise InputError(f"{path.name}: no answers with a value; nothing to compute")
    low, high = spans["min"].min(), spans["max"].max()
    scales = {}
    for item, (lo, hi) in spans.iterrows():
        if math.isnan(lo):
            lo, hi = low, high  # an item nobody answered: any scale gives n = 0
        if lo == hi:
            raise InputError(f"{path.name}: item {item!r}: every answer is {lo:g}, so its scale cannot be inferred; "
                             f"give --scale-min and --scale-max")
        try:
            scales[item] = _bounded(Scale(float(lo), float(hi), step))
        except ValueError:
            raise InputError(f"{path.name}: item {item!r}: answers {lo:g}..{hi:g} do not fit steps of {step:g}; "
                             f"give --scale-step, --scale-min and --scale-max") from None
    return scales


# --------------------------------------------------------------------------- writing


def records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as flat JSON-ready dicts; NaN and infinities become None."""
    return cli.records(frame, COLUMNS)


def _summarize(table: IndexTable, answers: pd.DataFrame, path: Path, stderr: TextIO) -> None:
    missing = table.missing
    total_missing = int(missing["missing"].sum())
    line = f"{PROG}: {path.name}: {len(answers)} answers"
    if total_missing:
        per_item = missing.groupby("item", sort=False)["missing"].sum()
        per_item = per_item[per_item > 0]
        shown = ", ".join(f"{item} {count}" for item, count in per_item.head(10).items())
        more = "" if len(per_item) <= 10 else ", ..."
        line += f"; {total_missing} missing or empty values excluded ({shown}{more})"
    else:
        line += "; no missing values"
    _say(stderr, line)
    parameters = table.parameters
    intervals = (f"{parameters['bootstrap']} bootstrap resamples, seed {parameters['seed']}, "
                 f"level {parameters['level']:g}") if parameters["bootstrap"] else "no intervals (--bootstrap 0)"
    _say(stderr, f"{PROG}: {len(table.frame)} records; {intervals}")
    frame = table.frame
    constraint = frame[frame["index"] == "constraint"]
    if len(constraint) and constraint["value"].isna().all():
        _say(stderr, f"{PROG}: constraint is null: no pair of items has two participants with answers to both "
                     f"(a sparse design); it is the mean |r| over pairs answered by the same people")
    if len(frame) and (frame["item"].isna() & frame["index"].isin(["mean", "sd"])).any():
        _say(stderr, f"{PROG}: rows pooled over items (item null) of mean and sd are on each item's scale "
                     f"rescaled to [0, 1] ({POOLED_UNIT}); rows of one item are in its own units")


_say = cli.say


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
