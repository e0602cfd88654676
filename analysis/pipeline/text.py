"""Free-text answers in the wave pipeline: ``text_negativity`` and ``text_negativity_mean`` rows.

`compute_wave_indices` (analysis/pipeline/indices.py) adds these rows to a wave's index table
through :func:`with_text_indices`, from the texts its inputs read
(`analysis.pipeline.inputs.wave_texts_frame`), and its input fingerprint includes
`analysis.pipeline.inputs.wave_text_state`, so a changed or new text answer triggers a recompute
like a changed number does. Every free-text item (kind ``text``) of the wave is scored with the
default lexicon and pipeline (:mod:`analysis.stats.text`) per group: ``all``, ``arm:<name>``,
``<grouping code>:<value>``. The interval resamples texts, i.e. participants (one text per
participant, item and wave); ``n`` is the number of texts of the cell. Only analysable
participants count (never previews, withdrawn or excluded participants), as for the numeric
indices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.stats.text import TextScorer, text_indices
from common import group_keys

COLUMNS = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]


@lru_cache(maxsize=1)
def default_scorer() -> TextScorer:
    """One scorer per process: it remembers each distinct word's outcome across waves."""
    return TextScorer()


def text_index_frame(texts: pd.DataFrame, *, grouping: list[str], seed: int, bootstrap: int, level: float,
                     scorer: TextScorer | None = None) -> pd.DataFrame:
    """Both text indices per (wave, item, group) of a frame like `inputs.wave_texts_frame`'s."""
    if texts.empty:
        return pd.DataFrame(columns=COLUMNS)
    scores = (scorer or default_scorer()).score(texts["text"].tolist())
    texts = texts.assign(negativity=scores.negativity, scored=scores.scored)
    rng = np.random.default_rng(seed)
    rows = []
    for (wave, item), cell in texts.groupby(["wave", "item"], sort=True):
        groups = [(group_keys.ALL, cell)]
        groups += [(group_keys.arm(arm), rows_) for arm, rows_ in cell.groupby("arm", sort=True)]
        for code in grouping:
            groups += [(group_keys.single(code, value), rows_) for value, rows_ in cell.groupby(code, sort=True)]
        for group, rows_ in groups:
            for found in text_indices(rows_["negativity"].to_numpy(), rows_["scored"].to_numpy(),
                                      bootstrap=bootstrap, seed=rng, level=level):
                rows.append({"wave": wave, "item": item, "group": group, **found, "n": len(rows_)})
    return pd.DataFrame(rows, columns=COLUMNS)


def with_text_indices(frame: pd.DataFrame, texts: pd.DataFrame, *, grouping: list[str], seed: int, bootstrap: int,
                      level: float) -> pd.DataFrame:
    """The wave's index table with the text indices of its free-text answers `texts` appended."""
    if texts.empty:
        return frame
    # Its own seed stream: adding text items never changes the numeric indices' intervals.
    extra = text_index_frame(texts, grouping=grouping, seed=seed + 1, bootstrap=bootstrap, level=level)
    return extra if frame.empty else pd.concat([frame, extra], ignore_index=True)
