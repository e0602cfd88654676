r"""Intervention effects on disagreement: difference-in-differences on indices, two-way fixed
effects on individual answers, randomization inference, Holm, and differential attrition.

Pure numpy/pandas/scipy; no Django. The platform's effects service and the ``effects``
command call :func:`estimate_effects` with a long frame (participant, wave, item, value, arm,
grouping columns) and store or print :attr:`EffectTable.frame`.

Estimands (intention to treat by assigned arm)
-----------------------------------------------
Waves ``t < V`` (V = ``intervention_wave``) are *pre*, waves ``t >= V`` are *post*; the
intervention is shown before the items of wave V. Every intervention arm ``a`` is compared
with the control arm ``c`` on its own.

* **Index outcomes** (``mean``, ``sd``, ``agreement_a``, ... and, with a grouping column, the
  pair indices ``group_gap``, ``cohens_d``, ``wasserstein``, ``overlap`` between its groups):
  with I_a(t) the index of arm a's answers in wave t and the baseline the mean over the pre
  waves,

      DiD_a(t) = [I_a(t) - mean_pre I_a] - [I_c(t) - mean_pre I_c]         for each post wave
      DiD_a(pooled) = mean over post waves of DiD_a(t)

  The estimand is the same functional of the population distributions, so the index is a
  property of the arm's answer *distribution*, not an average of individual changes.
  Uncertainty: cluster bootstrap that resamples participants with replacement within arm (and
  within stratum when ``strata`` is given), keeping each participant's whole panel; 95%
  percentile interval, bootstrap standard error, and the two-sided p-value
  ``min(1, 2 min((1 + #{DiD* <= 0}) / (B + 1), (1 + #{DiD* >= 0}) / (B + 1)))`` that inverts the
  percentile interval. Method ``did_bootstrap``.

  Vectorized: each participant contributes a one-hot (waves x k) answer table; a
  ``(B, participants)`` matrix of draw counts turns them into B resampled count tables with
  one matrix product per item and arm, and the index functions of
  :mod:`analysis.stats.indices` evaluate all resamples at once.

* **Individual outcomes** ``value`` (the answer), ``extremity`` (``|value - midpoint|`` of the
  item's scale) and ``distance_other_group`` (``|value - m|`` with m the mean answer of the
  *control arm* of the other group(s) in the same wave, a reference the treatment cannot move;
  needs ``by``): two-way fixed effects regression

      y_it = alpha_i + lambda_t + beta * D_it + e_it,     D_it = 1[arm_i = a] * 1[t >= V]

  on the participants of arms a and c (method ``twfe``, wave ``pooled``), and the event study

      y_it = alpha_i + lambda_t + sum_{s != r} beta_s 1[arm_i = a] 1[t = s] + e_it

  with r = the last pre-intervention wave (method ``event_study``, one row per wave s != r;
  pre-wave coefficients are placebo checks of parallel trends). Standard errors are clustered
  by participant (CR1: G/(G-1) (N-1)/(N-K) with K the regressors plus the wave effects; the
  participant effects are nested in the clusters and not counted, as in Stata's reghdfe), with
  t(G-1) reference distribution.

  TWFE is sound here because every treated participant starts treatment at the same wave V
  (no staggered adoption) and stays treated: with one treatment date the TWFE coefficient is
  the canonical 2x2 difference in differences, a weighted average of the post-period effects
  with non-negative weights, and none of the "forbidden comparisons" of already-treated units
  that bias TWFE under staggered timing (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille
  2020) can occur. Unbalanced panels (attrition, "don't know") are handled exactly by the
  Frisch-Waugh-Lovell route below, no dummies are materialized.

* **Randomization inference** (column ``p_ri``): arm labels are re-randomized within strata
  among the participants of arms a and c (``permutations`` times) and the statistic recomputed;
  ``p_ri = (1 + #{|stat*| >= |stat|}) / (1 + R)``. Computed for every row: ``did_bootstrap``
  (the index DiD), ``twfe`` and each ``event_study`` coefficient. Vectorized too: X'y~ and
  the pieces of X'MX are linear in the treatment vector, so all permutations are one matrix
  product plus a K x K solve each (K = 1 pooled, waves - 1 for the event study).
  ``distance_other_group`` keeps its realized reference (the control means) under
  re-randomization.

Multiplicity, labels, attrition
-------------------------------
* ``p_holm``: Holm adjustment of ``p_value`` within the family "arms compared with control for
  one outcome, item, wave, method, sample and group" (one arm: p_holm = p_value).
* ``primary``: True for the rows of ``primary_outcome`` (and ``primary_item`` when given);
  every other row is exploratory.
* Attrition: completion per arm and wave (:attr:`EffectTable.attrition`): the share of the
  arm's participants with any answer row in the wave. Each intervention arm is tested against
  control per wave (Pearson chi-square on the 2x2 table, Holm over waves); when the adjusted
  p-value is below ``attrition_alpha`` at a wave up to an estimate's wave (any wave for pooled
  rows), the estimate carries ``attrition_warning`` = True.
* Every estimate is also computed on the balanced panel (participants with an answer row in
  every wave; ``sample`` = ``balanced``, method suffix ``_balanced``), so that a change in who
  answers is not mistaken for an effect.

Units: ``value``, ``extremity`` and ``distance_other_group`` effects are in the item's own
units; index effects are in the index's units (``mean`` and ``sd`` in the item's units, the
others on their fixed ranges).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.stats import indices as ix
from analysis.stats.bootstrap import percentile_interval, resample_weights
from analysis.stats.tables import AnswersError, Scale

__all__ = [
    "DEFAULT_INDICES",
    "EXTRA_FIELDS",
    "INDIVIDUAL_OUTCOMES",
    "RECORD_FIELDS",
    "EffectTable",
    "TwfeFit",
    "attrition_table",
    "did_design",
    "estimate_effects",
    "event_study_design",
    "fit_twfe",
    "holm",
    "index_values",
    "twfe_permutation_coefficients",
]

RECORD_FIELDS: tuple[str, ...] = (
    "arm",
    "outcome",
    "item",
    "wave",
    "method",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "n",
)
EXTRA_FIELDS: tuple[str, ...] = (
    "group",
    "sample",
    "p_ri",
    "n_obs",
    "attrition_warning",
    "primary",
)
INDIVIDUAL_OUTCOMES: tuple[str, ...] = ("value", "extremity", "distance_other_group")
DEFAULT_INDICES: tuple[str, ...] = (
    tuple(name for name in ix.CELL_INDICES if name != "n") + tuple(ix.PAIR_INDICES) + tuple(ix.ACROSS_ITEM_INDICES)
)
SUPPORTED_INDICES: frozenset[str] = frozenset(DEFAULT_INDICES)
POOLED = "pooled"
_MIN_VALID_RESAMPLES = 10
_MAX_ELEMENTS = 2**22


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EffectTable:
    """Result of :func:`estimate_effects`.

    ``frame``: one row per estimate with the columns :data:`RECORD_FIELDS` then
    :data:`EXTRA_FIELDS`; ``wave`` is an int or ``"pooled"``; ``item`` is the item code.
    ``attrition``: arm, wave, participants, completed, completion, p_value, p_holm,
    differential (intervention arms against control; NaN for the control rows).
    ``warnings``: human-readable notes (differential attrition, skipped outcomes).
    """

    frame: pd.DataFrame
    attrition: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TwfeFit:
    """Two-way fixed effects fit with participant-clustered (CR1) covariance."""

    coef: np.ndarray
    cov: np.ndarray
    n_clusters: int
    n_obs: int
    df_resid: int  # degrees of freedom of the t reference distribution: clusters - 1

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def p_values(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            t = self.coef / self.se
        if self.df_resid < 1:
            return np.full_like(self.coef, np.nan)
        return 2.0 * sps.t.sf(np.abs(t), self.df_resid)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        if self.df_resid < 1:
            nan = np.full_like(self.coef, np.nan)
            return nan, nan.copy()
        q = sps.t.ppf(0.5 + level / 2.0, self.df_resid)
        return self.coef - q * self.se, self.coef + q * self.se


# --------------------------------------------------------------------------- Holm


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    stepped = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(stepped), 1.0)
    return out


# --------------------------------------------------------------------------- TWFE


def did_design(waves: Sequence[int], intervention_wave: int) -> np.ndarray:
    """Design (waves x 1) of the pooled DiD regressor: 1 for waves >= intervention_wave."""
    waves = np.asarray(waves)
    return (waves >= intervention_wave).astype(float)[:, None]


def event_study_design(waves: Sequence[int], intervention_wave: int) -> tuple[np.ndarray, np.ndarray]:
    """Design (waves x (W-1)) of the event study and the waves of its columns.

    One column per wave except the reference r = the last wave before ``intervention_wave``.
    """
    waves = np.asarray(waves)
    pre = waves[waves < intervention_wave]
    if pre.size == 0:
        raise ValueError("the event study needs a wave before the intervention wave")
    reference = pre.max()
    kept = waves[waves != reference]
    return (waves[:, None] == kept[None, :]).astype(float), kept


class _FixedEffects:
    """Residualizer on participant and wave effects for an unbalanced (participants x waves)
    panel with observation mask O.

    Frisch-Waugh-Lovell: M = M1 - M1 W (W' M1 W)^+ W' M1, with M1 the within-participant
    demeaning and W the wave dummies without the first wave. With a_pt = O_pt / c_p (c_p the
    participant's observation count), M1 W has entries O_pt (1[t = tau] - a_p,tau), so
    W' M1 W = diag(sum_p O_p,tau) - O' diag(1/c) O and W' M1 Z = colsums(O Z) - a' rowsums(O Z):
    all (participants x waves) array operations.
    """

    def __init__(self, observed: np.ndarray) -> None:
        self.mask = observed.astype(float)
        counts = self.mask.sum(axis=1)
        self.count = np.where(counts > 0, counts, 1.0)
        self.a = self.mask / self.count[:, None]
        gram = np.diag(self.mask.sum(axis=0)) - self.mask.T @ self.a
        self.gram_inv = np.linalg.pinv(gram[1:, 1:])

    def residualize(self, z: np.ndarray) -> np.ndarray:
        """Residuals of z (participants x waves [x m]) on both sets of effects, 0 where unobserved."""
        squeeze = z.ndim == 2
        if squeeze:
            z = z[..., None]
        mask = self.mask[..., None]
        oz = z * mask
        row = oz.sum(axis=1)  # (n, m)
        within = (z - (row / self.count[:, None])[:, None, :]) * mask
        wz = oz.sum(axis=0) - self.a.T @ row  # (T, m)
        gamma = np.zeros_like(wz)
        gamma[1:] = self.gram_inv @ wz[1:]
        out = within - mask * (gamma[None, :, :] - (self.a @ gamma)[:, None, :])
        return out[..., 0] if squeeze else out


def fit_twfe(values, treated, design) -> TwfeFit:
    """TWFE regression of ``values`` (participants x waves, NaN = not observed) on participant
    and wave effects and the regressors ``treated_i * design[t, k]``.

    Coefficients by Frisch-Waugh-Lovell on the unbalanced panel; covariance clustered by
    participant (CR1 with K = regressors + wave effects, participant effects nested in the
    clusters and not counted); t reference with clusters - 1 degrees of freedom. Columns of
    the design without variation among the observed cells give NaN.
    """
    values = np.asarray(values, dtype=float)
    treated = np.asarray(treated, dtype=float)
    design = np.asarray(design, dtype=float)
    observed = np.isfinite(values)
    fe = _FixedEffects(observed)
    y = fe.residualize(np.where(observed, values, 0.0))
    x = treated[:, None, None] * design[None, :, :] * observed[..., None]
    xt = fe.residualize(x)
    return _fit_residualized(y, xt, observed, design.shape[1])


def _fit_residualized(y, xt, observed, n_regressors, extra_scores=None) -> TwfeFit:
    k = n_regressors
    xtx = np.einsum("ptk,ptl->kl", xt, xt)
    xty = np.einsum("ptk,pt->k", xt, y)
    n_obs = int(observed.sum())
    clusters = int((observed.sum(axis=1) > 0).sum())
    waves_seen = int((observed.sum(axis=0) > 0).sum())
    scale = np.sqrt(np.clip(np.diag(xtx), 0, None))
    usable = scale > 1e-9 * max(1.0, scale.max(initial=0.0))
    coef = np.full(k, np.nan)
    cov = np.full((k, k), np.nan)
    if usable.any() and clusters > 1:
        sub = np.ix_(usable, usable)
        bread = np.linalg.pinv(xtx[sub])
        beta = bread @ xty[usable]
        resid = (y - xt[..., usable] @ beta) * observed
        scores = np.einsum("ptk,pt->pk", xt[..., usable], resid)
        if extra_scores is not None:
            scores = scores + extra_scores(xt[..., usable])
        meat = scores.T @ scores
        dof_k = int(usable.sum()) + waves_seen  # regressors + intercept + (waves - 1)
        correction = clusters / (clusters - 1) * (n_obs - 1) / max(n_obs - dof_k, 1)
        coef[usable] = beta
        cov[sub] = correction * bread @ meat @ bread
    return TwfeFit(coef=coef, cov=cov, n_clusters=clusters, n_obs=n_obs, df_resid=clusters - 1)


def twfe_permutation_coefficients(values, treatments, design) -> np.ndarray:
    """The TWFE coefficients for each row of ``treatments`` (R x participants, 0/1).

    ``design`` is the (waves,) pooled regressor pattern (result (R,)) or a (waves x K) design
    such as :func:`event_study_design`'s (result (R, K)). Exact and vectorized: with y~ the
    two-way residuals of y (which do not depend on treatment) and X_itk = d_i F_tk O_it,
    beta = (X'MX)^-1 X'y~ where X'y~ = d S, X'MX = d A - (d C)' G^+ (d C) with per-participant
    S_k = sum_t F_tk O_it y~_it, A_kl = sum_t F_tk F_tl O_it - (sum_t F_tk O_it)(sum_t F_tl
    O_it) / c_i and C_tk = O_it F_tk - (O_it / c_i) sum_s F_sk O_is (t > first wave), so every
    permutation costs one row of a matrix product and a K x K solve.
    """
    values = np.asarray(values, dtype=float)
    design = np.asarray(design, dtype=float)
    pooled = design.ndim == 1
    observed = np.isfinite(values)
    fe = _FixedEffects(observed)
    y = fe.residualize(np.where(observed, values, 0.0))
    summaries = _permutation_summaries(fe, y, observed, design[:, None] if pooled else design)
    coefficients = _permutation_solve(np.asarray(treatments, float) @ summaries, fe.gram_inv,
                                      1 if pooled else design.shape[1])
    return coefficients[:, 0] if pooled else coefficients


def _permutation_summaries(fe, y, observed, design) -> np.ndarray:
    """Per-participant (S, A, C) of :func:`twfe_permutation_coefficients`, flattened:
    (m, K + K^2 + (waves - 1) K)."""
    mask = observed.astype(float)
    f = mask[:, :, None] * design[None, :, :]  # (m, T, K)
    total = f.sum(axis=1)  # (m, K)
    s = np.einsum("mtk,mt->mk", f, y)
    a = np.einsum("mtk,tl->mkl", f, design) - total[:, :, None] * total[:, None, :] / fe.count[:, None, None]
    c = f[:, 1:, :] - fe.a[:, 1:, None] * total[:, None, :]
    m = mask.shape[0]
    return np.concatenate([s, a.reshape(m, -1), c.reshape(m, -1)], axis=1)


def _permutation_solve(products: np.ndarray, gram_inv: np.ndarray, k: int) -> np.ndarray:
    """Coefficients (R, K) from treatments @ summaries (R, K + K^2 + (waves - 1) K)."""
    products = products.astype(float)
    r = products.shape[0]
    s = products[:, :k]
    a = products[:, k : k + k * k].reshape(r, k, k)
    c = products[:, k + k * k :].reshape(r, -1, k)
    xtmx = a - np.einsum("rtk,ts,rsl->rkl", c, gram_inv, c)
    scale = np.abs(np.diagonal(xtmx, axis1=1, axis2=2))
    usable = (scale > 1e-9).all(axis=1)
    out = np.full((r, k), np.nan)
    if usable.any():
        try:
            out[usable] = np.linalg.solve(xtmx[usable], s[usable][..., None])[..., 0]
        except np.linalg.LinAlgError:
            out[usable] = (np.linalg.pinv(xtmx[usable]) @ s[usable][..., None])[..., 0]
    return out


# --------------------------------------------------------------------------- indices


def index_values(name: str, counts: np.ndarray, points: np.ndarray, other=None) -> np.ndarray:
    """One index over count tables ``(..., k)``; ``other`` is group B's counts for pair indices.

    ``points`` are the item's scale points (``mean`` and ``sd`` in the item's units). Large
    batches of ``agreement_a`` on scales with k > 12 are evaluated in chunks (its memory grows
    with k^2 per cell).
    """
    if name in ix.PAIR_INDICES:
        if other is None:
            raise ValueError(f"{name} compares two groups")
        return getattr(ix, name)(counts, other)
    if name in ("mean", "sd"):
        return getattr(ix, name)(counts, points)
    if name == "agreement_a" and counts.shape[-1] > 12:
        k = counts.shape[-1]
        flat = counts.reshape(-1, k)
        step = max(1, 2**23 // (k * k))  # ~64 MB of layer tables per chunk; fewer, larger chunks are 2.5x faster
        out = np.concatenate(
            [ix.agreement_a(flat[i : i + step]) for i in range(0, flat.shape[0], step)]
        )
        return out.reshape(counts.shape[:-1])
    if name not in ix.CELL_INDICES:
        raise ValueError(f"unknown index {name!r}")
    return getattr(ix, name)(counts)


def _did(values_t: np.ndarray, values_c: np.ndarray, pre: np.ndarray, post: np.ndarray):
    """Per-post-wave DiD (S, P) and pooled DiD (S,) from index values (S, waves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base_t = values_t[:, pre].mean(axis=1, keepdims=True)
        base_c = values_c[:, pre].mean(axis=1, keepdims=True)
        per_wave = (values_t[:, post] - base_t) - (values_c[:, post] - base_c)
        return per_wave, per_wave.mean(axis=1)


# --------------------------------------------------------------------------- panel


def _infer_scale(values: np.ndarray) -> Scale:
    """Observed minimum to maximum; step 1 for whole numbers, else the smallest gap."""
    finite = np.unique(values[np.isfinite(values)])
    if finite.size < 2:
        low = float(finite[0]) if finite.size else 1.0
        return Scale(low, low + 1.0, 1.0)
    if np.allclose(finite, np.round(finite)):
        return Scale(float(finite[0]), float(finite[-1]), 1.0)
    return Scale(float(finite[0]), float(finite[-1]), float(np.diff(finite).min()))


@dataclass
class _Panel:
    ids: np.ndarray
    waves: np.ndarray
    items: list
    values: np.ndarray  # (n, T, J), NaN = no value
    present: np.ndarray  # (n, T): any answer row in the wave
    arm: np.ndarray  # (n,) arm names
    group: np.ndarray | None  # (n,) codes into group_names
    group_names: list
    strata: np.ndarray  # (n,) codes
    item_codes: np.ndarray  # (rows,) item of each answer row
    by: str | None = None
    control: str = ""


def _per_participant(codes: np.ndarray, frame: pd.DataFrame, column: str, ids) -> np.ndarray:
    """The one value of ``column`` each participant has; an empty cell or a second value is an
    :class:`AnswersError` naming the row."""
    raw = frame[column]
    empty = raw.isna().to_numpy()
    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise AnswersError("is empty", row=frame.index[first], column=column)
    labels = raw.astype(str).to_numpy(dtype=object)
    first_row = np.full(len(ids), -1, dtype=np.intp)
    order = np.arange(codes.size)[::-1]
    first_row[codes[order]] = order  # the last write per participant is its first row
    out = labels[first_row]
    differs = labels != out[codes]
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        raise AnswersError(
            f"participant {ids[codes[row]]!r} has {labels[row]!r} here but "
            f"{out[codes[row]]!r} in an earlier row",
            row=frame.index[row],
            column=column,
        )
    return out


def _numeric_values(frame: pd.DataFrame) -> np.ndarray:
    """Values as floats; NaN and rows flagged ``missing`` ("don't know") become NaN."""
    column = frame["value"]
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(
            f"{column.iloc[first]!r} is not a number", row=frame.index[first], column="value"
        )
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    if "missing" in frame.columns and pd.api.types.is_bool_dtype(frame["missing"]):
        values = np.where(frame["missing"].fillna(False).to_numpy(dtype=bool), np.nan, values)
    return values


def _build_panel(answers: pd.DataFrame, arm_column: str, by: str | None, strata: str | None) -> _Panel:
    for column in ("participant", "wave", "item", "value", arm_column, *(c for c in (by, strata) if c)):
        if column not in answers.columns:
            raise AnswersError(f"the answers have no column {column!r}")
    frame = answers
    for column in ("participant", "wave", "item"):
        empty = frame[column].isna().to_numpy()
        if empty.any():
            first = int(np.flatnonzero(empty)[0])
            raise AnswersError("is empty", row=frame.index[first], column=column)
    p_codes, ids = pd.factorize(frame["participant"], sort=False)
    wave = pd.to_numeric(frame["wave"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(wave) | (wave != np.round(wave))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnswersError(
            f"{frame['wave'].iloc[first]!r} is not a whole wave number",
            row=frame.index[first],
            column="wave",
        )
    waves, t_codes = np.unique(wave.astype(np.int64), return_inverse=True)
    item_col = frame["item"]
    if isinstance(item_col.dtype, pd.CategoricalDtype):
        item_col = item_col.astype(str)
    j_codes, items = pd.factorize(item_col, sort=False)
    n, T, J = len(ids), len(waves), len(items)
    flat = (p_codes * T + t_codes) * J + j_codes
    seen = pd.Series(flat).duplicated().to_numpy()
    if seen.any():
        row = int(np.flatnonzero(seen)[0])
        raise AnswersError(
            f"participant {ids[p_codes[row]]!r} answered item {items[j_codes[row]]!r} twice "
            f"in wave {waves[t_codes[row]]}",
            row=frame.index[row],
            column="item",
        )
    values = np.full(n * T * J, np.nan)
    values[flat] = _numeric_values(frame)
    present = np.zeros(n * T, dtype=bool)
    present[p_codes * T + t_codes] = True
    p_ids = np.asarray(ids, dtype=object)
    arm = _per_participant(p_codes, frame, arm_column, p_ids)
    group, group_names = None, []
    if by:
        raw = _per_participant(p_codes, frame, by, p_ids)
        group_names = sorted(set(raw))
        group = np.searchsorted(np.asarray(group_names, dtype=object), raw)
    if strata and strata != by:
        raw = _per_participant(p_codes, frame, strata, p_ids)
        strata_codes = np.unique(raw, return_inverse=True)[1]
    elif strata:
        strata_codes = group
    else:
        strata_codes = np.zeros(n, dtype=np.intp)
    return _Panel(
        item_codes=j_codes,
        by=by,
        ids=p_ids,
        waves=waves,
        items=[str(item) for item in items],
        values=values.reshape(n, T, J),
        present=present.reshape(n, T),
        arm=np.asarray(arm, dtype=object),
        group=group,
        group_names=group_names,
        strata=np.asarray(strata_codes, dtype=np.intp),
    )


# --------------------------------------------------------------------------- attrition


def attrition_table(
    present: pd.DataFrame | np.ndarray,
    arms: np.ndarray | None = None,
    waves: np.ndarray | None = None,
    *,
    control: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Completion per arm and wave, and a test that intervention arms differ from control.

    ``present`` is a boolean (participants x waves) array with ``arms`` (participants,) and
    ``waves``. Completion = participants with an answer row in the wave / participants of the
    arm. Each intervention arm against control per wave: Pearson chi-square on the 2x2 table
    (completed or not x arm), p = 1 when nobody (or everybody) is missing in both arms; p_holm
    adjusts over the waves of one arm; ``differential`` = p_holm < alpha.
    """
    present = np.asarray(present, dtype=bool)
    arms = np.asarray(arms, dtype=object)
    waves = np.arange(1, present.shape[1] + 1) if waves is None else np.asarray(waves)
    names = [control] + sorted(set(arms) - {control})
    rows = []
    ctrl = present[arms == control]
    for name in names:
        members = present[arms == name]
        completed = members.sum(axis=0)
        p = np.full(len(waves), np.nan)
        if name != control:
            for t in range(len(waves)):
                table = np.array(
                    [
                        [completed[t], members.shape[0] - completed[t]],
                        [ctrl[:, t].sum(), ctrl.shape[0] - ctrl[:, t].sum()],
                    ],
                    dtype=float,
                )
                if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
                    p[t] = 1.0
                else:
                    p[t] = sps.chi2_contingency(table, correction=False)[1]
        adjusted = holm(p)
        for t, wave in enumerate(waves):
            size = members.shape[0]
            rows.append(
                {
                    "arm": name,
                    "wave": int(wave),
                    "participants": int(size),
                    "completed": int(completed[t]),
                    "completion": completed[t] / size if size else np.nan,
                    "p_value": p[t],
                    "p_holm": adjusted[t],
                    "differential": bool(adjusted[t] < alpha) if name != control else False,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- resampling


def _stratified_weights(strata: np.ndarray, n_resamples: int, rng) -> np.ndarray:
    """(B, m) bootstrap draw counts: participants resampled with replacement within stratum."""
    out = np.zeros((n_resamples, strata.size), dtype=np.float32)
    if n_resamples == 0:
        return out
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        chunks = resample_weights(
            members.size, n_resamples, rng, max_elements=_MAX_ELEMENTS, dtype=np.float32
        )
        out[:, members] = np.concatenate(list(chunks), axis=0)
    return out


def _permuted_treatments(treated: np.ndarray, strata: np.ndarray, n_permutations: int, rng) -> np.ndarray:
    """(R, m) 0/1 treatment vectors, labels shuffled within each stratum."""
    out = np.empty((n_permutations, treated.size), dtype=np.float32)
    if n_permutations == 0:
        return out
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        labels = treated[members].astype(np.float32)
        step = max(1, _MAX_ELEMENTS // max(1, members.size))
        for start in range(0, n_permutations, step):
            stop = min(n_permutations, start + step)
            # A uniformly random relabelling = the members with the n_treated smallest of
            # independent uniform keys are treated (ties have probability 0).
            n_treated = int(labels.sum())
            if n_treated in (0, members.size):
                out[start:stop, members] = labels
                continue
            keys = rng.random((stop - start, members.size))
            cut = np.partition(keys, n_treated - 1, axis=1)[:, n_treated - 1 : n_treated]
            out[start:stop, members] = keys <= cut
    return out


# --------------------------------------------------------------------------- estimation


@dataclass
class _GroupBlock:
    """The participants of one group within a comparison (indices into the pool)."""

    members_t: np.ndarray
    weights_t: np.ndarray  # (1 + B, members_t) draw counts, first row = observed (ones)
    members_c: np.ndarray
    weights_c: np.ndarray
    members: np.ndarray
    permutations: np.ndarray  # (R, members) 0/1


@dataclass
class _Comparison:
    """Participants of one intervention arm and the control arm in one sample."""

    arm: str
    sample: str
    pool: np.ndarray  # indices into the panel
    treated: np.ndarray  # (m,) bool within pool
    permutations: np.ndarray  # (R, m) 0/1
    blocks: list  # one _GroupBlock per group (one block without a grouping column)


def _comparison(panel, arm, sample, keep, bootstrap, permutations, streams) -> _Comparison | None:
    pool = np.flatnonzero(keep & ((panel.arm == arm) | (panel.arm == panel.control)))
    treated = panel.arm[pool] == arm
    if treated.sum() == 0 or (~treated).sum() == 0:
        return None
    boot_seq, perm_seq = streams
    boot_rng = np.random.default_rng(boot_seq)
    strata = panel.strata[pool]
    boot_t = np.ones((1 + bootstrap, int(treated.sum())), dtype=np.float32)
    boot_c = np.ones((1 + bootstrap, int((~treated).sum())), dtype=np.float32)
    boot_t[1:] = _stratified_weights(strata[treated], bootstrap, boot_rng)
    boot_c[1:] = _stratified_weights(strata[~treated], bootstrap, boot_rng)
    perms = _permuted_treatments(treated, strata, permutations, np.random.default_rng(perm_seq))
    groups = panel.group[pool] if panel.group is not None else np.zeros(pool.size, np.intp)
    index_t, index_c = np.flatnonzero(treated), np.flatnonzero(~treated)
    blocks = []
    for g in range(max(1, len(panel.group_names))):
        in_t = groups[index_t] == g
        in_c = groups[index_c] == g
        members = np.flatnonzero(groups == g)
        blocks.append(
            _GroupBlock(
                members_t=index_t[in_t],
                weights_t=np.ascontiguousarray(boot_t[:, in_t]),
                members_c=index_c[in_c],
                weights_c=np.ascontiguousarray(boot_c[:, in_c]),
                members=members,
                permutations=np.ascontiguousarray(perms[:, members]),
            )
        )
    return _Comparison(
        arm=arm, sample=sample, pool=pool, treated=treated, permutations=perms, blocks=blocks
    )


def _onehot(values: np.ndarray, grids: list) -> tuple[np.ndarray, list[slice]]:
    """One-hot answers (m, sum_j waves * k_j) of participants (m, waves, items), item slices."""
    m, T, J = values.shape
    widths = [T * grid.k for grid in grids]
    out = np.zeros((m, sum(widths)), dtype=np.float32)
    slices, offset = [], 0
    for j, grid in enumerate(grids):
        column = values[:, :, j]
        observed = np.isfinite(column)
        p_idx, t_idx = np.nonzero(observed)
        cats = np.rint((column[p_idx, t_idx] - grid.min) / grid.step).astype(np.intp)
        out[p_idx, offset + t_idx * grid.k + cats] = 1.0
        slices.append(slice(offset, offset + widths[j]))
        offset += widths[j]
    return out, slices


@dataclass
class _CountTables:
    """Resampled and re-randomized count tables of every group, all items side by side."""

    treated: list  # per group (1 + B, columns)
    control: list
    perm_treated: list  # per group (R, columns)
    perm_control: list


def _count_tables(comparison: _Comparison, onehot: np.ndarray) -> _CountTables:
    tables = _CountTables([], [], [], [])
    for block in comparison.blocks:
        tables.treated.append(block.weights_t @ onehot[block.members_t])
        tables.control.append(block.weights_c @ onehot[block.members_c])
        if comparison.permutations.shape[0]:
            group_onehot = onehot[block.members]
            perm_t = block.permutations @ group_onehot
            tables.perm_treated.append(perm_t)
            tables.perm_control.append(group_onehot.sum(axis=0)[None, :] - perm_t)
    return tables


def _bootstrap_summary(estimate: float, replicates: np.ndarray, level: float):
    valid = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or valid.size < _MIN_VALID_RESAMPLES:
        return np.nan, np.nan, np.nan, np.nan
    se = float(valid.std(ddof=1))
    low, high = percentile_interval(valid, level)
    below = (1 + np.sum(valid <= 0)) / (valid.size + 1)
    above = (1 + np.sum(valid >= 0)) / (valid.size + 1)
    return se, float(low), float(high), float(min(1.0, 2 * min(below, above)))


def _ri_p(estimate: float, permuted: np.ndarray) -> float:
    valid = permuted[np.isfinite(permuted)]
    if not np.isfinite(estimate) or valid.size == 0:
        return np.nan
    tolerance = 1e-9 * max(1.0, abs(estimate))
    return float((1 + np.sum(np.abs(valid) >= abs(estimate) - tolerance)) / (valid.size + 1))


def _index_pairs(panel) -> list[tuple[int, int]]:
    if panel.group is None:
        return []
    count = len(panel.group_names)
    return [(a, b) for a in range(count) for b in range(a + 1, count)]


def _group_key(panel, target) -> str:
    """``all``, ``<by>:<g>`` (target ``("group", g)``) or ``<by>:<a>|<by>:<b>`` (target ``(a, b)``)."""
    if target is None:
        return "all"
    names, by = panel.group_names, panel.by
    if target[0] == "group":
        return f"{by}:{names[target[1]]}"
    return f"{by}:{names[target[0]]}|{by}:{names[target[1]]}"


def _index_targets(panel, name) -> list:
    """Whose index: single-cell indices for everyone (None) and for each group, pair indices
    and alignment for each pair of groups."""
    if name in ix.PAIR_INDICES or name == "alignment":
        return _index_pairs(panel)
    groups = len(panel.group_names) if panel.group is not None else 0
    return [None] + ([("group", g) for g in range(groups)] if groups >= 2 else [])


def _evaluate(name, per_group, target, points) -> np.ndarray:
    """Index values (S, waves) from per-group count tables (S, waves, k)."""
    if target is None:
        return index_values(name, np.sum(per_group, axis=0), points)
    if target[0] == "group":
        return index_values(name, per_group[target[1]], points)
    a, b = target
    if name == "alignment":
        return ix.correlation_ratio(np.stack([per_group[a], per_group[b]], axis=-2), points)
    return index_values(name, per_group[a], points, per_group[b])


@dataclass
class _IndexSeries:
    """An index per wave for both arms: bootstrap (1 + B, waves), first row observed, and
    re-randomized (R, waves) or None."""

    treated: np.ndarray
    control: np.ndarray
    perm_treated: np.ndarray | None
    perm_control: np.ndarray | None


def _did_rows(panel, comparison, series: _IndexSeries, *, name, item, group, pre, post, level, n, n_obs):
    """``did_bootstrap`` rows (each post wave and pooled) of one index series."""
    per_wave, pooled = _did(series.treated, series.control, pre, post)
    perm_wave = perm_pooled = None
    if series.perm_treated is not None:
        perm_wave, perm_pooled = _did(series.perm_treated, series.perm_control, pre, post)
    rows = []
    for col, wave in [*enumerate(panel.waves[post]), (None, POOLED)]:
        estimates = pooled if col is None else per_wave[:, col]
        estimate = float(estimates[0])
        se, low, high, p = _bootstrap_summary(estimate, estimates[1:], level)
        p_ri = np.nan
        if perm_pooled is not None:
            p_ri = _ri_p(estimate, perm_pooled if col is None else perm_wave[:, col])
        rows.append({
            "arm": comparison.arm, "outcome": name, "item": item,
            "wave": wave if col is None else int(wave), "method": "did_bootstrap",
            "estimate": estimate, "se": se, "ci_low": low, "ci_high": high, "p_value": p,
            "n": n, "group": group, "p_ri": p_ri, "n_obs": n_obs,
        })
    return rows


def _reversed(name: str, values: np.ndarray, grid: Scale) -> np.ndarray:
    """An index of a reverse-coded item as the index of its flipped answers (value -> min +
    max - value): the mean mirrors, signed pair indices change sign, the rest are symmetric."""
    if name == "mean":
        return (grid.min + grid.max) - values
    if name in ("group_gap", "cohens_d"):
        return -values
    return values


def _index_rows(panel, comparison, tables, j, columns, grid, index_names, pre, post, level, pooled, reverse):
    """``did_bootstrap`` rows of item j; its index series (reverse-coded items flipped) are
    added to ``pooled`` for the rows pooled over items."""
    values = panel.values[comparison.pool, :, j]
    observed = np.isfinite(values)
    n_answering = int(observed.any(axis=1).sum())
    if n_answering == 0:
        return []
    T, k = values.shape[1], grid.k

    def item_counts(per_group):
        return [table[:, columns].reshape(-1, T, k) for table in per_group]

    counts = {True: item_counts(tables.treated), False: item_counts(tables.control)}
    perm_counts = {True: item_counts(tables.perm_treated), False: item_counts(tables.perm_control)}
    has_perms = bool(tables.perm_treated)
    points = grid.points
    rows = []
    names = list(index_names)
    if "alignment" in pooled.wanted:
        names.append("alignment")
    for name in names:
        for target in _index_targets(panel, name):
            series = _IndexSeries(
                _evaluate(name, counts[True], target, points),
                _evaluate(name, counts[False], target, points),
                _evaluate(name, perm_counts[True], target, points) if has_perms else None,
                _evaluate(name, perm_counts[False], target, points) if has_perms else None,
            )
            group = _group_key(panel, target)
            if name in index_names:
                rows += _did_rows(panel, comparison, series, name=name, item=panel.items[j], group=group,
                                  pre=pre, post=post, level=level, n=n_answering, n_obs=int(observed.sum()))
            if name in pooled.wanted:
                if reverse[j]:
                    series = _IndexSeries(*(None if v is None else _reversed(name, v, grid) for v in (
                        series.treated, series.control, series.perm_treated, series.perm_control)))
                pooled.add(name, group, series)
    return rows


class _PooledIndices:
    """Per-item index series of one comparison, averaged over items for the pooled rows
    (``item`` None): the pooled index of a wave is the mean of the per-item indices that are
    defined in it (DESIGN section 4), and its DiD and intervals follow from the same draws."""

    def __init__(self, wanted: Iterable[str]) -> None:
        self.wanted = set(wanted)
        self.series: dict[tuple[str, str], list[_IndexSeries]] = {}

    def add(self, name: str, group: str, series: _IndexSeries) -> None:
        self.series.setdefault((name, group), []).append(series)

    def rows(self, panel, comparison, pre, post, level) -> list[dict]:
        values = panel.values[comparison.pool]
        answered = np.isfinite(values)
        n = int(answered.any(axis=(1, 2)).sum())
        n_obs = int(answered.sum())
        out = []
        for (name, group), parts in self.series.items():
            averaged = []
            for attribute in ("treated", "control", "perm_treated", "perm_control"):
                arrays = [getattr(part, attribute) for part in parts]
                averaged.append(None if arrays[0] is None else _nanmean_items(np.stack(arrays)))
            series = _IndexSeries(*averaged)
            out += _did_rows(panel, comparison, series, name=name, item=None, group=group, pre=pre,
                             post=post, level=level, n=n, n_obs=n_obs)
        return out


def _nanmean_items(stacked: np.ndarray) -> np.ndarray:
    """Mean over the first axis (items) of the defined values; NaN where none is defined."""
    defined = np.isfinite(stacked)
    count = defined.sum(axis=0)
    total = np.where(defined, stacked, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _constraint_rows(panel, comparison, grids, pre, post, level) -> list[dict]:
    """``constraint`` (mean |r| over pairs of items, per wave) for everyone and each group.

    Per participant and wave the pairwise-complete features (1, x, y, x^2, y^2, xy) of every
    pair of items (x, y the category codes; reverse coding only flips the sign of r, which |r|
    ignores) are summed with the bootstrap draw counts and the re-randomized labels, one wave
    at a time, in float64 (sums of squares of wide sliders exceed float32's exact range).
    """
    J = len(grids)
    if J < 2:
        return []
    values = panel.values[comparison.pool]
    m, T, _ = values.shape
    pairs = list(zip(*np.triu_indices(J, 1), strict=True))
    j_idx = np.array([p[0] for p in pairs])
    l_idx = np.array([p[1] for p in pairs])
    codes = np.stack([(values[:, :, j] - grid.min) / grid.step for j, grid in enumerate(grids)], axis=2)
    answered = np.isfinite(codes)
    codes = np.where(answered, codes, 0.0)
    P = len(pairs)
    targets = [None]
    if panel.group is not None and len(panel.group_names) >= 2:
        targets += [("group", g) for g in range(len(panel.group_names))]
    has_perms = comparison.permutations.shape[0] > 0
    # sums[target][arm or perm arm]: (S, T, 6, P)
    shape_boot = (comparison.blocks[0].weights_t.shape[0], T, 6, P)
    R = comparison.permutations.shape[0]
    per_block = []
    for block in comparison.blocks:
        sums = {"t": np.zeros(shape_boot), "c": np.zeros(shape_boot),
                "pt": np.zeros((R, T, 6, P)), "pc": np.zeros((R, T, 6, P))}
        weights_t, weights_c = block.weights_t.astype(float), block.weights_c.astype(float)
        labels = block.permutations.astype(float) if has_perms else None
        for t in range(T):
            mask = (answered[:, t, j_idx] & answered[:, t, l_idx]).astype(float)
            x, y = codes[:, t, j_idx] * mask, codes[:, t, l_idx] * mask
            features = np.concatenate([mask, x, y, x * x, y * y, x * y], axis=1)  # (m, 6P)
            sums["t"][:, t] = (weights_t @ features[block.members_t]).reshape(-1, 6, P)
            sums["c"][:, t] = (weights_c @ features[block.members_c]).reshape(-1, 6, P)
            if has_perms:
                group_features = features[block.members]
                perm_t = labels @ group_features
                sums["pt"][:, t] = perm_t.reshape(-1, 6, P)
                sums["pc"][:, t] = (group_features.sum(axis=0)[None, :] - perm_t).reshape(-1, 6, P)
        per_block.append(sums)

    def constraint(s):
        r = ix.pairwise_correlations(*(s[:, :, i, :] for i in range(6)))
        return ix.mean_abs_correlation(r)

    rows = []
    answering = answered.any(axis=2)
    for target in targets:
        chosen = per_block if target is None else [per_block[target[1]]]
        total = {key: sum(block[key] for block in chosen) for key in ("t", "c", "pt", "pc")}
        series = _IndexSeries(constraint(total["t"]), constraint(total["c"]),
                              constraint(total["pt"]) if has_perms else None,
                              constraint(total["pc"]) if has_perms else None)
        if target is None:
            members = np.arange(m)
        else:
            members = comparison.blocks[target[1]].members
        rows += _did_rows(panel, comparison, series, name="constraint", item=None,
                          group=_group_key(panel, target), pre=pre, post=post, level=level,
                          n=int(answering[members].any(axis=1).sum()),
                          n_obs=int(answered[members].sum()))
    return rows


class _DistanceReference:
    """``distance_other_group`` in one comparison: y_it = |v_it - m_{g(i),t}| with m_{g,t} the
    mean answer of the comparison's control participants outside group g in wave t.

    m is estimated, so the TWFE scores get its influence (two-step / generated-outcome
    correction): with G_{g,t} = d(X~'y)/d m_{g,t} = -sum_{i in g, t} X~_it sign(v_it - m_{g,t})
    and psi_j(g,t) = (v_jt - m_{g,t}) / N_{g,t} for the control participants j that make up
    m_{g,t}, cluster j's score gains sum_{g,t} psi_j(g,t) G_{g,t}.
    """

    def __init__(self, values: np.ndarray, groups: np.ndarray, control: np.ndarray, n_groups: int):
        observed = np.isfinite(values)
        self.values, self.groups = values, groups
        self.sources = []  # per group: (mask (m, T) of the reference answers, N_{g,t})
        reference = np.full((n_groups, values.shape[1]), np.nan)
        for g in range(n_groups):
            source = observed & (control & (groups != g))[:, None]
            size = source.sum(axis=0)
            total = np.where(source, values, 0.0).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                reference[g] = np.where(size > 0, total / size, np.nan)
            self.sources.append((source, size))
        self.reference = reference
        self.outcome = np.abs(values - reference[groups])

    def extra_scores(self, xt: np.ndarray) -> np.ndarray:
        """(m, K) influence of the estimated reference means on X~'y, per participant."""
        m, _, k = xt.shape
        extra = np.zeros((m, k))
        sign = np.sign(np.nan_to_num(self.values - self.reference[self.groups]))
        for g, (source, size) in enumerate(self.sources):
            in_group = (self.groups == g)[:, None] & np.isfinite(self.outcome)
            gradient = -np.einsum("ptk,pt->tk", xt, np.where(in_group, sign, 0.0))
            with np.errstate(invalid="ignore", divide="ignore"):
                psi = np.where(source, (self.values - self.reference[g]) / size, 0.0)
            extra += psi @ gradient
        return extra


def _individual_outcome(panel, comparison, j, grid, outcome):
    """(outcome values (m, T) of the comparison's participants, distance reference or None)."""
    values = panel.values[comparison.pool, :, j]
    if outcome == "value":
        return values, None
    if outcome == "extremity":
        return np.abs(values - (grid.min + grid.max) / 2.0), None
    if outcome == "distance_other_group":
        control = ~comparison.treated
        reference = _DistanceReference(
            values, panel.group[comparison.pool], control, len(panel.group_names)
        )
        return reference.outcome, reference
    raise ValueError(f"unknown outcome {outcome!r}")


def _twfe_rows(panel, comparison, j, outcome, grid, level, intervention_wave, pending):
    """TWFE and event-study rows of one item and outcome; the randomization-inference work of
    the pooled row is appended to ``pending`` (row, per-participant summaries, G^+)."""
    y, reference = _individual_outcome(panel, comparison, j, grid, outcome)
    extra = reference.extra_scores if reference is not None else None
    observed = np.isfinite(y)
    if not observed.any():
        return []
    treated = comparison.treated.astype(float)
    fe = _FixedEffects(observed)
    y_res = fe.residualize(np.where(observed, y, 0.0))
    rows = []
    common = {"arm": comparison.arm, "outcome": outcome, "item": panel.items[j]}

    post_design = did_design(panel.waves, intervention_wave)
    x = treated[:, None, None] * post_design[None] * observed[..., None]
    fit = _fit_residualized(y_res, fe.residualize(x), observed, 1, extra)
    low, high = fit.interval(level)
    if comparison.permutations.shape[0] and np.isfinite(fit.coef[0]):
        summaries = _permutation_summaries(fe, y_res, observed, post_design)
        pending.append(([len(rows)], summaries, fe.gram_inv))
    rows.append(
        {
            **common,
            "wave": POOLED,
            "method": "twfe",
            "estimate": float(fit.coef[0]),
            "se": float(fit.se[0]),
            "ci_low": float(low[0]),
            "ci_high": float(high[0]),
            "p_value": float(fit.p_values()[0]),
            "n": fit.n_clusters,
            "group": "all",
            "p_ri": np.nan,
            "n_obs": fit.n_obs,
        }
    )

    design, event_waves = event_study_design(panel.waves, intervention_wave)
    x = treated[:, None, None] * design[None] * observed[..., None]
    fit = _fit_residualized(y_res, fe.residualize(x), observed, design.shape[1], extra)
    low, high = fit.interval(level)
    p_values = fit.p_values()
    usable = np.isfinite(fit.coef)
    if comparison.permutations.shape[0] and usable.any():
        summaries = _permutation_summaries(fe, y_res, observed, design[:, usable])
        pending.append(([len(rows) + col for col in np.flatnonzero(usable)], summaries, fe.gram_inv))
    for col, wave in enumerate(event_waves):
        rows.append(
            {
                **common,
                "wave": int(wave),
                "method": "event_study",
                "estimate": float(fit.coef[col]),
                "se": float(fit.se[col]),
                "ci_low": float(low[col]),
                "ci_high": float(high[col]),
                "p_value": float(p_values[col]),
                "n": fit.n_clusters,
                "group": "all",
                "p_ri": np.nan,
                "n_obs": fit.n_obs,
            }
        )
    return rows


def _fill_twfe_ri(rows, pending, permutations) -> None:
    """Randomization p-values of the TWFE and event-study rows: one product for all items and
    outcomes, then a small solve per permutation (see :func:`twfe_permutation_coefficients`)."""
    if not pending:
        return
    widths = [summary.shape[1] for _, summary, _ in pending]
    stacked = np.hstack([summary for _, summary, _ in pending]).astype(np.float32)
    products = permutations @ stacked
    offset = 0
    for (targets, _, gram_inv), width in zip(pending, widths, strict=True):
        permuted = _permutation_solve(products[:, offset : offset + width], gram_inv, len(targets))
        for column, row in enumerate(targets):
            rows[row]["p_ri"] = _ri_p(rows[row]["estimate"], permuted[:, column])
        offset += width


def _check_options(bootstrap, permutations, level):
    for name, number in (("bootstrap", bootstrap), ("permutations", permutations)):
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {number!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def estimate_effects(
    answers: pd.DataFrame,
    *,
    arm_column: str = "arm",
    control: str,
    intervention_wave: int,
    scales=None,
    by: str | None = None,
    strata: str | None = "by",
    indices: Iterable[str] = DEFAULT_INDICES,
    outcomes: Iterable[str] = INDIVIDUAL_OUTCOMES,
    bootstrap: int = 1000,
    permutations: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    primary_outcome: str | None = None,
    primary_item: str | None = None,
    balanced: bool = True,
    attrition_alpha: float = 0.05,
    reverse: Iterable[str] = (),
    pooled_items: bool = True,
) -> EffectTable:
    """Every effect of every intervention arm against ``control`` (see the module docstring).

    ``answers``: long frame with participant, wave, item, value (NaN = "don't know", left
    out), ``arm_column`` and, when given, the grouping column ``by``. ``scales``: one scale for
    every item, a mapping item -> scale, or None to infer each item's from its answers; a
    scale is an object with ``min``, ``max``, ``step`` (``tables.Scale``) or a tuple
    ``(min, max[, step])``. ``strata``: the column randomization was stratified on, used by
    the bootstrap (resample within arm and stratum) and the permutations; the default
    ``"by"`` means the ``by`` column, None means no strata. ``indices``: index outcomes (pair
    indices need ``by``); ``outcomes``: individual outcomes (``distance_other_group`` needs
    ``by``). ``bootstrap`` = B resamples, ``permutations`` = R re-randomizations (0 turns
    either off: NaN intervals and p-values, or NaN p_ri). ``reverse``: reverse-coded items,
    flipped in the rows pooled over items (``item`` None), which ``pooled_items`` turns on for
    every cell and pair index; ``constraint`` and ``alignment`` are pooled rows by definition.
    """
    _check_options(bootstrap, permutations, level)
    index_names = list(dict.fromkeys(indices))
    unknown = [name for name in index_names if name not in SUPPORTED_INDICES]
    if unknown:
        raise ValueError(f"unknown index {unknown[0]!r}; choose from {sorted(SUPPORTED_INDICES)}")
    outcome_names = list(dict.fromkeys(outcomes))
    unknown = [name for name in outcome_names if name not in INDIVIDUAL_OUTCOMES]
    if unknown:
        raise ValueError(f"unknown outcome {unknown[0]!r}; choose from {list(INDIVIDUAL_OUTCOMES)}")
    strata_column = by if strata == "by" else strata
    panel = _build_panel(answers, arm_column, by, strata_column)
    panel.control = str(control)
    notes: list[str] = []

    if panel.control not in set(panel.arm):
        raise ValueError(f"control arm {control!r} is not among the arms in {arm_column!r}")
    arms = sorted(set(panel.arm) - {panel.control})
    if not arms:
        raise ValueError("there is no intervention arm besides the control arm")
    pre = panel.waves < intervention_wave
    post = ~pre
    if not pre.any() or not post.any():
        raise ValueError(
            f"intervention wave {intervention_wave} needs waves before and from it; "
            f"the data have waves {panel.waves.tolist()}"
        )
    if by is None:
        dropped = [name for name in index_names if name in ix.PAIR_INDICES or name == "alignment"]
        if "distance_other_group" in outcome_names:
            dropped.append("distance_other_group")
        if dropped and (index_names != list(DEFAULT_INDICES) or outcome_names != list(INDIVIDUAL_OUTCOMES)):
            notes.append(f"without a grouping column (by) there is no {', '.join(dropped)}")
        index_names = [name for name in index_names if name not in ix.PAIR_INDICES and name != "alignment"]
        outcome_names = [name for name in outcome_names if name != "distance_other_group"]
    elif len(panel.group_names) < 2:
        notes.append(f"{by!r} has a single group: no pair indices, alignment or distance_other_group")
        index_names = [name for name in index_names if name not in ix.PAIR_INDICES and name != "alignment"]
        outcome_names = [name for name in outcome_names if name != "distance_other_group"]

    grids = _item_scales(panel, scales, answers, panel.item_codes)
    unknown = sorted(set(map(str, reverse)) - set(panel.items))
    if unknown:
        raise ValueError(f"reverse-coded item {unknown[0]!r} is not among the items")
    reverse_mask = np.array([item in set(map(str, reverse)) for item in panel.items], dtype=bool)
    cell_names = [name for name in index_names if name not in ix.ACROSS_ITEM_INDICES]
    pooled_names = set(cell_names) if pooled_items and len(panel.items) > 1 else set()
    if "alignment" in index_names:
        pooled_names.add("alignment")

    attrition = attrition_table(
        panel.present, panel.arm, panel.waves, control=panel.control, alpha=attrition_alpha
    )
    for row in attrition[attrition["differential"]].itertuples():
        ctrl = attrition[(attrition["arm"] == panel.control) & (attrition["wave"] == row.wave)]
        notes.append(
            f"differential attrition: arm {row.arm} wave {row.wave} completion "
            f"{row.completion:.1%} vs control {float(ctrl['completion'].iloc[0]):.1%} "
            f"(Holm-adjusted p = {row.p_holm:.3g})"
        )

    samples = [("all", np.ones(len(panel.ids), dtype=bool))]
    if balanced:
        samples.append(("balanced", panel.present.all(axis=1)))

    root = np.random.SeedSequence(seed)
    rows: list[dict] = []
    for a, arm in enumerate(arms):
        for s, (sample, keep) in enumerate(samples):
            comparison = _comparison(
                panel, arm, sample, keep, bootstrap, permutations, _streams(root, a, s)
            )
            if comparison is None:
                notes.append(f"arm {arm}: no participants of both arms in the {sample} sample")
                continue
            new_rows = []
            if cell_names or pooled_names:
                onehot, slices = _onehot(panel.values[comparison.pool], grids)
                tables = _count_tables(comparison, onehot)
                del onehot
                pooled = _PooledIndices(pooled_names)
                for j in range(len(panel.items)):
                    new_rows += _index_rows(
                        panel, comparison, tables, j, slices[j], grids[j], cell_names, pre,
                        post, level, pooled, reverse_mask,
                    )
                del tables
                new_rows += pooled.rows(panel, comparison, pre, post, level)
            if "constraint" in index_names:
                new_rows += _constraint_rows(panel, comparison, grids, pre, post, level)
            pending: list = []
            for j in range(len(panel.items)):
                for outcome in outcome_names:
                    start = len(new_rows)
                    item_pending: list = []
                    new_rows += _twfe_rows(
                        panel, comparison, j, outcome, grids[j], level,
                        intervention_wave, item_pending,
                    )
                    pending += [([start + r for r in targets], summary, gram) for targets, summary, gram in item_pending]
            _fill_twfe_ri(new_rows, pending, comparison.permutations)
            for row in new_rows:
                row["sample"] = sample
                if sample != "all":
                    row["method"] = f"{row['method']}_{sample}"
            rows += new_rows

    frame = _finish(rows, attrition, panel, primary_outcome, primary_item)
    return EffectTable(frame=frame, attrition=attrition, warnings=tuple(notes))


def _streams(root: np.random.SeedSequence, arm_index: int, sample_index: int):
    """Independent bootstrap and permutation streams per (arm, sample), fixed by the seed."""
    child = np.random.SeedSequence(root.entropy, spawn_key=(arm_index, sample_index))
    return child.spawn(2)


def _item_scales(panel: _Panel, scales, answers: pd.DataFrame, item_codes: np.ndarray) -> list[Scale]:
    """Each item's scale (given, or inferred from its answers); values off it raise
    :class:`~analysis.stats.tables.ScaleError` naming the row."""
    found = []
    values = _numeric_values(answers)
    for j, item in enumerate(panel.items):
        if scales is None:
            scale = _infer_scale(panel.values[:, :, j])
        elif isinstance(scales, Mapping):
            if item not in scales:
                raise ValueError(f"no scale given for item {item!r}")
            scale = Scale.coerce(scales[item])
        else:
            scale = Scale.coerce(scales)
        rows = np.flatnonzero(item_codes == j)
        scale.codes(values[rows], item=item, rows=answers.index[rows])
        found.append(scale)
    return found


def _warned(first_differential_wave, wave) -> bool:
    if first_differential_wave is None:
        return False
    return wave == POOLED or int(wave) >= first_differential_wave


def _finish(rows, attrition, panel, primary_outcome, primary_item) -> pd.DataFrame:
    columns = list(RECORD_FIELDS) + list(EXTRA_FIELDS)
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    family = ["outcome", "item", "wave", "method", "sample", "group"]
    keys = frame[family].map(str).agg("\x1f".join, axis=1)
    frame["p_holm"] = frame.groupby(keys, sort=False)["p_value"].transform(
        lambda p: holm(p.to_numpy(dtype=float))
    )

    differential = attrition[attrition["differential"]]
    first_bad = differential.groupby("arm")["wave"].min().to_dict()

    frame["attrition_warning"] = [
        _warned(first_bad.get(arm), wave) for arm, wave in zip(frame["arm"], frame["wave"], strict=True)
    ]
    is_primary = frame["outcome"] == primary_outcome if primary_outcome else False
    if primary_outcome and primary_item:
        is_primary = is_primary & (frame["item"] == primary_item)
    frame["primary"] = np.asarray(is_primary, dtype=bool) if primary_outcome else False
    frame["n"] = frame["n"].astype(np.int64)
    frame["n_obs"] = frame["n_obs"].astype(np.int64)
    frame["wave"] = frame["wave"].astype(object)
    return frame[columns]
