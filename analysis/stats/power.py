r"""Power of an intervention study by simulation, and the smallest participants per arm for a
target power.

Pure numpy/pandas/scipy; no Django. The ``power`` command calls :func:`estimate_power`.

What is simulated
-----------------
Panels from :mod:`analysis.stats.simulate` with two arms (control and intervention, equal
allocation stratified by group), ``waves`` waves, the intervention shown at wave
``intervention_wave`` and one item (by default a 7-point item loading 1 on the latent; the
other model parameters are the simulator's defaults unless ``model`` overrides them:
persistent person SD 1, wave-to-wave state SD 0.4, answer noise 0.8, two groups 0.2 latent SD
apart drifting apart by 0.05 per wave, attrition 6% per wave).

The effect E is given **in the outcome's own units**: scale points of the item for ``value``,
``extremity`` and ``distance_other_group``; the index's units for an index (``mean`` and
``sd`` in scale points, the others on their fixed ranges, e.g. a share of the scale for
``mad_pairwise``). E is the pooled difference in differences of the outcome between the arms
in the population, averaged over the post waves (the estimand of :mod:`analysis.stats.effects`).
It is turned into the simulator's latent shift by solving ``population DiD(shift) = E`` on the
exact answer distributions of the model (normal latent answer cut into the scale's points), so
rounding and the scale's ends are accounted for. An E that no location shift of the latent can
produce (e.g. a change of ``group_gap``, which a shift of both groups never moves, or a larger
change of ``sd`` than the scale allows) is refused with the reachable range.

Tests inside the simulations (no bootstrap nested in the power loop):

* individual outcomes: the pooled two-way fixed effects coefficient with its
  participant-clustered standard error, two-sided t-test at ``alpha`` (model-based);
* index outcomes: the pooled index DiD with a grouped-jackknife t-test (default
  ``index_test="jackknife"``: the participants of each arm are dealt at random into 20 groups,
  the DiD is recomputed leaving out one group at a time, SE = the jackknife SE, t with 19
  degrees of freedom; it tracks the bootstrap interval that ``effects`` reports at 1/50 of its
  cost), or a randomization test (``index_test="randomization"``, ``permutations``
  re-randomizations of the arms within groups). The randomization test is exact under the
  sharp null but markedly less powerful for dispersion indices when the intervention shifts
  answers: re-randomized "arms" mix shifted and unshifted people, which itself widens their
  distributions.

Power is the share of simulated studies whose test rejects, with an exact (Clopper-Pearson)
95% interval. The smallest participants per arm for the target power is found by bisection
over n with common random numbers: every simulated study is drawn once at the largest n needed
and smaller studies use the first n participants of each arm, so the power curve is smooth and
(nearly) monotone in n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stats import effects as fx
from analysis.stats import indices as ix
from analysis.stats.effects import did, panel, twfe
from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel

__all__ = [
    "DEFAULT_ITEM",
    "OUTCOMES",
    "PowerResult",
    "calibrate_latent_effect",
    "estimate_power",
    "population_effect",
]

DEFAULT_ITEM = ItemSpec("item", scale_min=1, scale_max=7, step=1, loading=1.0, intercept=0.0)
OUTCOMES: tuple[str, ...] = (*fx.INDIVIDUAL_OUTCOMES, *fx.DEFAULT_INDICES)
_LATENT_LIMIT = 4.0
_MIN_PER_ARM = 4
_JACKNIFE_GROUPS = 20
INDEX_TESTS = ("jackknife", "randomization")


@dataclass(frozen=True)
class PowerResult:
    """Result of :func:`estimate_power`.

    ``curve``: one row per evaluated participants-per-arm (sorted) with power, ci_low,
    ci_high (exact 95%), mean_estimate, sd_estimate, and flags ``requested`` and ``minimum``.
    ``minimum_participants_per_arm`` is None when the effect is 0 or the target is not
    reached by ``max_participants_per_arm``.
    """

    outcome: str
    effect: float
    latent_effect: float
    participants_per_arm: int
    power: float
    ci_low: float
    ci_high: float
    minimum_participants_per_arm: int | None
    target: float
    alpha: float
    simulations: int
    test: str
    curve: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- population truth


def _population_probabilities(spec: PanelSpec, item: ItemSpec) -> np.ndarray:
    """P(answer = scale point c) per (group, arm, wave, c) under the simulator's model."""
    low, high, k = item.scale_min, item.scale_max, item.n_points
    r = (high - low) / 6.0
    sd = r * math.sqrt(item.loading**2 * (1 + spec.state_sd**2) + spec.noise_sd**2)
    latent = spec.group_means()[:, None, :] + spec.arm_effect_path()[None, :, :]
    centre = (low + high) / 2 + r * (item.intercept + item.loading * latent)
    cuts = low + (np.arange(1, k) - 0.5) * item.step
    if sd == 0:
        cdf = (cuts <= centre[..., None]).astype(float)
    else:
        cdf = stats.norm.cdf((cuts - centre[..., None]) / sd)
    edge = np.zeros(cdf.shape[:-1] + (1,))
    return np.diff(np.concatenate([edge, cdf, edge + 1], axis=-1), axis=-1)


def population_effect(spec: PanelSpec, item: ItemSpec, outcome: str) -> float:
    """Pooled population DiD of ``outcome`` (first non-control arm against control), in the
    outcome's units: the mean over post waves of [arm - control](t) - mean over pre waves."""
    probs = _population_probabilities(spec, item)  # (group, arm, wave, k)
    points = item.scale_min + item.step * np.arange(item.n_points)
    share = np.array([spec.group_share, 1 - spec.group_share])
    control = spec.arm_names.index(spec.control_arm)
    treated = next(a for a, name in enumerate(spec.arm_names) if name != spec.control_arm)
    if outcome in ix.PAIR_INDICES:
        values = getattr(ix, outcome)(probs[0] * 1e9, probs[1] * 1e9)  # (arm, wave)
    elif outcome in fx.DEFAULT_INDICES:
        mixture = np.tensordot(share, probs, axes=1) * 1e9  # counts of a huge population
        values = did.index_values(outcome, mixture, points)
    elif outcome == "value":
        values = np.tensordot(share, probs @ points, axes=1)
    elif outcome == "extremity":
        middle = (item.scale_min + item.scale_max) / 2
        values = np.tensordot(share, probs @ np.abs(points - middle), axes=1)
    elif outcome == "distance_other_group":
        other = (probs[:, control] @ points)[::-1]  # (group, wave): the other group's control mean
        distance = np.abs(points[None, None, None, :] - other[:, None, :, None])
        values = np.tensordot(share, (probs * distance).sum(axis=-1), axes=1)
    else:
        raise ValueError(f"unknown outcome {outcome!r}; choose from {', '.join(OUTCOMES)}")
    waves = np.arange(1, spec.n_waves + 1)
    pre = waves < spec.intervention_wave
    difference = values[treated] - values[control]
    return float(difference[~pre].mean() - difference[pre].mean())


def calibrate_latent_effect(effect: float, outcome: str, spec: PanelSpec, item: ItemSpec) -> float:
    """The latent shift (simulator units) whose population effect on ``outcome`` is ``effect``
    (outcome units). Searches shifts in [-4, 4] latent SD outward from 0; raises ValueError
    with the reachable range when there is none."""
    if effect == 0:
        return 0.0

    def gap(shift: float) -> float:
        return population_effect(replace(spec, effect=shift), item, outcome) - effect

    steps = np.linspace(0.0, _LATENT_LIMIT, 81)
    roots, reached = [], []
    for direction in (1.0, -1.0):
        shifts = direction * steps
        gaps = np.array([gap(shift) for shift in shifts])
        reached.extend((gaps + effect)[np.isfinite(gaps)])
        crossing = np.flatnonzero(np.isfinite(gaps[:-1]) & np.isfinite(gaps[1:]) & (np.sign(gaps[:-1]) != np.sign(gaps[1:])))
        if crossing.size:
            i = crossing[0]
            a, b = sorted((shifts[i], shifts[i + 1]))
            roots.append(float(optimize.brentq(gap, a, b, xtol=1e-12)))
    if roots:
        return min(roots, key=abs)
    low, high = (min(reached), max(reached)) if reached else (math.nan, math.nan)
    raise ValueError(
        f"an effect of {effect:g} on {outcome} cannot be produced by shifting the latent attitude "
        f"(reachable: {low:.4g} to {high:.4g} in {outcome}'s units)"
    )


# --------------------------------------------------------------------------- replicates


@dataclass
class _Replicate:
    values: np.ndarray  # (N, T) answers, NaN = not answered
    treated: np.ndarray  # (N,) bool
    group: np.ndarray  # (N,) 0/1
    rank: np.ndarray  # (N,) position of the participant within its arm
    onehot: np.ndarray | None = None  # (N, T * k) for index outcomes


def _replicate(spec: PanelSpec, item: ItemSpec, seed: int, index_outcome: bool) -> _Replicate:
    panel = simulate_panel(spec, seed=seed)
    n, T = spec.n_participants, spec.n_waves
    answers = panel.answers
    rows = answers["participant"].cat.codes.to_numpy()
    values = np.full((n, T), np.nan)
    values[rows, answers["wave"].to_numpy() - 1] = answers["value"].to_numpy(dtype=float)
    people = panel.participants
    treated = (people["arm"] != spec.control_arm).to_numpy()
    group = (people["group"] == spec.groups[1]).to_numpy().astype(np.intp)
    rank = np.empty(n, dtype=np.intp)
    for flag in (True, False):
        members = np.flatnonzero(treated == flag)
        rank[members] = np.arange(members.size)
    rep = _Replicate(values=values, treated=treated, group=group, rank=rank)
    if index_outcome:
        k = item.n_points
        onehot = np.zeros((n, T * k), dtype=np.float32)
        p_idx, t_idx = np.nonzero(np.isfinite(values))
        cats = np.rint((values[p_idx, t_idx] - item.scale_min) / item.step).astype(np.intp)
        onehot[p_idx, t_idx * k + cats] = 1.0
        rep.onehot = onehot
    return rep


def _twfe_test(rep: _Replicate, keep: np.ndarray, outcome: str, item: ItemSpec, intervention_wave: int):
    values = rep.values[keep]
    treated = rep.treated[keep]
    if outcome == "value":
        y, reference = values, None
    elif outcome == "extremity":
        y, reference = np.abs(values - (item.scale_min + item.scale_max) / 2), None
    else:
        reference = twfe._DistanceReference(values, rep.group[keep], ~treated, 2)
        y = reference.outcome
    observed = np.isfinite(y)
    waves = np.arange(1, values.shape[1] + 1)
    design = twfe.did_design(waves, intervention_wave)
    fixed = twfe._FixedEffects(observed)
    y_res = fixed.residualize(np.where(observed, y, 0.0))
    x = treated.astype(float)[:, None, None] * design[None] * observed[..., None]
    extra = reference.extra_scores if reference is not None else None
    fit = twfe._fit_residualized(y_res, fixed.residualize(x), observed, 1, extra)
    return float(fit.coef[0]), float(fit.p_values()[0])


def _index_statistic(name, onehot, group, weights_t, weights_c, members_t, members_c, item, pre, post):
    """Pooled index DiD for each row of the arm weights (rows x participants of each arm)."""
    T, k = pre.size, item.n_points
    points = item.scale_min + item.step * np.arange(k)
    per_group = []
    for g in (0, 1):
        in_t, in_c = group[members_t] == g, group[members_c] == g
        counts_t = (weights_t[:, in_t] @ onehot[members_t[in_t]]).reshape(-1, T, k)
        counts_c = (weights_c[:, in_c] @ onehot[members_c[in_c]]).reshape(-1, T, k)
        per_group.append((counts_t, counts_c))
    if name in ix.PAIR_INDICES:
        (t0, c0), (t1, c1) = per_group
        v_t, v_c = getattr(ix, name)(t0, t1), getattr(ix, name)(c0, c1)
    else:
        v_t = did.index_values(name, per_group[0][0] + per_group[1][0], points)
        v_c = did.index_values(name, per_group[0][1] + per_group[1][1], points)
    return did._did(v_t, v_c, pre, post)[1]


def _index_test(rep, keep, name, item, pre, post, method, permutations, rng):
    """(estimate, p) of the pooled index DiD: grouped jackknife t-test or randomization test."""
    onehot = rep.onehot[keep]
    treated = rep.treated[keep]
    group = rep.group[keep]
    members_t, members_c = np.flatnonzero(treated), np.flatnonzero(~treated)
    if method == "randomization":
        everyone = np.arange(treated.size)
        assignments = np.vstack(
            [treated[None, :].astype(np.float32), panel._permuted_treatments(treated, group, permutations, rng)]
        )
        statistic = _index_statistic(
            name, onehot, group, assignments, 1.0 - assignments, everyone, everyone, item, pre, post
        )
        estimate = float(statistic[0])
        return estimate, panel._ri_p(estimate, statistic[1:])
    # Delete-a-group jackknife: participants of each arm dealt at random into G groups; row g of
    # the weights leaves group g out of both arms.
    groups = min(_JACKNIFE_GROUPS, members_t.size, members_c.size)
    weights = []
    for members in (members_t, members_c):
        label = rng.permutation(np.arange(members.size) % groups)
        weights.append(np.vstack([np.ones((1, members.size)), (label[None, :] != np.arange(groups)[:, None])]))
    statistic = _index_statistic(name, onehot, group, weights[0], weights[1], members_t, members_c, item, pre, post)
    estimate, leave_out = float(statistic[0]), statistic[1:]
    if not np.isfinite(estimate) or not np.all(np.isfinite(leave_out)) or groups < 2:
        return estimate, np.nan
    se = math.sqrt((groups - 1) / groups * np.sum((leave_out - leave_out.mean()) ** 2))
    if se == 0:
        return estimate, np.nan
    return estimate, float(2 * stats.t.sf(abs(estimate) / se, groups - 1))


# --------------------------------------------------------------------------- power


@dataclass
class _Study:
    """Simulated replicates at ``size`` per arm, evaluated at smaller sizes on demand."""

    replicates: list
    size: int
    evaluate: object  # (replicate, n, index) -> (estimate, p)
    cache: dict = field(default_factory=dict)

    def at(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in self.cache:
            results = np.array([self.evaluate(rep, n, i) for i, rep in enumerate(self.replicates)])
            self.cache[n] = (results[:, 0], results[:, 1])
        return self.cache[n]


def estimate_power(
    *,
    participants_per_arm: int,
    waves: int,
    intervention_wave: int,
    effect: float,
    outcome: str = "value",
    simulations: int = 500,
    seed: int = 0,
    alpha: float = 0.05,
    target: float = 0.8,
    item: ItemSpec = DEFAULT_ITEM,
    attrition: float = 0.06,
    index_test: str = "jackknife",
    permutations: int = 200,
    max_participants_per_arm: int = 20_000,
    search: bool = True,
    model: Mapping | None = None,
) -> PowerResult:
    """Power to detect ``effect`` (in ``outcome``'s own units, see the module docstring) with
    ``participants_per_arm`` participants in each of two arms, and the smallest participants
    per arm reaching ``target`` power (``search``). ``model`` overrides other
    :class:`~analysis.stats.simulate.PanelSpec` fields (e.g. ``state_sd``, ``noise_sd``,
    ``initial_group_gap``, ``effect_decay``)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; choose from {', '.join(OUTCOMES)}")
    if participants_per_arm < _MIN_PER_ARM:
        raise ValueError(f"participants per arm must be at least {_MIN_PER_ARM}")
    if not 1 < intervention_wave <= waves:
        raise ValueError("the intervention wave must come after at least one baseline wave and "
                         f"not after the last wave (waves 1..{waves})")
    if simulations < 10:
        raise ValueError("use at least 10 simulations")
    if not (0 < alpha < 1 and 0 < target < 1):
        raise ValueError("alpha and the target power must lie strictly between 0 and 1")
    if not math.isfinite(effect):
        raise ValueError("the effect must be a finite number")
    index_outcome = outcome in fx.DEFAULT_INDICES
    if index_test not in INDEX_TESTS:
        raise ValueError(f"index_test must be one of {INDEX_TESTS}")
    if index_outcome and index_test == "randomization" and permutations < 19:
        raise ValueError("use at least 19 permutations for an index outcome")
    max_participants_per_arm = max(max_participants_per_arm, participants_per_arm)

    base = PanelSpec(
        n_participants=2 * participants_per_arm,
        n_waves=waves,
        items=(item,),
        intervention_wave=intervention_wave,
        effect=0.0,
        attrition_per_wave=attrition,
        **dict(model or {}),
    )
    latent = calibrate_latent_effect(effect, outcome, base, item)
    spec = replace(base, effect=latent)
    wave_numbers = np.arange(1, waves + 1)
    pre, post = wave_numbers < intervention_wave, wave_numbers >= intervention_wave
    seeds = np.random.SeedSequence(seed).generate_state(simulations, dtype=np.uint32)
    test = index_test if index_outcome else "twfe_cluster_t"
    notes: list[str] = []

    def evaluate(rep, n, i):
        keep = rep.rank < n
        if index_outcome:
            rng = np.random.default_rng([int(seeds[i]), n])
            return _index_test(rep, keep, outcome, item, pre, post, index_test, permutations, rng)
        return _twfe_test(rep, keep, outcome, item, intervention_wave)

    def study(size: int, count: int) -> _Study:
        sized = replace(spec, n_participants=2 * size)
        replicates = [_replicate(sized, item, int(s), index_outcome) for s in seeds[:count]]
        return _Study(replicates, size, evaluate)

    def power_of(estimates_p) -> float:
        _, p = estimates_p
        return float(np.mean(np.nan_to_num(p, nan=1.0) < alpha))

    size = participants_per_arm
    if search and effect != 0:
        pilot = study(participants_per_arm, min(simulations, 100))
        estimates, _ = pilot.at(participants_per_arm)
        spread = float(np.nanstd(estimates, ddof=1))
        z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
        guess = participants_per_arm * (z * spread / abs(effect)) ** 2 if spread > 0 else participants_per_arm
        size = int(min(max_participants_per_arm, max(participants_per_arm, math.ceil(1.3 * guess) + 2)))
    main = study(size, simulations)
    if search and effect != 0:
        while power_of(main.at(size)) < target and size < max_participants_per_arm:
            size = min(max_participants_per_arm, 2 * size)
            main = study(size, simulations)

    minimum = None
    if search and effect != 0:
        if power_of(main.at(size)) < target:
            notes.append(f"{target:.0%} power is not reached with {max_participants_per_arm} participants per arm")
        elif power_of(main.at(_MIN_PER_ARM)) >= target:
            minimum = _MIN_PER_ARM
        else:
            low, high = _MIN_PER_ARM, size
            # Simulation error in the power (about 2-3 points at 200-500 simulations) dwarfs a
            # difference of 1% in n, so the search stops at that resolution.
            while high - low > max(1, math.ceil(0.01 * high)):
                middle = (low + high) // 2
                if power_of(main.at(middle)) >= target:
                    high = middle
                else:
                    low = middle
            minimum = high
    elif effect == 0:
        notes.append("the effect is 0: the power is the test's false-positive rate")
    main.at(participants_per_arm)

    rows = []
    for n in sorted(main.cache):
        estimates, p = main.cache[n]
        rejections = int(np.sum(np.nan_to_num(p, nan=1.0) < alpha))
        interval = stats.binomtest(rejections, simulations).proportion_ci(method="exact")
        rows.append(
            {
                "participants_per_arm": n,
                "power": rejections / simulations,
                "ci_low": float(interval.low),
                "ci_high": float(interval.high),
                "mean_estimate": float(np.nanmean(estimates)),
                "sd_estimate": float(np.nanstd(estimates, ddof=1)),
                "requested": n == participants_per_arm,
                "minimum": n == minimum,
            }
        )
    curve = pd.DataFrame(rows)
    requested = curve[curve["requested"]].iloc[0]
    return PowerResult(
        outcome=outcome,
        effect=float(effect),
        latent_effect=float(latent),
        participants_per_arm=participants_per_arm,
        power=float(requested["power"]),
        ci_low=float(requested["ci_low"]),
        ci_high=float(requested["ci_high"]),
        minimum_participants_per_arm=minimum,
        target=target,
        alpha=alpha,
        simulations=simulations,
        test=test,
        curve=curve,
        notes=tuple(notes),
    )
