"""How often the 95% intervals of each index cover the truth, and which cells to flag.

:func:`coverage_study` simulates, for every count-based index, samples of n = 50, 300 and
2,000 answers from populations with and without tied category shares, bootstraps each sample
as the platform does (multinomial resamples of its counts) and counts how often the percentile
and the BCa interval (:mod:`analysis.stats.intervals`) hold the population's value. Pair
indices draw n answers per group. ``tests/analysis/stats/test_coverage.py`` runs it as a
``calibration`` test and checks :data:`COVERAGE` (the table in docs/indices.md) against it.

:data:`INTERVAL_METHOD` is the interval the index table uses per index (BCa where the study
showed it brings coverage nearer 0.95, percentile elsewhere). :func:`under_covered` is the rule
the dashboards use to mark a cell: its index's interval covered less than
:data:`FLAG_BELOW` in some studied population at the largest studied size not above the
cell's n (and always below the smallest studied size).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.stats import indices as ix
from analysis.stats import intervals
from analysis.stats.bootstrap import percentile_interval

SIZES = (50, 300, 2000)
PAIR_INDICES = frozenset(ix.PAIR_INDICES)
FLAG_BELOW = 0.93
TARGET = (0.93, 0.97)

#: Category shares of the simulated populations (5-point scale).
CELL_POPULATIONS: dict[str, tuple[float, ...]] = {
    "skewed, no ties": (0.05, 0.15, 0.40, 0.28, 0.12),
    "polarized, tied shares": (0.30, 0.10, 0.20, 0.10, 0.30),
    "uniform": (0.20, 0.20, 0.20, 0.20, 0.20),
}
#: Groups A and B of the pair populations.
PAIR_POPULATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "different, no ties": ((0.05, 0.15, 0.40, 0.28, 0.12), (0.12, 0.28, 0.40, 0.15, 0.05)),
    "tied shares": ((0.20, 0.20, 0.20, 0.20, 0.20), (0.30, 0.10, 0.20, 0.10, 0.30)),
}
_HUGE = 1e12  # population counts: every small-sample correction in n vanishes


def _cell_statistic(counts: np.ndarray) -> dict[str, np.ndarray]:
    found = ix.cell_indices(counts)
    del found["n"]
    return found


def _pair_statistic(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    return ix.pair_indices(a, b)


def _covered(interval, truth) -> np.ndarray:
    return (interval.low <= truth + 1e-12) & (truth - 1e-12 <= interval.high)


def _study_one(draw, statistic, jackknife, truth: dict, simulations: int, resamples: int, level: float,
               rng: np.random.Generator) -> list[dict]:
    """Coverage of both intervals for every index of ``statistic`` over ``simulations`` samples."""
    sample = draw(simulations)  # tuple of (S, k) count arrays (one per group)
    observed = statistic(*sample)
    jack_values, jack_weights = jackknife(*sample)
    boot: dict[str, list] = {}
    step = max(1, 2**21 // (simulations * sample[0].shape[-1] * len(sample)))
    done = 0
    while done < resamples:
        size = min(step, resamples - done)
        resampled = []
        for counts in sample:
            n = counts.sum(axis=-1).astype(np.int64)
            resampled.append(rng.multinomial(n, counts / n[:, None], size=(size, len(n))).astype(float))
        for name, value in statistic(*resampled).items():
            boot.setdefault(name, []).append(value)
        done += size
    rows = []
    for name, parts in boot.items():
        samples = np.concatenate(parts)
        defined = np.isfinite(observed[name])
        percentile = percentile_interval(samples, level)
        bca = intervals.bca_interval(samples, observed[name], jack_values[name], jack_weights, level)
        for method, interval in ((intervals.PERCENTILE, percentile), (intervals.BCA, bca)):
            hit = _covered(interval, truth[name])
            rows.append({"index": name, "method": method, "coverage": float(hit[defined].mean()) if defined.any()
                         else np.nan, "defined": int(defined.sum())})
    return rows


def coverage_study(*, sizes: Iterable[int] = SIZES, simulations: int = 1000, resamples: int = 1000,
                   level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Coverage of the percentile and BCa intervals of every count-based index.

    Rows ``{index, family, population, n, method, coverage, defined}``: ``defined`` samples had
    a defined estimate (``bimodality`` needs spread); coverage is over those. Monte Carlo SE
    of a coverage near 0.95 is sqrt(0.95 * 0.05 / simulations) (0.007 for 1,000).
    """
    rows = []
    root = np.random.SeedSequence(seed)
    streams = iter(root.spawn(64))
    for n in sizes:
        for population, shares in CELL_POPULATIONS.items():
            rng = np.random.default_rng(next(streams))
            p = np.asarray(shares)
            truth = _cell_statistic(p * _HUGE)

            def draw(s, rng=rng, p=p, n=n):
                return (rng.multinomial(n, p, size=s).astype(float),)

            def jackknife(counts):
                return intervals.count_jackknife_values(counts, _cell_statistic)

            for row in _study_one(draw, _cell_statistic, jackknife, truth, simulations, resamples, level, rng):
                rows.append({**row, "family": "cell", "population": population, "n": n})
        for population, (shares_a, shares_b) in PAIR_POPULATIONS.items():
            rng = np.random.default_rng(next(streams))
            pa, pb = np.asarray(shares_a), np.asarray(shares_b)
            truth = _pair_statistic(pa * _HUGE, pb * _HUGE)

            def draw(s, rng=rng, pa=pa, pb=pb, n=n):
                return rng.multinomial(n, pa, size=s).astype(float), rng.multinomial(n, pb, size=s).astype(float)

            def jackknife(a, b):
                return intervals.pair_jackknife_values(a, b, _pair_statistic)

            for row in _study_one(draw, _pair_statistic, jackknife, truth, simulations, resamples, level, rng):
                rows.append({**row, "family": "pair", "population": population, "n": n})
    columns = ["index", "family", "population", "n", "method", "coverage", "defined"]
    return pd.DataFrame(rows, columns=columns)


#: Per participant-level population: the shares of the 3-point answers in groups A and B (half
#: the participants each; three items, independent given the group).
PARTICIPANT_POPULATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mirrored groups, no ties": ((0.6, 0.3, 0.1), (0.1, 0.3, 0.6)),
    "tied shares": ((0.4, 0.2, 0.4), (0.1, 0.3, 0.6)),
}


def _participant_truth(shares_a, shares_b) -> dict[str, float]:
    """Population values of pooled mean (0-1 scale), constraint and alignment: items are
    independent given the group, so cov(item, item) is the variance of the group means."""
    points = np.array([1.0, 2.0, 3.0])
    a, b = np.asarray(shares_a), np.asarray(shares_b)
    mean_a, mean_b = a @ points, b @ points
    within = ((a @ points**2 - mean_a**2) + (b @ points**2 - mean_b**2)) / 2
    between = ((mean_a - mean_b) / 2) ** 2
    return {"mean": ((mean_a + mean_b) / 2 - 1) / 2, "constraint": between / (between + within),
            "alignment": float(np.sqrt(between / (between + within)))}


def participant_coverage_study(*, sizes: Iterable[int] = SIZES, simulations: int = 200, resamples: int = 400,
                               level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Coverage of the participant-resampling (percentile) intervals of the pooled ``mean``,
    ``constraint`` and ``alignment``: each simulated sample is one wave of
    :func:`analysis.stats.tables.compute_index_table`. Rows ``{index, family, population, n,
    method, coverage, defined}``."""
    from analysis.stats.tables import Scale, compute_index_table  # tables imports this module

    rows = []
    root = np.random.SeedSequence([seed, 7])
    streams = iter(root.spawn(64))
    keys = {"mean": "all", "constraint": "all", "alignment": "side:A|side:B"}
    for n in sizes:
        for population, (shares_a, shares_b) in PARTICIPANT_POPULATIONS.items():
            rng = np.random.default_rng(next(streams))
            group = rng.integers(0, 2, size=(simulations, n))
            u = rng.random((simulations, n, 3))
            cumulative = np.where(group[..., None, None] == 0, np.cumsum(shares_a), np.cumsum(shares_b))
            answer = 1 + (u[..., None] >= cumulative[..., :2]).sum(axis=-1)
            w, p, i = np.meshgrid(np.arange(simulations), np.arange(n), np.arange(3), indexing="ij")
            answers = pd.DataFrame({
                "participant": p.ravel(), "wave": w.ravel(), "item": np.array(["a", "b", "c"])[i.ravel()],
                "value": answer.ravel().astype(float), "side": np.array(["A", "B"])[np.repeat(group.ravel(), 3)],
            })
            table = compute_index_table(answers, scales=Scale(1, 3), by=["side"], bootstrap=resamples,
                                        seed=int(rng.integers(2**31)), level=level, per_cell=False).frame
            truth = _participant_truth(shares_a, shares_b)
            for name, group_key in keys.items():
                found = table[table["item"].isna() & (table["index"] == name) & (table["group"] == group_key)]
                defined = found["value"].notna()
                hit = (found["ci_low"] <= truth[name] + 1e-12) & (truth[name] - 1e-12 <= found["ci_high"])
                rows.append({"index": name if name != "mean" else "mean (pooled)", "family": "participant",
                             "population": population, "n": n, "method": "percentile",
                             "coverage": float(hit[defined].mean()), "defined": int(defined.sum())})
    columns = ["index", "family", "population", "n", "method", "coverage", "defined"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- the platform's choice

B, P = intervals.BCA, intervals.PERCENTILE
#: The interval the index table uses per count-based index: the one with the higher worst
#: coverage in the study, or the one that stays within 0.93..0.97 (Leik's percentile interval
#: over-covers, 0.977, at n = 50); docs/indices.md has the table. Participant-level rows (pooled,
#: constraint, alignment) use percentile intervals.
INTERVAL_METHOD: dict[str, str] = {
    "mean": P, "sd": B, "mad_pairwise": B, "agreement_a": B, "leik_d": B, "tw_consensus": B,
    "entropy_norm": B, "bimodality": P, "esteban_ray": B,
    "group_gap": P, "cohens_d": P, "wasserstein": B, "overlap": B,
}

#: Worst coverage of the platform's interval per index and studied size, over the studied
#: populations whose value lies inside the index's range (a population at an end of the range,
#: e.g. the entropy 1 of a uniform answer, cannot be covered by any resampling interval and is
#: reported separately in docs/indices.md). From ``coverage_study(simulations=1000,
#: resamples=1000, seed=1)`` and ``participant_coverage_study(simulations=200, resamples=400,
#: seed=1)``; tests/analysis/stats/test_coverage.py checks them against a fresh run.
COVERAGE: dict[str, dict[int, float]] = {
    "mean": {50: 0.926, 300: 0.936, 2000: 0.950},
    "sd": {50: 0.937, 300: 0.951, 2000: 0.936},
    "mad_pairwise": {50: 0.932, 300: 0.949, 2000: 0.938},
    "agreement_a": {50: 0.795, 300: 0.854, 2000: 0.859},
    "leik_d": {50: 0.943, 300: 0.942, 2000: 0.946},
    "tw_consensus": {50: 0.936, 300: 0.935, 2000: 0.938},
    "entropy_norm": {50: 0.878, 300: 0.948, 2000: 0.934},
    "bimodality": {50: 0.817, 300: 0.928, 2000: 0.941},
    "esteban_ray": {50: 0.852, 300: 0.929, 2000: 0.926},
    "group_gap": {50: 0.949, 300: 0.938, 2000: 0.939},
    "cohens_d": {50: 0.949, 300: 0.938, 2000: 0.939},
    "wasserstein": {50: 0.799, 300: 0.838, 2000: 0.838},
    "overlap": {50: 0.885, 300: 0.936, 2000: 0.929},
}
#: The same for rows pooled over items (``item`` null) that the participant study covers.
POOLED_COVERAGE: dict[str, dict[int, float]] = {
    "mean": {50: 0.940, 300: 0.925, 2000: 0.930},
    "constraint": {50: 0.800, 300: 0.935, 2000: 0.940},
    "alignment": {50: 0.925, 300: 0.925, 2000: 0.925},
}
#: (index, population) pairs whose population value is at an end of the index's range.
AT_BOUND = frozenset({("entropy_norm", "uniform")})


def coverage_of(index: str, n: int, *, pooled: bool = False) -> float | None:
    """The studied worst coverage of ``index`` at the largest studied size not above ``n``
    (None: not studied, or n below the smallest studied size)."""
    table = POOLED_COVERAGE.get(index) if pooled else None
    table = table or COVERAGE.get(index)
    if table is None or n is None or n < min(table):
        return None
    return table[max(size for size in table if size <= n)]


def under_covered(index: str, n: int, *, pooled: bool = False) -> bool:
    """Whether a cell of ``index`` with ``n`` answers (participants for ``pooled`` rows; n_A + n_B
    for a pair, taken as n / 2 per group as in the study) is to be marked: its interval covered
    less than :data:`FLAG_BELOW` in the study at the largest studied size not above n, or n is below the smallest studied size (50). Indices
    the study does not cover (``n``, the text indices) are never marked. Pooled rows of cell
    indices not in :data:`POOLED_COVERAGE` follow their per-cell entry."""
    if index not in COVERAGE and index not in POOLED_COVERAGE:
        return False
    if n is None or (isinstance(n, float) and not np.isfinite(n)):
        return False
    size = int(n)
    if index in PAIR_INDICES:  # the study drew n answers per group; a pair row's n is n_A + n_B
        size //= 2
    found = coverage_of(index, size, pooled=pooled)
    return found is None or found < FLAG_BELOW


def under_covered_mask(frame: pd.DataFrame) -> pd.Series:
    """:func:`under_covered` for every row of a frame with columns ``index``, ``n`` and ``item``
    (``item`` null = pooled), e.g. an index table or stored ``IndexResult`` rows."""
    pooled = frame["item"].isna() if "item" in frame else pd.Series(False, index=frame.index)
    return pd.Series([under_covered(index, n, pooled=bool(p)) for index, n, p in
                      zip(frame["index"], frame["n"], pooled, strict=True)], index=frame.index, dtype=bool)
