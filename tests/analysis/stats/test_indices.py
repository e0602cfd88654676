"""Per-cell and between-group indices: published values, slow references, properties."""

import math
from itertools import combinations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats import indices as ix

AGRMT_EXAMPLE = [30, 40, 210, 130, 530, 50, 10]
ALPHA = 1.6
FAST = settings(max_examples=25, deadline=None)

# --------------------------------------------------------------------------- slow references


def raw(counts) -> np.ndarray:
    """The answers behind a count vector, categories 1..k."""
    return np.repeat(np.arange(1, len(counts) + 1), np.asarray(counts, dtype=int)).astype(float)


def agreement_reference(frequencies) -> float:
    """van der Eijk (2001) written out: peel off layers (subtract the smallest non-zero
    proportion from every non-empty category), count the triples of each layer's pattern."""
    p = np.asarray(frequencies, float) / np.sum(frequencies)
    k = len(p)
    total = 0.0
    while p.max() > 1e-12:
        nonzero = p > 1e-12
        smallest = p[nonzero].min()
        pattern = nonzero.astype(int)
        tu = tdu = 0
        for i, j, l_ in combinations(range(k), 3):
            triple = (pattern[i], pattern[j], pattern[l_])
            tu += triple in ((1, 1, 0), (0, 1, 1))
            tdu += triple == (1, 0, 1)
        u = 1.0 if tu + tdu == 0 else ((k - 2) * tu - (k - 1) * tdu) / ((k - 2) * (tu + tdu))
        s = pattern.sum()
        total += smallest * s * u * (1 - (s - 1) / (k - 1))
        p = np.where(nonzero, p - smallest, 0.0)
    return total


def mad_reference(counts) -> float:
    x = raw(counts)
    n = len(x)
    differences = [abs(x[i] - x[j]) for i in range(n) for j in range(n) if i != j]
    return float(np.mean(differences)) / (len(counts) - 1)


def leik_reference(counts) -> float:
    p = np.asarray(counts, float) / np.sum(counts)
    cumulative, total = 0.0, 0.0
    for i in range(len(p) - 1):
        cumulative += p[i]
        total += min(cumulative, 1 - cumulative)
    return 2 * total / (len(p) - 1)


def tw_reference(counts) -> float:
    p = np.asarray(counts, float) / np.sum(counts)
    k = len(p)
    mu = sum((i + 1) * p[i] for i in range(k))
    return 1 + sum(p[i] * math.log2(1 - abs(i + 1 - mu) / (k - 1)) for i in range(k) if p[i] > 0)


def esteban_ray_reference(counts, alpha=ALPHA) -> float:
    p = np.asarray(counts, float) / np.sum(counts)
    k = len(p)
    y = [i / (k - 1) for i in range(k)]
    return sum(p[i] ** (1 + alpha) * p[j] * abs(y[i] - y[j]) for i in range(k) for j in range(k))


def bimodality_reference(counts) -> float:
    x = raw(counts)
    n = len(x)
    g1 = scipy.stats.skew(x, bias=False)
    g2 = scipy.stats.kurtosis(x, bias=False)
    return (g1**2 + 1) / (g2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def cohens_d_reference(a, b) -> float:
    x, y = raw(a), raw(b)
    pooled = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return (x.mean() - y.mean()) / pooled


def eta_reference(groups) -> float:
    """Correlation ratio from the raw answers of each group."""
    values = [raw(g) for g in groups if np.sum(g) > 0]
    everyone = np.concatenate(values)
    between = sum(len(v) * (v.mean() - everyone.mean()) ** 2 for v in values)
    return math.sqrt(between / ((everyone - everyone.mean()) ** 2).sum())


# --------------------------------------------------------------------------- published values


def test_agreement_a_matches_the_agrmt_documentation_example():
    # van der Eijk (2001); R package agrmt, documentation of agreement(): 0.611333
    assert ix.agreement_a(AGRMT_EXAMPLE) == pytest.approx(0.611333, abs=1e-6)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        # van der Eijk (2001), left-right placement of the PvdA (agrmt vignette shows 0.61)
        ([2.4, 2.8, 3.2, 6.2, 13.5, 30.4, 41.6], 0.6097),
        # van der Eijk (2001), D66 (agrmt vignette shows 0.48)
        ([1.6, 2.6, 8.2, 21, 29.3, 27, 10.3], 0.4823),
    ],
)
def test_agreement_a_matches_van_der_eijk_party_placements(percent, expected):
    assert ix.agreement_a(percent) == pytest.approx(expected, abs=5e-5)


def test_agreement_a_is_minus_one_for_perfect_polarization_and_zero_for_uniform():
    # Definition (van der Eijk 2001): two equal poles -1, uniform 0 for any k.
    assert ix.agreement_a([50, 0, 0, 0, 50]) == pytest.approx(-1.0)
    for k in (3, 5, 7, 11, 15):
        assert ix.agreement_a([20] * k) == pytest.approx(0.0, abs=1e-12)


def test_agreement_a_uses_proportions_so_huge_counts_give_the_right_value():
    # agrmt returns 0.4 for 2e7, 3e7, 0; the value for 2, 3, 0 is 0.6 (reference file pitfall).
    assert ix.agreement_a([2, 3, 0]) == pytest.approx(0.6)
    assert ix.agreement_a([2e7, 3e7, 0]) == pytest.approx(0.6)
    assert ix.agreement_a([2e12, 3e12, 0]) == pytest.approx(0.6)


def test_leik_d_matches_the_agrmt_documentation_example():
    # Leik (1966); agrmt documentation of Leik(), same vector: 0.286667
    assert ix.leik_d(AGRMT_EXAMPLE) == pytest.approx(0.286667, abs=1e-6)


def test_tw_consensus_matches_the_agrmt_documentation_example():
    # Tastle & Wierman (2007); agrmt documentation of consensus(), same vector: 0.725688
    assert ix.tw_consensus(AGRMT_EXAMPLE) == pytest.approx(0.725688, abs=1e-6)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([3, 5, 5, 10, 17, 20, 17, 10, 5, 5, 3], 0.33606),  # Pfister et al. (2013), reported .34
        ([2, 26, 14, 6, 2, 0, 2, 6, 14, 26, 2], 0.79469),  # Pfister et al. (2013), reported .79
    ],
)
def test_bimodality_matches_pfister_et_al(counts, expected):
    assert ix.bimodality(counts) == pytest.approx(expected, abs=5e-6)


def test_bimodality_uses_bias_corrected_moments_not_the_biased_ones():
    # Plugging the biased skewness/kurtosis into the same formula gives 0.7755 on the second
    # Pfister example (reference file pitfall); the bias-corrected ones give 0.7947.
    x = raw([2, 26, 14, 6, 2, 0, 2, 6, 14, 26, 2])
    n = len(x)
    biased = (scipy.stats.skew(x) ** 2 + 1) / (scipy.stats.kurtosis(x) + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert biased == pytest.approx(0.7755, abs=1e-4)
    assert ix.bimodality([2, 26, 14, 6, 2, 0, 2, 6, 14, 26, 2]) == pytest.approx(0.79469, abs=5e-6)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # p = (.5, 0, .5), y = (0, .5, 1): 2 * .5**2.6 * .5 * 1 = .5**2.6
        ([1, 0, 1], 0.5**2.6),
        # p = (.5, .5, 0): 2 * .5**2.6 * .5 * .5 = .5**3.6
        ([1, 1, 0], 0.5**3.6),
        # p = (.5, .25, .25), y = (0, .5, 1):
        #   .5**2.6 * (.25 * .5 + .25 * 1) + .25**2.6 * (.5 * .5 + .25 * .5) + .25**2.6 * (.5 * 1 + .25 * .5)
        ([2, 1, 1], 0.5**2.6 * 0.375 + 0.25**2.6 * 0.375 + 0.25**2.6 * 0.625),
        # uniform over 5: .2**3.6 * (sum over ordered pairs of |y_i - y_j| = 10)
        ([1, 1, 1, 1, 1], 0.2**3.6 * 10),
    ],
)
def test_esteban_ray_matches_hand_computed_values(counts, expected):
    assert ix.esteban_ray(counts) == pytest.approx(expected, rel=1e-12)


def test_esteban_ray_with_alpha_zero_is_the_gini_mean_difference():
    counts = [3, 1, 4, 1, 5]
    p = np.array(counts) / sum(counts)
    y = np.arange(5) / 4
    gini = sum(p[i] * p[j] * abs(y[i] - y[j]) for i in range(5) for j in range(5))
    assert ix.esteban_ray(counts, alpha=0.0) == pytest.approx(gini)


# --------------------------------------------------------------------------- extremes table

K5_N100 = {
    # k = 5, n = 100: all in category 3 / 50 at 1 and 50 at 5 / 20 in each category.
    # sd: half at each end 2 * sqrt(100/99); uniform sqrt(2 * 100/99).
    # mad_pairwise: n / (2(n-1)) = 100/198; uniform 2 n/(n-1) * sum F(1-F) / 4 with sum F(1-F) = .8.
    # bimodality: half at each end (n-2)(n-3)/(n^2-1); uniform 1 / (G2 + 3 (n-1)^2/((n-2)(n-3)))
    #   with m2 = 2, m4 = 6.8, g2 = -1.3, G2 = ((n+1) g2 + 6)(n-1)/((n-2)(n-3)).
    # tw_consensus uniform: 1 + .2 * 2 * (log2(1/2) + log2(3/4)).
    "n": (100, 100, 100),
    "mean": (3, 3, 3),
    "sd": (0, 2 * math.sqrt(100 / 99), math.sqrt(200 / 99)),
    "mad_pairwise": (0, 100 / 198, 2 * 100 / 99 * 0.8 / 4),
    "agreement_a": (1, -1, 0),
    "leik_d": (0, 1, 6 / 10),
    "tw_consensus": (1, 0, 1 + 0.4 * (math.log2(0.5) + math.log2(0.75))),
    "entropy_norm": (0, math.log(2) / math.log(5), 1),
    "bimodality": (
        math.nan,
        98 * 97 / 9999,
        1 / ((101 * -1.3 + 6) * 99 / (98 * 97) + 3 * 99**2 / (98 * 97)),
    ),
    "esteban_ray": (0, 0.5**2.6, 0.2**3.6 * 10),
}
SHAPES_K5 = ([0, 0, 100, 0, 0], [50, 0, 0, 0, 50], [20] * 5)


@pytest.mark.parametrize("name", ix.CELL_INDICES)
def test_each_index_at_one_category_two_poles_and_uniform_on_five_points(name):
    values = ix.cell_indices(np.array(SHAPES_K5))[name]
    np.testing.assert_allclose(values, K5_N100[name], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_extremes_follow_the_general_formulas_for_any_k():
    for k in range(3, 12):
        one = np.zeros(k)
        one[k // 2] = 40
        poles = np.zeros(k)
        poles[[0, -1]] = 20
        uniform = np.full(k, 40.0 / k)
        assert ix.agreement_a([one, poles, uniform]) == pytest.approx([1, -1, 0], abs=1e-12)
        assert ix.entropy_norm([one, poles, uniform]) == pytest.approx([0, math.log(2) / math.log(k), 1])
        assert ix.tw_consensus([one, poles]) == pytest.approx([1, 0], abs=1e-12)
        # Leik's uniform value is (k+1)/(2k) for odd k and k/(2(k-1)) for even k.
        uniform_leik = (k + 1) / (2 * k) if k % 2 else k / (2 * (k - 1))
        assert ix.leik_d([one, poles, uniform]) == pytest.approx([0, 1, uniform_leik])
        assert ix.esteban_ray(poles) == pytest.approx(0.5 ** (1 + ALPHA))


def test_tw_consensus_of_a_uniform_answer_grows_with_k_as_the_reference_says():
    # Reference file: a uniform answer gives consensus 0.333 (k=3) to 0.504 (k=11).
    assert ix.tw_consensus([1] * 3) == pytest.approx(1 / 3)
    assert ix.tw_consensus([1] * 11) == pytest.approx(0.504, abs=5e-4)


# --------------------------------------------------------------------------- edge cases


def test_an_empty_cell_gives_nan_for_everything_but_n():
    values = ix.cell_indices([0, 0, 0, 0, 0])
    assert values["n"] == 0
    assert all(np.isnan(values[name]) for name in ix.CELL_INDICES if name != "n")


def test_a_single_answer_has_a_mean_and_full_agreement_but_no_spread_statistics():
    values = ix.cell_indices([0, 0, 1, 0, 0], values=[10, 20, 30, 40, 50])
    assert values["mean"] == 30
    assert np.isnan(values["sd"]) and np.isnan(values["mad_pairwise"]) and np.isnan(values["bimodality"])
    assert (values["agreement_a"], values["leik_d"], values["tw_consensus"]) == (1, 0, 1)
    assert (values["entropy_norm"], values["esteban_ray"]) == (0, 0)


def test_a_single_category_has_zero_spread_and_undefined_bimodality():
    values = ix.cell_indices([0, 7, 0])
    assert (values["sd"], values["mad_pairwise"], values["leik_d"], values["esteban_ray"]) == (0, 0, 0, 0)
    assert values["agreement_a"] == 1 and values["tw_consensus"] == 1
    assert np.isnan(values["bimodality"])


def test_bimodality_needs_four_answers():
    assert np.isnan(ix.bimodality([1, 1, 1]))
    assert ix.bimodality([2, 1, 1]) == pytest.approx(bimodality_reference([2, 1, 1]))


def test_two_point_scales_have_no_triples_so_agreement_is_the_absolute_difference():
    assert ix.agreement_a([[7, 3], [5, 5], [10, 0], [0, 4]]) == pytest.approx([0.4, 0.0, 1.0, 1.0])
    values = ix.cell_indices([50, 50])
    assert values["leik_d"] == 1 and values["tw_consensus"] == 0 and values["entropy_norm"] == 1
    assert values["mad_pairwise"] == pytest.approx(100 / 198)
    assert values["bimodality"] == pytest.approx(98 * 97 / 9999)
    assert values["esteban_ray"] == pytest.approx(0.5**2.6)


def test_it_rejects_fewer_than_two_categories_and_negative_counts():
    with pytest.raises(ValueError, match="k = 2"):
        ix.agreement_a([5])
    with pytest.raises(ValueError, match="non-negative"):
        ix.leik_d([3, -1, 2])


def test_pair_indices_are_undefined_when_a_group_is_empty():
    values = ix.pair_indices([0, 0, 0], [1, 2, 3])
    assert all(np.isnan(v) for v in values.values())


def test_cohens_d_is_undefined_without_spread():
    assert np.isnan(ix.cohens_d([4, 0, 0], [0, 0, 3]))
    assert np.isnan(ix.cohens_d([1, 0, 0], [0, 0, 1]))  # n_A + n_B - 2 = 0


# --------------------------------------------------------------------------- against references

counts_vectors = st.integers(2, 8).flatmap(
    lambda k: st.lists(st.integers(0, 12), min_size=k, max_size=k).filter(lambda c: sum(c) >= 2)
)


@FAST
@given(counts_vectors)
def test_cell_indices_match_slow_references(counts):
    x = raw(counts)
    k = len(counts)
    values = ix.cell_indices(counts)
    assert values["n"] == len(x)
    assert values["mean"] == pytest.approx(x.mean())
    assert values["sd"] == pytest.approx(x.std(ddof=1), abs=1e-12)
    assert values["mad_pairwise"] == pytest.approx(mad_reference(counts), abs=1e-12)
    assert values["agreement_a"] == pytest.approx(agreement_reference(counts), abs=1e-9)
    assert values["leik_d"] == pytest.approx(leik_reference(counts), abs=1e-12)
    assert values["tw_consensus"] == pytest.approx(tw_reference(counts), abs=1e-12)
    assert values["entropy_norm"] == pytest.approx(scipy.stats.entropy(np.array(counts) / len(x)) / math.log(k),
                                                   abs=1e-12)
    assert values["esteban_ray"] == pytest.approx(esteban_ray_reference(counts), abs=1e-12)
    if len(x) >= 4 and x.var() > 0:
        assert values["bimodality"] == pytest.approx(bimodality_reference(counts), rel=1e-9)
    else:
        assert np.isnan(values["bimodality"])


@FAST
@given(st.integers(2, 8).flatmap(lambda k: st.tuples(
    st.lists(st.integers(0, 10), min_size=k, max_size=k).filter(lambda c: sum(c) >= 2),
    st.lists(st.integers(0, 10), min_size=k, max_size=k).filter(lambda c: sum(c) >= 2),
)))
def test_pair_indices_match_slow_references(pair):
    a, b = pair
    k = len(a)
    x, y = raw(a), raw(b)
    values = ix.pair_indices(a, b)
    assert values["group_gap"] == pytest.approx((x.mean() - y.mean()) / (k - 1))
    assert values["wasserstein"] == pytest.approx(scipy.stats.wasserstein_distance(x, y) / (k - 1), abs=1e-12)
    assert values["overlap"] == pytest.approx(sum(min(i / len(x), j / len(y)) for i, j in zip(a, b, strict=True)))
    spread = ((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) > 0
    if spread:
        assert values["cohens_d"] == pytest.approx(cohens_d_reference(a, b))
    else:
        assert np.isnan(values["cohens_d"])


@FAST
@given(st.integers(2, 6).flatmap(lambda k: st.lists(
    st.lists(st.integers(0, 8), min_size=k, max_size=k), min_size=2, max_size=4)))
def test_correlation_ratio_matches_eta_from_raw_answers(groups):
    answered = [g for g in groups if sum(g) > 0]
    everyone = np.concatenate([raw(g) for g in answered]) if answered else np.array([])
    value = ix.correlation_ratio(groups)
    if len(answered) < 2 or everyone.var() == 0:
        assert np.isnan(value)
    else:
        assert value == pytest.approx(eta_reference(groups), abs=1e-9)


def test_correlation_ratio_of_two_groups_is_the_absolute_point_biserial_correlation():
    a, b = [5, 3, 1, 0, 1], [0, 1, 2, 4, 3]
    x = np.concatenate([raw(a), raw(b)])
    indicator = np.concatenate([np.ones(sum(a)), np.zeros(sum(b))])
    assert ix.correlation_ratio([a, b]) == pytest.approx(abs(np.corrcoef(x, indicator)[0, 1]))


def test_pairwise_correlations_match_numpy_corrcoef():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=50), rng.normal(size=50)
    y = y + 0.5 * x
    r = ix.pairwise_correlations(len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert np.isnan(ix.pairwise_correlations(3, 3.0, 6.0, 3.0, 14.0, 6.0))  # x constant
    assert ix.mean_abs_correlation([0.5, -0.3, np.nan]) == pytest.approx(0.4)
    assert np.isnan(ix.mean_abs_correlation([np.nan, np.nan]))


# --------------------------------------------------------------------------- properties

PROPORTION_BASED = ("mean", "agreement_a", "leik_d", "tw_consensus", "entropy_norm", "esteban_ray")
SYMMETRIC = ("n", "sd", "mad_pairwise", "agreement_a", "leik_d", "tw_consensus", "entropy_norm",
             "bimodality", "esteban_ray")


@FAST
@given(counts_vectors, st.integers(2, 1000))
def test_proportion_based_indices_do_not_change_when_counts_are_multiplied(counts, factor):
    once = ix.cell_indices(counts)
    scaled = ix.cell_indices(np.array(counts) * factor)
    for name in PROPORTION_BASED:
        assert scaled[name] == pytest.approx(once[name], abs=1e-12), name
    a, b = np.array(counts), np.array(counts[::-1])
    for name in ("group_gap", "wasserstein", "overlap"):
        assert ix.pair_indices(a * factor, b * 3)[name] == pytest.approx(ix.pair_indices(a, b)[name], abs=1e-12)


@FAST
@given(counts_vectors)
def test_indices_stay_within_their_documented_ranges(counts):
    n = sum(counts)
    values = ix.cell_indices(counts)
    eps = 1e-12
    assert -eps <= values["mad_pairwise"] <= n / (2 * (n - 1)) + eps
    assert -1 - eps <= values["agreement_a"] <= 1 + eps
    for name in ("leik_d", "tw_consensus", "entropy_norm"):
        assert -eps <= values[name] <= 1 + eps, name
    assert -eps <= values["esteban_ray"] <= 0.5 ** (1 + ALPHA) + eps
    if not np.isnan(values["bimodality"]):
        assert 0 < values["bimodality"] < 1


@FAST
@given(counts_vectors)
def test_reversing_the_scale_mirrors_the_mean_and_keeps_spread_indices(counts):
    k = len(counts)
    forward, backward = ix.cell_indices(counts), ix.cell_indices(counts[::-1])
    for name in SYMMETRIC:
        np.testing.assert_allclose(backward[name], forward[name], atol=1e-12, equal_nan=True, err_msg=name)
    assert backward["mean"] == pytest.approx(k + 1 - forward["mean"])
    other = np.roll(counts, 1)
    there, back = ix.pair_indices(counts, other), ix.pair_indices(counts[::-1], other[::-1])
    for name in ("group_gap", "cohens_d"):
        np.testing.assert_allclose(back[name], -there[name], atol=1e-12, equal_nan=True)
    for name in ("wasserstein", "overlap"):
        assert back[name] == pytest.approx(there[name], abs=1e-12)


@FAST
@given(st.integers(2, 14).flatmap(lambda k: st.lists(
    st.lists(st.integers(0, 6), min_size=k, max_size=k), min_size=1, max_size=6)))
def test_batched_evaluation_equals_one_cell_at_a_time(matrix):
    batch = ix.cell_indices(np.array(matrix))
    for row, counts in enumerate(matrix):
        single = ix.cell_indices(counts)
        for name in ix.CELL_INDICES:
            np.testing.assert_allclose(batch[name][row], single[name], atol=1e-12, equal_nan=True)


@FAST
@given(st.integers(13, 30).flatmap(lambda k: st.lists(st.integers(0, 3), min_size=k, max_size=k)))
def test_agreement_a_of_sliders_matches_the_layer_reference(counts):
    # Beyond k = 12 layers are peeled off with Fenwick trees instead of a pattern table.
    expected = agreement_reference(counts) if sum(counts) else np.nan
    np.testing.assert_allclose(ix.agreement_a(counts), expected, atol=1e-9)


def test_agreement_a_of_many_slider_cells_at_once_matches_the_reference():
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 3, size=(4, 101))  # a 0..100 slider
    counts[0] = 0
    counts[1] = 7
    counts[2, [0, -1]], counts[2, 1:-1] = 5, 0
    expected = [agreement_reference(c) if c.sum() else np.nan for c in counts]
    np.testing.assert_allclose(ix.agreement_a(counts), expected, atol=1e-9)
    assert np.isnan(ix.agreement_a(counts[0])) and ix.agreement_a(counts[2]) == pytest.approx(-1)
