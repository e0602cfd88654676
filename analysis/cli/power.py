"""The ``power`` command without Django: power by simulation and the smallest sample.

``manage.py power`` (analysis/management/commands/power.py) is a thin wrapper around
:func:`add_arguments` and :func:`run`; :func:`main` runs the same without Django. Records go to
stdout (a list of flat JSON objects, or CSV), messages to stderr; bad options exit with status 1
and one line naming the option. The model and its assumptions are in
:mod:`analysis.stats.power`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

import pandas as pd

from analysis.cli import base as cli
from analysis.cli.base import EXIT_BAD_INPUT, InputError
from analysis.stats.power import INDEX_TESTS, OUTCOMES, PowerResult, estimate_power
from analysis.stats.simulate import ItemSpec

PROG = "power"
FIELDS: tuple[str, ...] = (
    "outcome",
    "effect",
    "latent_effect",
    "waves",
    "intervention_wave",
    "participants_per_arm",
    "power",
    "ci_low",
    "ci_high",
    "mean_estimate",
    "sd_estimate",
    "requested",
    "minimum",
    "target",
    "alpha",
    "simulations",
    "test",
)

__all__ = ["EXIT_BAD_INPUT", "FIELDS", "InputError", "add_arguments", "main", "records", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by :func:`main` and the Django command)."""
    parser.add_argument("--participants", required=True, type=int, metavar="N",
                        help="participants per arm (two arms: control and intervention)")
    parser.add_argument("--waves", required=True, type=int, metavar="W", help="number of waves")
    parser.add_argument("--intervention-wave", required=True, type=int, metavar="V",
                        help="wave at which the intervention is shown (waves before it are the baseline)")
    parser.add_argument("--effect", required=True, type=float, metavar="E",
                        help="effect to detect, IN THE OUTCOME'S OWN UNITS: scale points of the item for "
                             "value, extremity and distance_other_group; index units for an index (mean and "
                             "sd in scale points, mad_pairwise as a share of the scale, ...). It is the pooled "
                             "difference in differences between the arms over the waves from V on")
    parser.add_argument("--outcome", required=True, metavar="NAME", choices=OUTCOMES,
                        help=f"outcome: {', '.join(OUTCOMES)}")
    parser.add_argument("--simulations", type=int, default=500, metavar="S",
                        help="simulated studies (default 500; the power's simulation error is about "
                             "sqrt(p(1-p)/S), 2 points at 500)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    parser.add_argument("--power", type=float, default=0.8, dest="target", metavar="P",
                        help="target power for the smallest participants per arm (default 0.8)")
    parser.add_argument("--scale-min", type=float, default=1.0, metavar="A", help="item scale minimum (default 1)")
    parser.add_argument("--scale-max", type=float, default=7.0, metavar="B", help="item scale maximum (default 7)")
    parser.add_argument("--scale-step", type=float, default=1.0, metavar="H", help="item scale step (default 1)")
    parser.add_argument("--attrition", type=float, default=0.06, metavar="P",
                        help="share of participants dropping out after each wave (default 0.06)")
    parser.add_argument("--index-test", choices=INDEX_TESTS, default="jackknife",
                        help="test for index outcomes: grouped jackknife t-test (default) or randomization")
    parser.add_argument("--permutations", type=int, default=200, metavar="R",
                        help="re-randomizations per simulated study with --index-test randomization (default 200)")
    parser.add_argument("--max-participants", type=int, default=20_000, metavar="N",
                        help="largest participants per arm searched (default 20000)")
    parser.add_argument("--no-search", action="store_true",
                        help="only the power at --participants; skip the smallest-sample search")
    parser.add_argument("--format", choices=("json", "csv"), default="json",
                        help="json: a list of flat objects (default); csv: one row per record")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Power to detect an intervention effect on a disagreement outcome, by simulating "
                    "panels, and the smallest participants per arm for the target power.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input or usage)."""
    return cli.main(PROG, build_parser, run, argv, stdout, stderr)


def run(options: dict, *, stdout: TextIO, stderr: TextIO) -> PowerResult:
    try:
        item = ItemSpec("item", scale_min=options.get("scale_min", 1.0), scale_max=options.get("scale_max", 7.0),
                        step=options.get("scale_step", 1.0))
    except ValueError as error:
        raise InputError(f"--scale-min/--scale-max/--scale-step: {error}") from None
    if not 0 <= options.get("attrition", 0.06) < 1:
        raise InputError("--attrition must be at least 0 and below 1")
    try:
        result = estimate_power(
            participants_per_arm=options["participants"],
            waves=options["waves"],
            intervention_wave=options["intervention_wave"],
            effect=options["effect"],
            outcome=options["outcome"],
            simulations=options.get("simulations", 500),
            seed=options.get("seed", 0),
            alpha=options.get("alpha", 0.05),
            target=options.get("target", 0.8),
            item=item,
            attrition=options.get("attrition", 0.06),
            index_test=options.get("index_test", "jackknife"),
            permutations=options.get("permutations", 200),
            max_participants_per_arm=options.get("max_participants", 20_000),
            search=not options.get("no_search", False),
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    frame = records_frame(result, options)
    cli.write_records(frame, FIELDS, options, prog=PROG, stdout=stdout, stderr=stderr)
    _summarize(result, stderr)
    return result


def records_frame(result: PowerResult, options: dict) -> pd.DataFrame:
    frame = result.curve.copy()
    frame["outcome"] = result.outcome
    frame["effect"] = result.effect
    frame["latent_effect"] = result.latent_effect
    frame["waves"] = options["waves"]
    frame["intervention_wave"] = options["intervention_wave"]
    frame["target"] = result.target
    frame["alpha"] = result.alpha
    frame["simulations"] = result.simulations
    frame["test"] = result.test
    return frame[list(FIELDS)]


def records(frame: pd.DataFrame) -> list[dict]:
    return cli.records(frame, FIELDS)


def _summarize(result: PowerResult, stderr: TextIO) -> None:
    cli.say(stderr, f"{PROG}: power to detect {result.effect:g} in {result.outcome} (latent shift "
                 f"{result.latent_effect:.3g} SD) with {result.participants_per_arm} participants per arm: "
                 f"{result.power:.1%} (95% CI {result.ci_low:.1%} to {result.ci_high:.1%}; "
                 f"{result.simulations} simulations, {result.test} test, alpha {result.alpha:g})")
    if result.minimum_participants_per_arm is not None:
        cli.say(stderr, f"{PROG}: smallest participants per arm for {result.target:.0%} power: "
                     f"{result.minimum_participants_per_arm} (to about 1%)")
    for note in result.notes:
        cli.say(stderr, f"{PROG}: note: {note}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
