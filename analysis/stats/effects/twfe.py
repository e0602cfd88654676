"""Two-way fixed effects: designs, the within transformation, clustered standard errors, the
randomization distribution of the coefficients, and the individual outcomes estimated with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from analysis.stats.effects.panel import POOLED, _ri_p
from common import group_keys


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


def _permutation_summaries(fe, y, observed, design, dtype=float) -> np.ndarray:
    """Per-participant (S, A, C) of :func:`twfe_permutation_coefficients`, flattened:
    (m, K + K^2 + (waves - 1) K), each part computed in float64 and stored in ``dtype`` (the
    randomization products take float32: no float64 copy of the whole matrix)."""
    mask = observed.astype(float)
    m, n_waves = mask.shape
    k = design.shape[1]
    out = np.empty((m, k + k * k + (n_waves - 1) * k), dtype=dtype)
    f = mask[:, :, None] * design[None, :, :]  # (m, T, K)
    total = f.sum(axis=1)  # (m, K)
    out[:, :k] = np.einsum("mtk,mt->mk", f, y)
    a = np.einsum("mtk,tl->mkl", f, design) - total[:, :, None] * total[:, None, :] / fe.count[:, None, None]
    out[:, k:k + k * k] = a.reshape(m, -1)
    del a
    c = f[:, 1:, :] - fe.a[:, 1:, None] * total[:, None, :]
    out[:, k + k * k:] = c.reshape(m, -1)
    return out


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
        pending.append(([len(rows)], _permutation_summaries(fe, y_res, observed, post_design, np.float32),
                        fe.gram_inv))
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
            "group": group_keys.ALL,
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
        pending.append(([len(rows) + col for col in np.flatnonzero(usable)],
                        _permutation_summaries(fe, y_res, observed, design[:, usable], np.float32), fe.gram_inv))
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
                "group": group_keys.ALL,
                "p_ri": np.nan,
                "n_obs": fit.n_obs,
            }
        )
    return rows


# Summaries waiting for their randomization product, at most this many bytes (float32): one
# product for all items and outcomes of a comparison while they fit (about 1,400 participants
# with 20 waves, 10 items and 3 outcomes), else one per block of this size. Holding them all
# took participants x 762 floats per item and outcome (12 GB at 100,000 participants).
_RI_BLOCK_BYTES = 2**27


class _TwfeRandomization:
    """Randomization p-values of a comparison's TWFE and event-study rows: ``add`` each
    (rows, float32 summaries, G^+) of :func:`_twfe_rows` once its rows are in ``rows``; the
    product with the re-randomized treatments is taken for blocks of summaries up to
    :data:`_RI_BLOCK_BYTES`, then a small solve per permutation (see
    :func:`twfe_permutation_coefficients`); ``finish`` takes the last block."""

    def __init__(self, rows: list, permutations: np.ndarray) -> None:
        self.rows, self.permutations = rows, permutations
        self.pending: list = []
        self.size = 0

    def add(self, targets, summaries: np.ndarray, gram_inv: np.ndarray) -> None:
        if self.pending and self.size + summaries.nbytes > _RI_BLOCK_BYTES:
            self.finish()
        self.pending.append((targets, summaries, gram_inv))
        self.size += summaries.nbytes

    def finish(self) -> None:
        _fill_twfe_ri(self.rows, self.pending, self.permutations)
        self.pending, self.size = [], 0


def _fill_twfe_ri(rows, pending, permutations) -> None:
    """Randomization p-values of the TWFE and event-study rows: one product for the pending
    summaries, then a small solve per permutation (see :func:`twfe_permutation_coefficients`)."""
    if not pending:
        return
    widths = [summary.shape[1] for _, summary, _ in pending]
    stacked = np.hstack([summary for _, summary, _ in pending]).astype(np.float32, copy=False)
    products = permutations @ stacked
    del stacked
    offset = 0
    for (targets, _, gram_inv), width in zip(pending, widths, strict=True):
        permuted = _permutation_solve(products[:, offset : offset + width], gram_inv, len(targets))
        for column, row in enumerate(targets):
            rows[row]["p_ri"] = _ri_p(rows[row]["estimate"], permuted[:, column])
        offset += width
