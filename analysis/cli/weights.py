"""Weights, survey designs and frequency tables for the ``indices`` command.

``indices --weight COL [--weight-kind frequency|sampling] [--strata COL] [--cluster COL]``
reads the answers as usual plus a weight per respondent (and design columns) and computes every
index with weights (:mod:`analysis.stats.weighted`); intervals come from the expanded file's
bootstrap (frequency weights) or the Rao-Wu rescaling bootstrap (sampling weights, or any
design column; :mod:`analysis.stats.design_bootstrap`).

``indices --counts TABLE.csv`` reads a frequency table, columns ``wave, item, category, count``
plus the ``--by`` columns, and gives the values of the expanded file without expanding it
(:mod:`analysis.stats.counts`).

:mod:`analysis.cli.indices` calls :func:`add_arguments`, :func:`design_columns`,
:func:`compute` and :func:`run_counts`; nothing here needs Django.
"""

from __future__ import annotations

import argparse
import io
from functools import partial
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from analysis.cli import base as cli
from analysis.cli.base import InputError
from analysis.stats.counts import COUNT_COLUMNS, count_index_table
from analysis.stats.design_bootstrap import KINDS
from analysis.stats.tables import COLUMNS, AnswersError, Scale, compute_index_table
from analysis.stats.weighted import weighted_index_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("weights, survey designs and frequency tables")
    group.add_argument("--weight", metavar="COL",
                       help="weight column (one weight per respondent and wave): weighted shares, moments, "
                            "pairwise differences and between-group measures")
    group.add_argument("--weight-kind", choices=KINDS, default="sampling",
                       help="sampling (default): inverse selection probabilities, n = respondents "
                            "(Stata pweight/aweight); frequency: whole numbers counting identical "
                            "respondents, n = sum of weights (Stata fweight)")
    group.add_argument("--strata", metavar="COL", help="stratum column for the Rao-Wu bootstrap (needs --weight)")
    group.add_argument("--cluster", metavar="COL", help="PSU (cluster) column for the Rao-Wu bootstrap (needs --weight)")
    group.add_argument("--counts", action="store_true",
                       help="FILE.csv is a frequency table: columns wave, item, category, count and the --by "
                            "columns; values of the expanded file, never expanded")


def design_columns(options: dict) -> list[str]:
    """The extra columns to read with the answers (weight, strata, cluster)."""
    if (options.get("strata") or options.get("cluster")) and not options.get("weight"):
        raise InputError("--strata and --cluster need --weight")
    return [c for c in (options.get("weight"), options.get("strata"), options.get("cluster")) if c]


def compute(options: dict):
    """The function that turns the answers into the index table: weighted or not."""
    if not options.get("weight"):
        return compute_index_table
    return partial(weighted_index_table, weight=options["weight"], kind=options.get("weight_kind") or "sampling",
                   strata=options.get("strata"), cluster=options.get("cluster"))


def read_counts(path: Path, by) -> pd.DataFrame:
    """A frequency table as the frame :func:`count_index_table` takes, indexed by line number."""
    from analysis.cli import indices as command

    text = command._decode(path)
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise InputError(f"{path.name}:1: no header row (expected columns {', '.join(COUNT_COLUMNS)})")
    sep = command._delimiter(header)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                          skipinitialspace=True, engine="c")
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(f"{path.name}: not a readable CSV file ({str(error).strip().splitlines()[0]})") from None
    raw.columns = [str(c).strip().strip('"').strip() for c in raw.columns]
    raw.index = np.arange(2, len(raw) + 2)
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw[~(raw == "").all(axis=1)]
    columns = command._match_columns(raw.columns, [*COUNT_COLUMNS, *by], path)
    frame = pd.DataFrame(index=raw.index)
    for name in ("wave", "item", "category", "count"):
        column = raw[columns[name]]
        empty = column.str.lower().isin(command.MISSING_TOKENS)
        if empty.any():
            raise InputError(f"{path.name}:{column.index[empty.to_numpy()][0]}: column {name!r}: empty")
        frame[name] = column
    frame["wave"] = command._wave_labels(frame["wave"])
    category = pd.to_numeric(frame["category"], errors="coerce")
    if category.isna().any():
        line = category.index[category.isna().to_numpy()][0]
        raise InputError(f"{path.name}:{line}: column 'category': {frame.loc[line, 'category']!r} is not a number")
    frame["category"] = category.astype(float)
    for name in by:
        column = raw[columns[name]]
        frame[name] = column.where(~column.str.lower().isin(command.MISSING_TOKENS), None).astype(object)
    return frame


def run_counts(options: dict, *, stdout: TextIO, stderr: TextIO):
    from analysis.cli import indices as command

    if options.get("weight") or options.get("strata") or options.get("cluster"):
        raise InputError("--counts takes no --weight, --strata or --cluster: the counts are the weights")
    path = Path(options["file"])
    by = list(dict.fromkeys(options.get("by") or []))
    table = read_counts(path, by)
    scale_min, scale_max = options.get("scale_min"), options.get("scale_max")
    step = options.get("scale_step") or 1.0
    if scale_min is not None:
        scales: Scale | dict = command.given_scale(scale_min, scale_max, step)
    else:
        scales = command.infer_scales(table.rename(columns={"category": "value"}), path, step)
        cli.say(stderr, f"{command.PROG}: no --scale-min/--scale-max given: each item's scale runs from its lowest "
                        f"to its highest category")
    try:
        result = count_index_table(table, scales=scales, by=by, reverse=options.get("reverse") or (),
                                   bootstrap=options.get("bootstrap", 1000), seed=options.get("seed", 0),
                                   level=options.get("level", 0.95))
    except AnswersError as error:
        raise InputError(command._located(path, error)) from None
    except ValueError as error:
        raise InputError(f"{path.name}: {error}") from None
    total = pd.to_numeric(table["count"], errors="coerce").sum()
    cli.say(stderr, f"{command.PROG}: {path.name}: frequency table of {len(table)} rows, {total:,.0f} answers "
                    f"(not expanded); no constraint rows (they need each person's answers to several items)")
    parameters = result.parameters
    intervals = (f"{parameters['bootstrap']} multinomial resamples, seed {parameters['seed']}, "
                 f"level {parameters['level']:g}") if parameters["bootstrap"] else "no intervals (--bootstrap 0)"
    cli.say(stderr, f"{command.PROG}: {len(result.frame)} records; {intervals}")
    cli.write_records(result.frame, COLUMNS, options, prog=command.PROG, stdout=stdout, stderr=stderr)
    return result
