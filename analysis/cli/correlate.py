"""The ``correlate`` command without Django: two ``period,value`` series in, correlations out.

``manage.py correlate`` wraps :func:`add_arguments` and :func:`run`; no database is involved.
Series CSVs have columns ``period`` and ``value`` (others are ignored, so the output of
``text_disagreement`` works as it is; with a ``group`` column, ``--group`` picks the rows, default
``all``). Periods are years (``2001``), months (``2001-03``) or ISO dates; the series are joined on
them. Records ``{method, lag, differenced, n, coefficient, p_value, ci_low, ci_high}``: lag 0
first, lag L pairing A(t) with B(t+L), then the same on first differences. p-values are those
of ``scipy.stats``; intervals come from a moving-block bootstrap (see
:mod:`analysis.stats.correlate`). ``--from PERIOD --to PERIOD`` (inclusive) limits both series.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from analysis.cli import base as cli
from analysis.cli.base import InputError
from analysis.cli.text_disagreement import MISSING_TOKENS, csv_rows
from analysis.stats import correlate as corr

PROG = "correlate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.csv", help="first series: columns period, value")
    parser.add_argument("b", metavar="B.csv", help="second series: columns period, value")
    parser.add_argument("--method", choices=corr.METHODS, default="spearman", help="default spearman")
    parser.add_argument("--lags", type=int, default=0, metavar="K",
                        help="also lags 1..K (A leads B) and -1..-K (B leads A); lag L pairs A(t) with B(t+L)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="moving-block bootstrap resamples for the intervals (default 1000; 0 = none)")
    parser.add_argument("--block-length", type=int, metavar="L",
                        help="periods per bootstrap block (default: n^(1/3), rounded)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--level", type=float, default=0.95, metavar="L", help="interval level (default 0.95)")
    parser.add_argument("--from", dest="period_from", metavar="PERIOD",
                        help="first period to use, inclusive (a year, YYYY-MM or an ISO date); limits both series")
    parser.add_argument("--to", dest="period_to", metavar="PERIOD",
                        help="last period to use, inclusive (a year, YYYY-MM or an ISO date); limits both series")
    parser.add_argument("--group", default="all",
                        help="rows of this group when a series has a group column (default all)")
    parser.add_argument("--format", choices=("json", "csv"), default="json", help="default json")
    parser.add_argument("--output", metavar="PATH", help="write the records here instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Correlate two period,value series, with lags and on first differences.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    return cli.main(PROG, build_parser, run, argv, stdout, stderr)


def run(options: dict, *, stdout: TextIO, stderr: TextIO) -> pd.DataFrame:
    if options.get("lags", 0) < 0:
        raise InputError("--lags must be 0 or more")
    if options.get("bootstrap", 1000) < 0:
        raise InputError("--bootstrap must be 0 or more")
    if options.get("block_length") is not None and options["block_length"] < 1:
        raise InputError("--block-length must be 1 or more")
    if not 0 < options.get("level", 0.95) < 1:
        raise InputError("--level must lie strictly between 0 and 1")
    group = options.get("group") or "all"
    a = read_series(Path(options["a"]), group=group)
    b = read_series(Path(options["b"]), group=group)
    names = (Path(options["a"]).name, Path(options["b"]).name)
    start, end = options.get("period_from"), options.get("period_to")
    if start is not None or end is not None:
        try:
            a, b = corr.restricted(a, start, end), corr.restricted(b, start, end)
        except corr.SeriesError as error:
            raise InputError(f"--from/--to: {error}") from None
        cli.say(stderr, f"{PROG}: periods {start or 'first'}..{end or 'last'} only (inclusive)")
    if options.get("lags", 0) >= min(len(a.values), len(b.values)):
        raise InputError(f"--lags {options['lags']} must be smaller than the number of periods "
                         f"({names[0]}: {len(a.values)}, {names[1]}: {len(b.values)})")
    try:
        frame = corr.correlate_series(
            a, b, method=options.get("method", "spearman"), lags=options.get("lags", 0),
            bootstrap=options.get("bootstrap", 1000), block_length=options.get("block_length"),
            level=options.get("level", 0.95), seed=options.get("seed", 0))
    except corr.SeriesError as error:
        raise InputError(f"{names[0]}, {names[1]}: {error}") from None
    level = frame.iloc[0]
    cli.say(stderr, f"{PROG}: {names[0]}: {len(a)} {a.kind}s, {names[1]}: {len(b)} {b.kind}s; "
                    f"{level['n']} periods in common")
    if level["n"] < 3:
        cli.say(stderr, f"{PROG}: fewer than 3 periods in common: no coefficient")
    warning = corr.trend_warning(a, b)
    if warning:
        cli.say(stderr, f"{PROG}: warning: {warning}")
    cli.say(stderr, f"{PROG}: p-values assume independent periods (as scipy.stats does); the moving-block "
                    f"bootstrap intervals allow for autocorrelation")
    cli.write_records(frame, corr.COLUMNS, options, prog=PROG, stdout=stdout, stderr=stderr)
    return frame


def read_series(source: Path | bytes, *, group: str = "all", name: str | None = None) -> corr.Series:
    """A ``period,value`` CSV as a :class:`~analysis.stats.correlate.Series`; missing values are
    dropped, other bad cells raise :class:`InputError` naming file, line and column."""
    name, lines, cells = csv_rows(source, required=("period", "value"), optional=("group",), name=name)
    if "group" in cells:
        keep = [i for i, g in enumerate(cells["group"]) if g == group]
        if not keep:
            raise InputError(f"{name}: no rows of group {group!r} (groups: "
                             f"{', '.join(sorted(set(cells['group'])))})")
        lines = [lines[i] for i in keep]
        cells = {column: [values[i] for i in keep] for column, values in cells.items()}
    if not lines:
        raise InputError(f"{name}: no rows below the header")
    values = []
    for line, cell in zip(lines, cells["value"], strict=True):
        if cell.lower() in MISSING_TOKENS:
            values.append(math.nan)
            continue
        try:
            number = float(cell.replace(",", ".") if cell.count(",") == 1 and "." not in cell else cell)
        except ValueError:
            raise InputError(f"{name}:{line}: column 'value': {cell!r} is not a number") from None
        if not math.isfinite(number):
            raise InputError(f"{name}:{line}: column 'value': {cell!r} is not a finite number")
        values.append(number)
    for line, period in zip(lines, cells["period"], strict=True):
        if not period:
            raise InputError(f"{name}:{line}: column 'period': empty")
    try:
        return corr.make_series(cells["period"], values)
    except corr.SeriesError as error:
        where = f"{name}:{lines[error.position]}: column 'period'" if error.position is not None else name
        raise InputError(f"{where}: {error}") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
