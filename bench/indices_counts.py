"""Benchmark of frequency tables: `python bench/indices_counts.py [--years 50] [--items 20]
[--respondents 10000000] [--bootstrap 1000]`.

Builds a table of counts per year, item and category (default 50 years x 20 items on a
7-point scale, 10^7 respondents per year and item, two groups) and times
:func:`analysis.stats.counts.count_index_table` with multinomial bootstrap intervals. The
counts are never expanded: time and memory depend on the number of table rows, not on the
number of respondents. Prints figures only; it asserts nothing about time.
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

from analysis.stats.counts import count_index_table  # noqa: E402
from analysis.stats.tables import Scale  # noqa: E402


def table(years: int, items: int, respondents: int, k: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for year in range(1972, 1972 + years):
        for item in range(items):
            for group, share in (("a", 0.55), ("b", 0.45)):
                p = rng.dirichlet(np.ones(k))
                counts = rng.multinomial(int(respondents * share), p)
                rows.extend((year, f"item{item:02d}", c + 1, int(n), group) for c, n in enumerate(counts))
    return pd.DataFrame(rows, columns=["wave", "item", "category", "count", "side"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=50)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--respondents", type=int, default=10_000_000, help="per year and item")
    parser.add_argument("--k", type=int, default=7)
    parser.add_argument("--bootstrap", type=int, default=1000)
    options = parser.parse_args()
    frame = table(options.years, options.items, options.respondents, options.k)
    total = int(frame["count"].sum())
    print(f"table: {len(frame):,} rows, {total:,} answers ({options.years} years x {options.items} items x "
          f"{options.respondents:,} respondents, k = {options.k}, 2 groups); load {os.getloadavg()[0]:.2f}")
    for bootstrap in (0, options.bootstrap):
        start, cpu = time.perf_counter(), time.process_time()
        result = count_index_table(frame, scales=Scale(1, options.k), by=["side"], bootstrap=bootstrap)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"count_index_table, {bootstrap} resamples: {seconds:.2f} s wall, {cpu:.2f} s CPU, {len(result.frame):,} records, "
              f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
