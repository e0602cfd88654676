"""Benchmark of the index table: `python bench/indices.py [--participants N]`.

A synthetic panel (default 100,000 participants x 10 waves x 10 items = 10M answers on a
7-point scale, two groups, 2% "don't know") is built as a DataFrame, then timed:

1. the count-based indices of every cell (wave x item x group, plus the pair of groups) with
   1,000 multinomial bootstrap resamples each, from the DataFrame (count tables included);
2. the obvious pandas approach on a few cells: ``groupby(...).apply(python function)`` that
   resamples the cell's raw answers and recomputes every index per resample, extrapolated to
   the same number of resamples, per cell;
3. the participant-resampling parts (pooled rows, ``constraint``, ``alignment``), each alone
   and all together (they then share the resampling weights).

Prints figures only; it asserts nothing about time. Peak memory is the process's maximum
resident set size (``resource.getrusage``) after each phase.
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
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.tables import Scale, compute_index_table  # noqa: E402

K = 7


def synthetic_panel(participants: int, waves: int, items: int, seed: int) -> pd.DataFrame:
    """Long answers: two sides drifting apart, correlated items, 2% missing."""
    rng = np.random.default_rng(seed)
    side = rng.integers(0, 2, participants)
    person = rng.normal(size=participants) + (side - 0.5) * 0.8
    rows = []
    for wave in range(1, waves + 1):
        latent = person + (side - 0.5) * 0.1 * (wave - 1)
        noise = rng.normal(size=(participants, items))
        value = np.clip(np.round(4 + 1.2 * (latent[:, None] + noise)), 1, K)
        value[rng.random(value.shape) < 0.02] = np.nan
        rows.append(value)
    values = np.stack(rows, axis=1)  # (participants, waves, items)
    return pd.DataFrame({
        "participant": np.repeat(np.arange(participants), waves * items),
        "wave": np.tile(np.repeat(np.arange(1, waves + 1), items), participants),
        "item": pd.Categorical.from_codes(np.tile(np.arange(items), participants * waves),
                                          [f"q{i + 1}" for i in range(items)]),
        "value": values.ravel(),
        "side": pd.Categorical.from_codes(np.repeat(side, waves * items), ["left", "right"]),
    })


# --------------------------------------------------------------------------- the naive way


def naive_indices(x: np.ndarray) -> dict[str, float]:
    """Every per-cell index from raw answers with plain numpy/pandas/scipy calls."""
    n = len(x)
    counts = pd.Series(x).value_counts().reindex(range(1, K + 1), fill_value=0).to_numpy()
    p = counts / n
    cumulative = np.cumsum(p)[:-1]
    ordered = np.sort(x)
    mad = 2 * np.sum((2 * np.arange(1, n + 1) - n - 1) * ordered) / (n * (n - 1)) / (K - 1)
    mu = x.mean()
    y = np.arange(K) / (K - 1)
    g1, g2 = scipy.stats.skew(x, bias=False), scipy.stats.kurtosis(x, bias=False)
    return {
        "mean": mu, "sd": x.std(ddof=1), "mad_pairwise": mad,
        "agreement_a": naive_agreement(p),
        "leik_d": 2 * np.minimum(cumulative, 1 - cumulative).sum() / (K - 1),
        "tw_consensus": 1 + sum(p[i] * np.log2(1 - abs(i + 1 - mu) / (K - 1)) for i in range(K) if p[i] > 0),
        "entropy_norm": scipy.stats.entropy(p) / np.log(K),
        "bimodality": (g1**2 + 1) / (g2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))),
        "esteban_ray": sum(p[i] ** 2.6 * p[j] * abs(y[i] - y[j]) for i in range(K) for j in range(K)),
    }


def naive_agreement(p: np.ndarray) -> float:
    p = p.copy()
    total = 0.0
    while p.max() > 1e-12:
        nonzero = p > 1e-12
        smallest = p[nonzero].min()
        pattern = nonzero.astype(int)
        tu = tdu = 0
        for i in range(K):
            for j in range(i + 1, K):
                for m in range(j + 1, K):
                    triple = (pattern[i], pattern[j], pattern[m])
                    tu += triple in ((1, 1, 0), (0, 1, 1))
                    tdu += triple == (1, 0, 1)
        u = 1.0 if tu + tdu == 0 else ((K - 2) * tu - (K - 1) * tdu) / ((K - 2) * (tu + tdu))
        s = pattern.sum()
        total += smallest * s * u * (1 - (s - 1) / (K - 1))
        p = np.where(nonzero, p - smallest, 0.0)
    return total


def naive_cell(values: pd.Series, resamples: int, rng: np.random.Generator) -> pd.Series:
    x = values.dropna().to_numpy()
    estimates = naive_indices(x)
    draws = [naive_indices(rng.choice(x, size=len(x), replace=True)) for _ in range(resamples)]
    frame = pd.DataFrame(draws)
    low, high = frame.quantile(0.025), frame.quantile(0.975)
    return pd.Series({**{f"{k}": v for k, v in estimates.items()}, **{f"{k}_low": v for k, v in low.items()},
                      **{f"{k}_high": v for k, v in high.items()}})


# --------------------------------------------------------------------------- main


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def timed(label: str, function):
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    print(f"  {label:<58} {wall:8.2f} s wall  {used:8.2f} s CPU  peak RSS {peak_rss_gb():5.2f} GB", flush=True)
    return result, wall


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--naive-cells", type=int, default=4, help="cells timed the naive way")
    parser.add_argument("--naive-resamples", type=int, default=20,
                        help="resamples per naive cell, extrapolated to --bootstrap")
    parser.add_argument("--skip-participant-parts", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    scale = Scale(1, K)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {os.cpu_count()}, load average at start: {load:.2f}, numpy {np.__version__}, "
          f"pandas {pd.__version__}")

    print(f"\nsynthetic panel: {options.participants:,} participants x {options.waves} waves x "
          f"{options.items} items, {K}-point, 2 groups, 2% missing")
    answers, _ = timed("build the DataFrame", lambda: synthetic_panel(
        options.participants, options.waves, options.items, options.seed))
    print(f"  {len(answers):,} answers, {answers.memory_usage(deep=True).sum() / 1024**2:,.0f} MiB")

    print(f"\n1. count-based indices, every cell, {options.bootstrap} multinomial resamples")
    _, tables_only = timed("count tables + estimates, no bootstrap", lambda: compute_index_table(
        answers, scales=scale, by=["side"], bootstrap=0, participant_indices=()))
    table, ours = timed(f"count tables + estimates + {options.bootstrap} resamples per cell",
                        lambda: compute_index_table(answers, scales=scale, by=["side"],
                                                    bootstrap=options.bootstrap, participant_indices=()))
    frame = table.frame
    cells = frame[frame["index"] == "n"].shape[0]
    pair_cells = frame[(frame["index"] == "group_gap")].shape[0]
    per_cell = ours / (cells + pair_cells)
    print(f"  {cells} group cells + {pair_cells} pair cells = {cells + pair_cells} cells; "
          f"{1000 * per_cell:.2f} ms per cell (with {len(frame):,} records)")

    print(f"\n2. naive pandas: groupby(wave, item, side).apply(resample raw answers, recompute), "
          f"{options.naive_cells} cells x {options.naive_resamples} resamples")
    first = answers[(answers["wave"] == 1) & (answers["item"].isin(["q1", "q2"]))]
    rng = np.random.default_rng(0)
    subsample = first[first["item"].cat.codes < max(1, options.naive_cells // 2)]
    groups = subsample.groupby(["wave", "item", "side"], observed=True)["value"]
    n_cells = groups.ngroups
    _, naive = timed("naive groupby-apply", lambda: groups.apply(
        lambda values: naive_cell(values, options.naive_resamples, rng)))
    naive_per_cell = naive / n_cells * options.bootstrap / options.naive_resamples
    print(f"  {n_cells} cells of ~{len(subsample) // max(1, n_cells):,} answers: "
          f"{naive / n_cells:.2f} s per cell for {options.naive_resamples} resamples -> "
          f"{naive_per_cell:.1f} s per cell for {options.bootstrap} resamples (extrapolated)")
    print(f"  naive per cell / ours per cell: {naive_per_cell / per_cell:,.0f}x "
          f"(ours: {1000 * per_cell:.2f} ms per cell incl. count tables)")
    estimate = naive_indices(first.loc[(first["item"] == "q1") & (first["side"] == "left"), "value"].dropna()
                             .to_numpy())
    check = frame[(frame["wave"] == 1) & (frame["item"] == "q1") & (frame["group"] == "side:left")]
    worst = max(abs(check.loc[check["index"] == name, "value"].item() - value) for name, value in estimate.items())
    print(f"  largest difference between the two on the estimates of one cell: {worst:.2e}")

    if not options.skip_participant_parts:
        print(f"\n3. participant resampling ({options.bootstrap} resamples of participants per wave), "
              f"without the per-cell rows")
        results = {}
        for parts in (("pooled",), ("constraint",), ("alignment",), ("pooled", "constraint", "alignment")):
            label = " + ".join(parts) if len(parts) > 1 else parts[0]
            _, results[label] = timed(label, lambda parts=parts: compute_index_table(
                answers, scales=scale, by=["side"], bootstrap=options.bootstrap, participant_indices=parts,
                per_cell=False))
        print(f"  (count tables alone take {tables_only:.2f} s of each)")

    print(f"\npeak RSS of the whole run: {peak_rss_gb():.2f} GB; "
          f"load average at the end: {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f}")


if __name__ == "__main__":
    main()
