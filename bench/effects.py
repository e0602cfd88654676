"""Benchmark: every effect of one intervention arm on a large simulated panel.

    .venv/bin/python bench/effects.py [--participants 20000] [--waves 8] [--items 6]
                                      [--bootstrap 1000] [--permutations 1000] [--seed 0]

Simulates participants x waves x items (7-point items, two groups, one intervention arm,
intervention at the middle wave) with `analysis.stats.simulate`, then times
`estimate_effects` with every default index (cell and pair indices), the three individual
outcomes (TWFE and event study), cluster-bootstrap intervals, randomization inference and
the balanced-panel repeat. Prints figures; asserts nothing about time. The target is under
30 s on 2 cores for the defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.effects import estimate_effects  # noqa: E402
from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--waves", type=int, default=8)
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--no-balanced", action="store_true", help="skip the balanced-panel repeat")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the index effects and the individual outcomes alone")
    args = parser.parse_args(argv)

    items = tuple(
        ItemSpec(f"item{j + 1}", loading=(1.0 if j % 2 == 0 else -0.8), intercept=0.2 * (j % 3))
        for j in range(args.items)
    )
    intervention_wave = args.waves // 2 + 1
    spec = PanelSpec(
        n_participants=args.participants,
        n_waves=args.waves,
        items=items,
        intervention_wave=intervention_wave,
        effect=-0.2,
    )
    start = time.perf_counter()
    answers = simulate_panel(spec, seed=args.seed).long()
    simulated = time.perf_counter() - start
    print(
        f"panel: {args.participants} participants x {args.waves} waves x {args.items} items "
        f"= {len(answers):,} answer rows (simulated in {simulated:.2f} s)"
    )
    print(f"cpus visible: {os.cpu_count()}; bootstrap {args.bootstrap}, permutations {args.permutations}")

    def timed(**options):
        start, cpu = time.perf_counter(), time.process_time()
        table = estimate_effects(
            answers,
            control="control",
            intervention_wave=intervention_wave,
            by="group",
            scales=(1, 7, 1),
            bootstrap=args.bootstrap,
            permutations=args.permutations,
            seed=args.seed,
            balanced=not args.no_balanced,
            **options,
        )
        timed.cpu = time.process_time() - cpu
        return time.perf_counter() - start, table.frame

    elapsed, frame = timed()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"estimate_effects, everything: {elapsed:.2f} s wall, {timed.cpu:.2f} s CPU (all threads), "
          f"for {len(frame)} estimates; load average {load:.1f} (figures above ~2 mean a shared machine)")
    for method, rows in frame.groupby("method"):
        print(f"  {method:24s} {len(rows):5d} rows")
    if args.breakdown:
        elapsed, frame = timed(outcomes=())
        print(f"  index effects alone (bootstrap + randomization): {elapsed:.2f} s, {len(frame)} rows")
        elapsed, frame = timed(indices=())
        print(f"  individual outcomes alone (TWFE, event study, randomization): {elapsed:.2f} s, {len(frame)} rows")


if __name__ == "__main__":
    main()
