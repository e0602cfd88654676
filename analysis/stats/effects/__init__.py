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


from analysis.stats.effects.did import index_values
from analysis.stats.effects.estimate import (
    DEFAULT_INDICES,
    EXTRA_FIELDS,
    INDIVIDUAL_OUTCOMES,
    RECORD_FIELDS,
    SUPPORTED_INDICES,
    EffectTable,
    estimate_effects,
)
from analysis.stats.effects.panel import POOLED, attrition_table, holm
from analysis.stats.effects.twfe import (
    TwfeFit,
    did_design,
    event_study_design,
    fit_twfe,
    twfe_permutation_coefficients,
)

__all__ = [
    "POOLED",
    "SUPPORTED_INDICES",
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
