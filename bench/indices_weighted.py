"""Benchmark of weighted indices: `python bench/indices_weighted.py [--respondents N] [--items I]
[--bootstrap B]`.

One cross-section (default 10,000 respondents x 10 items on a 7-point scale, two groups,
sampling weights, 50 strata of 2 PSUs each) through :func:`analysis.stats.weighted.weighted_index_table`
with the Rao-Wu bootstrap; every row of the table (cells, pairs, pooled, constraint, alignment).
Prints figures only; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.tables import Scale  # noqa: E402
from analysis.stats.weighted import weighted_index_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    n, items = options.respondents, options.items
    person = np.repeat(np.arange(n), items)
    frame = pd.DataFrame({
        "participant": person, "wave": 2024, "item": np.tile([f"q{i}" for i in range(items)], n),
        "value": rng.integers(1, 8, n * items).astype(float),
        "side": np.where(person % 2 == 0, "a", "b"), "weight": rng.gamma(2.0, 1.0, n)[person],
        "stratum": (person % 50), "psu": (person // 50) % 2,
    })
    print(f"{n:,} respondents x {items} items, {options.bootstrap} Rao-Wu resamples; load {os.getloadavg()[0]:.2f}")
    start, cpu = time.perf_counter(), time.process_time()
    table = weighted_index_table(frame, scales=Scale(1, 7), weight="weight", kind="sampling", by=["side"],
                                 strata="stratum", cluster="psu", bootstrap=options.bootstrap)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"weighted_index_table: {seconds:.2f} s wall, {cpu:.2f} s CPU, {len(table.frame):,} records, "
          f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
