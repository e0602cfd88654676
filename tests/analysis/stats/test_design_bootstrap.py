"""Replicate weights: the expanded file's bootstrap and Rao-Wu rescaling; coverage by simulation
from a known finite population (calibration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import indices as ix
from analysis.stats.design_bootstrap import DesignError, replicate_weights
from analysis.stats.tables import Scale
from analysis.stats.weighted import weighted_index_table


def test_frequency_replicates_draw_the_expanded_people():
    weights = np.array([1.0, 3.0, 6.0])
    draws = np.concatenate(list(replicate_weights(weights, 4000, np.random.default_rng(0), kind="frequency",
                                                  chunk=500)))
    assert draws.shape == (4000, 3)
    assert (draws.sum(axis=1) == 10).all()  # N = sum of the weights people per resample
    np.testing.assert_allclose(draws.mean(axis=0), weights, rtol=0.05)
    # Var of a multinomial count: N p (1 - p).
    np.testing.assert_allclose(draws.var(axis=0), 10 * weights / 10 * (1 - weights / 10), rtol=0.1)


def test_rao_wu_replicates_are_unbiased_and_keep_clusters_together():
    weights = np.array([2.0, 2.0, 1.0, 1.0, 5.0, 5.0, 5.0])
    strata = np.array(["a", "a", "a", "a", "b", "b", "b"])
    clusters = np.array([1, 1, 2, 3, 1, 2, 2])
    draws = np.concatenate(list(replicate_weights(weights, 20000, np.random.default_rng(1), strata=strata,
                                                  clusters=clusters, chunk=1000)))
    # E[r_hi] n_h/(n_h-1) = 1: the replicate weights average to the weights.
    np.testing.assert_allclose(draws.mean(axis=0), weights, rtol=0.03)
    # Members of one PSU move together; in stratum a (3 PSUs) each PSU is drawn 0, 1 or 2 times of 2.
    ratio = draws / weights
    assert (ratio[:, 0] == ratio[:, 1]).all() and (ratio[:, 5] == ratio[:, 6]).all()
    assert set(np.unique(ratio[:, 2])) == {0.0, 1.5, 3.0}


def test_a_stratum_with_one_psu_is_refused():
    with pytest.raises(DesignError, match="stratum b has a single PSU"):
        list(replicate_weights(np.ones(3), 5, np.random.default_rng(0), strata=np.array(["a", "a", "b"])))


def _population(rng):
    """A finite population: 8 strata of unequal size, clusters of 40 people whose attitudes
    (1..5) share a cluster effect, so that clustering matters for the variance."""
    rows = []
    for h in range(8):
        for c in range(10 + 6 * h):
            shift = rng.normal(0.3 * h / 8, 0.8)
            latent = shift + rng.normal(0, 1, 40)
            values = np.clip(np.round(3 + latent), 1, 5)
            rows.extend((h, f"{h}-{c}", v) for v in values)
    return pd.DataFrame(rows, columns=["stratum", "psu", "value"])


def _sample(population, rng, clusters_per_stratum=5, people_per_cluster=8):
    parts = []
    for _h, stratum in population.groupby("stratum"):
        psus = stratum["psu"].unique()
        chosen = rng.choice(psus, clusters_per_stratum, replace=False)
        for psu in chosen:
            members = stratum[stratum["psu"] == psu]
            picked = members.sample(people_per_cluster, random_state=int(rng.integers(2**31)))
            weight = len(psus) / clusters_per_stratum * len(members) / people_per_cluster
            parts.append(picked.assign(weight=weight))
    sample = pd.concat(parts, ignore_index=True)
    return sample.assign(participant=np.arange(len(sample)), wave=1, item="q")


@pytest.mark.calibration
def test_rao_wu_intervals_cover_the_finite_population_values():
    rng = np.random.default_rng(2024)
    population = _population(rng)
    counts = np.bincount(population["value"].astype(int) - 1, minlength=5)
    truth = {"mean": float(population["value"].mean()), "leik_d": float(ix.leik_d(counts))}
    covered = {name: 0 for name in truth}
    naive = 0
    runs = 150
    for run in range(runs):
        sample = _sample(population, rng)
        table = weighted_index_table(sample, scales=Scale(1, 5), kind="sampling", strata="stratum", cluster="psu",
                                     bootstrap=300, seed=run, participant_indices=()).frame
        for name, value in truth.items():
            row = table[(table["item"] == "q") & (table["group"] == "all") & (table["index"] == name)].iloc[0]
            covered[name] += row["ci_low"] <= value <= row["ci_high"]
        plain = weighted_index_table(sample, scales=Scale(1, 5), kind="sampling", bootstrap=300, seed=run,
                                     participant_indices=()).frame
        row = plain[(plain["item"] == "q") & (plain["group"] == "all") & (plain["index"] == "mean")].iloc[0]
        naive += row["ci_low"] <= truth["mean"] <= row["ci_high"]
    for name, hits in covered.items():
        assert 0.88 <= hits / runs <= 0.99, (name, hits / runs)
    # Ignoring the clusters gives too narrow intervals here (intra-cluster correlation ~0.4).
    assert naive / runs < covered["mean"] / runs - 0.1
