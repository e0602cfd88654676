"""The ``effects`` command without Django: a CSV of answers in, effect records out.

``manage.py effects`` (analysis/management/commands/effects.py) is a thin wrapper around
:func:`add_arguments` and :func:`run`; :func:`main` runs the same without Django. No database
is involved. Data go to stdout (or ``--output``), messages to stderr; bad input raises
:class:`~analysis.cli.indices.InputError` whose message is one line naming file, line and
column, e.g. ``answers.csv:17: column 'arm': participant 'P3' has 'video' here but 'control'
in an earlier row``.

Input: columns ``participant, wave, item, value``, the arm column (``--arm-column``) and the
grouping column named by ``--by``, one row per answer; read exactly as the ``indices`` command
reads its input (:func:`analysis.cli.indices.read_answers`). Output records (docs/contracts.md):
``{arm, outcome, item, wave, method, estimate, se, ci_low, ci_high, p_value, p_holm, n}``
followed by ``group, sample, p_ri, n_obs, attrition_warning, primary``
(:mod:`analysis.stats.effects` explains each).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from analysis.cli import base as cli
from analysis.cli.base import EXIT_BAD_INPUT, InputError
from analysis.cli.indices import _located, given_scale, infer_scales, read_answers
from analysis.stats.effects import (
    DEFAULT_INDICES,
    EXTRA_FIELDS,
    INDIVIDUAL_OUTCOMES,
    RECORD_FIELDS,
    SUPPORTED_INDICES,
    EffectTable,
    estimate_effects,
)
from analysis.stats.tables import AnswersError, Scale
from analysis.stats.units import POOLED_UNIT

PROG = "effects"
FIELDS: tuple[str, ...] = (*RECORD_FIELDS, *EXTRA_FIELDS)

__all__ = ["EXIT_BAD_INPUT", "FIELDS", "InputError", "add_arguments", "main", "records", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by :func:`main` and the Django command)."""
    parser.add_argument("file", metavar="FILE.csv",
                        help="answers: columns participant, wave, item, value, the arm column and --by")
    parser.add_argument("--arm-column", required=True, metavar="COL",
                        help="column holding each participant's assigned arm (intention to treat)")
    parser.add_argument("--control", required=True, metavar="NAME", help="name of the control arm")
    parser.add_argument("--intervention-wave", required=True, type=int, metavar="W",
                        help="first wave whose answers follow the intervention; earlier waves are the baseline")
    parser.add_argument("--by", metavar="COL",
                        help="grouping column (e.g. side): pair indices between its groups, "
                             "distance_other_group, and the strata of resampling and re-randomization")
    parser.add_argument("--scale-min", type=float, metavar="A",
                        help="lowest scale point of every item (with --scale-max). Without both, each "
                             "item's scale is inferred from its answers")
    parser.add_argument("--scale-max", type=float, metavar="B", help="highest scale point of every item")
    parser.add_argument("--scale-step", type=float, metavar="H", default=1.0,
                        help="distance between scale points (default 1; sliders: their step)")
    parser.add_argument("--index", metavar="NAME", nargs="+", action="extend", default=None,
                        help="index outcomes (default: every cell index but n, constraint, and with --by the "
                             f"pair indices and alignment): {', '.join(DEFAULT_INDICES)}; 'none' for no index. "
                             "Cell indices come per item and pooled over items (item null), for everyone "
                             "(group all) and, with --by, within each group")
    parser.add_argument("--reverse", metavar="ITEM", nargs="+", action="extend", default=[],
                        help="reverse-coded items (flipped in the rows pooled over items)")
    parser.add_argument("--outcome", metavar="NAME", nargs="+", action="extend", default=None,
                        help="individual outcomes (default all): value, extremity, distance_other_group; "
                             "'none' for none")
    parser.add_argument("--bootstrap", type=int, metavar="N", default=1000,
                        help="cluster bootstrap resamples for the index effects (default 1000; 0 = none)")
    parser.add_argument("--permutations", type=int, metavar="R", default=1000,
                        help="re-randomizations for the randomization p-values p_ri (default 1000; 0 = none)")
    parser.add_argument("--seed", type=int, metavar="S", default=0, help="random seed (default 0)")
    parser.add_argument("--level", type=float, metavar="L", default=0.95,
                        help="confidence level of the intervals (default 0.95)")
    parser.add_argument("--primary-outcome", metavar="NAME",
                        help="the study's primary outcome (rows marked primary; all else exploratory)")
    parser.add_argument("--primary-item", metavar="ITEM", help="the item of the primary outcome")
    parser.add_argument("--no-balanced", action="store_true",
                        help="skip the repeat of every estimate on the balanced panel")
    parser.add_argument("--missing-code", metavar="VALUE", type=float, nargs="+", action="extend", default=[],
                        help="numeric codes meaning 'no answer' (e.g. -99); left out")
    parser.add_argument("--format", choices=("json", "csv"), default="json",
                        help="json: a list of flat objects (default); csv: one row per record")
    parser.add_argument("--output", metavar="PATH", help="write the records here instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Intervention effects on disagreement (difference in differences with cluster "
                    "bootstrap, two-way fixed effects, randomization inference) from a CSV of answers.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input or usage)."""
    return cli.main(PROG, build_parser, run, argv, stdout, stderr)


def _names(chosen, default, known, option: str) -> tuple[str, ...]:
    if chosen is None:
        return tuple(default)
    chosen = [name for name in dict.fromkeys(chosen)]
    if chosen == ["none"]:
        return ()
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise InputError(f"{option}: unknown name {unknown[0]!r} (choose from {', '.join(sorted(known))})")
    return tuple(chosen)


def run(options: dict, *, stdout: TextIO, stderr: TextIO) -> EffectTable:
    """Read ``options["file"]``, estimate every effect and write the records."""
    path = Path(options["file"])
    arm_column = options["arm_column"]
    by = options.get("by")
    scale_min, scale_max = options.get("scale_min"), options.get("scale_max")
    if (scale_min is None) != (scale_max is None):
        raise InputError("give both --scale-min and --scale-max, or neither")
    for name in ("bootstrap", "permutations"):
        if options.get(name, 0) < 0:
            raise InputError(f"--{name} must be 0 or more")
    if not 0 < options.get("level", 0.95) < 1:
        raise InputError("--level must lie strictly between 0 and 1")
    if by is not None and by == arm_column:
        raise InputError("--by and --arm-column must be different columns")
    index_names = _names(options.get("index"), DEFAULT_INDICES, SUPPORTED_INDICES, "--index")
    outcome_names = _names(options.get("outcome"), INDIVIDUAL_OUTCOMES, set(INDIVIDUAL_OUTCOMES), "--outcome")
    if not index_names and not outcome_names:
        raise InputError("nothing to estimate: --index none and --outcome none")
    primary = options.get("primary_outcome")
    if primary is not None and primary not in set(index_names) | set(outcome_names):
        raise InputError(f"--primary-outcome {primary!r} is not among the outcomes estimated")
    step = options.get("scale_step") or 1.0

    answers = read_answers(path, [arm_column, *([by] if by else [])])
    missing_codes = list(options.get("missing_code") or [])
    if missing_codes:
        answers["value"] = answers["value"].where(~answers["value"].isin(missing_codes))
    if scale_min is not None:
        scales: Scale | dict = given_scale(scale_min, scale_max, step)
    else:
        scales = infer_scales(answers, path, step)
        listed = ", ".join(f"{item} {scale}" for item, scale in list(scales.items())[:8])
        more = "" if len(scales) <= 8 else f", ... ({len(scales)} items)"
        cli.say(stderr, f"{PROG}: no --scale-min/--scale-max given: scales inferred from the answers per item "
                     f"({listed}{more})")

    try:
        table = estimate_effects(
            answers,
            arm_column=arm_column,
            control=options["control"],
            intervention_wave=options["intervention_wave"],
            scales=scales,
            by=by,
            indices=index_names,
            outcomes=outcome_names,
            bootstrap=options.get("bootstrap", 1000),
            permutations=options.get("permutations", 1000),
            seed=options.get("seed", 0),
            level=options.get("level", 0.95),
            primary_outcome=primary,
            primary_item=options.get("primary_item"),
            balanced=not options.get("no_balanced", False),
            reverse=options.get("reverse") or (),
        )
    except AnswersError as error:
        raise InputError(_located(path, error)) from None
    except ValueError as error:
        raise InputError(f"{path.name}: {error}") from None

    _summarize(table, answers, path, options, stderr)
    cli.write_records(table.frame, FIELDS, options, prog=PROG, stdout=stdout, stderr=stderr)
    return table


# --------------------------------------------------------------------------- writing


def records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as flat JSON-ready dicts in :data:`FIELDS` order; NaN -> None."""
    return cli.records(frame, FIELDS)


def _summarize(table: EffectTable, answers: pd.DataFrame, path: Path, options: dict, stderr: TextIO) -> None:
    participants = answers["participant"].nunique()
    arms = answers.groupby(options["arm_column"])["participant"].nunique()
    per_arm = ", ".join(f"{arm} {count}" for arm, count in arms.items())
    cli.say(stderr, f"{PROG}: {path.name}: {len(answers)} answers of {participants} participants ({per_arm}); "
                 f"control {options['control']!r}, intervention wave {options['intervention_wave']}")
    resamples = options.get("bootstrap", 1000)
    cli.say(stderr, f"{PROG}: {len(table.frame)} records; {resamples} cluster bootstrap resamples, "
                 f"{options.get('permutations', 1000)} re-randomizations, seed {options.get('seed', 0)}")
    frame = table.frame
    if len(frame) and (frame["item"].isna() & frame["outcome"].isin(["mean", "sd"])).any():
        cli.say(stderr, f"{PROG}: rows pooled over items (item null) of mean and sd are on each item's scale "
                        f"rescaled to [0, 1] ({POOLED_UNIT}); rows of one item are in its own units")
    for note in table.warnings:
        cli.say(stderr, f"{PROG}: warning: {note}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
