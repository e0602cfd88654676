"""Bootstrap replicate weights for weighted respondents: the expanded file's bootstrap for
frequency weights, the Rao-Wu rescaling bootstrap for survey designs.

Every weighted index of :mod:`analysis.stats.weighted` is a function of sums of respondent
weights, so an interval only needs replicate weights: one row per resample, one column per
respondent, and every statistic recomputed with the row in place of the weights.

* Frequency weights without a design (no strata, no clusters): a respondent of weight w stands
  for w identical people. The bootstrap of the expanded file draws N = sum(w) people with
  replacement; how often the copies of respondent i are drawn is Multinomial(N, w / N). That
  draw is the replicate weight, so the intervals are those of the expanded file, without
  expanding it.
* Otherwise (sampling weights, or any ``strata``/``cluster``): the rescaling bootstrap of Rao
  and Wu (1988) with m_h = n_h - 1 (Rao, Wu and Yue 1992). In each stratum h with n_h primary
  sampling units (PSUs; clusters, or respondents when no cluster is given), draw n_h - 1 PSUs
  with replacement, r_hi times PSU i; every respondent of PSU i gets the weight
  ``w * n_h / (n_h - 1) * r_hi``. PSUs are nested in strata (the same cluster label in two
  strata is two PSUs). A stratum needs two PSUs or more.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

KINDS = ("frequency", "sampling")


class DesignError(ValueError):
    """A design the bootstrap cannot resample (a stratum with a single PSU)."""


def _codes(labels, size: int) -> np.ndarray:
    if labels is None:
        return np.zeros(size, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (size,):
        raise ValueError(f"design labels need one entry per respondent ({size}), got shape {labels.shape}")
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    return codes.astype(np.int64)


def psu_layout(strata, clusters, size: int, *, names=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """PSU index per respondent and, per stratum, the PSU indices it holds.

    ``names`` maps stratum codes to labels for the error message (optional)."""
    stratum = _codes(strata, size)
    if clusters is None:
        cluster = np.arange(size, dtype=np.int64)
    else:
        cluster = _codes(clusters, size)
    # PSUs nested in strata: a PSU is a (stratum, cluster) pair.
    _, psu = np.unique(np.stack([stratum, cluster]), axis=1, return_inverse=True)
    psu = np.asarray(psu).reshape(-1)
    n_psu = int(psu.max()) + 1 if size else 0
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[psu] = stratum
    members = [np.flatnonzero(psu_stratum == h) for h in range(int(stratum.max()) + 1 if size else 0)]
    for h, held in enumerate(members):
        if len(held) == 1:
            label = (np.asarray(strata)[stratum == h][0] if strata is not None else h) if names is None else names[h]
            raise DesignError(f"stratum {label!s} has a single PSU: the bootstrap needs two or more per stratum "
                              f"(merge it with a neighbouring stratum)")
    return psu, [held for held in members if len(held)]


def replicate_weights(weights, n_resamples: int, rng: np.random.Generator, *, kind: str = "sampling",
                      strata=None, clusters=None, chunk: int = 100) -> Iterator[np.ndarray]:
    """Replicate weights ``(chunk, respondents)`` float64, ``n_resamples`` rows in all.

    Concatenating the chunks gives the same array for any ``chunk`` only for the Rao-Wu
    bootstrap drawn stratum by stratum within a chunk; keep ``chunk`` fixed for reproducible
    intervals (the callers do).
    """
    if kind not in KINDS:
        raise ValueError(f"weight kind must be one of {KINDS}, got {kind!r}")
    weights = np.asarray(weights, dtype=float)
    size = weights.shape[0]
    chunk = max(1, int(chunk))
    total = weights.sum()
    if kind == "frequency" and strata is None and clusters is None:
        people = int(round(total))
        p = weights / total if total > 0 else np.full(size, 1.0 / max(size, 1))
        done = 0
        while done < n_resamples:
            step = min(chunk, n_resamples - done)
            yield rng.multinomial(people, p, size=step).astype(float)
            done += step
        return
    psu, strata_psus = psu_layout(strata, clusters, size)
    n_psu = int(psu.max()) + 1 if size else 0
    done = 0
    while done < n_resamples:
        step = min(chunk, n_resamples - done)
        factor = np.zeros((step, n_psu))
        for held in strata_psus:
            n_h = len(held)
            draws = rng.multinomial(n_h - 1, np.full(n_h, 1.0 / n_h), size=step)
            factor[:, held] = draws * (n_h / (n_h - 1))
        yield factor[:, psu] * weights[None, :]
        done += step


__all__ = ["KINDS", "DesignError", "psu_layout", "replicate_weights"]
