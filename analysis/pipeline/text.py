"""Free-text answers in the wave pipeline: ``text_negativity`` and ``text_negativity_mean`` rows.

`compute_wave_indices` (analysis/pipeline/indices.py) adds these rows to a wave's index table
through :func:`with_text_indices`, from the texts its inputs read
(`analysis.pipeline.inputs.wave_texts_frame`), and its input fingerprint includes
`analysis.pipeline.inputs.wave_text_state`, so a changed or new text answer triggers a recompute
like a changed number does. Every free-text item (kind ``text``) of the wave is scored per group
with the pipeline of :mod:`analysis.stats.text` and a lexicon of the participant's language
(VADER for English; other languages from ``TEXT_LEXICONS``; texts of a language without one are
left out and the run's parameters say so under ``text_notes``): ``all``, ``arm:<name>``,
``<grouping code>:<value>``. The interval resamples texts, i.e. participants (one text per
participant, item and wave); ``n`` is the number of texts of the cell. Only analysable
participants count (never previews, withdrawn or excluded participants), as for the numeric
indices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from django.conf import settings

from analysis.stats.text import (
    ComponentMissing,
    TextError,
    TextPipeline,
    TextScorer,
    load_lexicon_file,
    text_indices,
)
from common import group_keys

COLUMNS = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]


@lru_cache(maxsize=1)
def default_scorer() -> TextScorer:
    """One scorer per process: it remembers each distinct word's outcome across waves."""
    return TextScorer()


def lexicon_files() -> dict[str, list[str]]:
    """``TEXT_LEXICONS`` (settings, from the environment): language -> lexicon file paths, written
    ``de=/srv/SentiWS_v2.0_Positive.txt+/srv/SentiWS_v2.0_Negative.txt;fr=/srv/fr.tsv``."""
    found: dict[str, list[str]] = {}
    for part in (getattr(settings, "TEXT_LEXICONS", "") or "").split(";"):
        if "=" in part:
            language, paths = part.split("=", 1)
            found[language.strip().lower()] = [p.strip() for p in paths.split("+") if p.strip()]
    return found


@lru_cache(maxsize=16)
def _scorer_for(language: str, paths: tuple[str, ...]) -> TextScorer:
    if not paths:
        if language == "en":
            return default_scorer()
        raise TextError(f"no lexicon for language {language!r}: set TEXT_LEXICONS (e.g. "
                        f"{language}=/path/lexicon.txt; docs/text.md)")
    return TextScorer(load_lexicon_file(list(paths)), TextPipeline(language=language))


def scorer_for(language: str) -> TextScorer:
    """The scorer of texts in ``language``: VADER for English unless ``TEXT_LEXICONS`` names a
    file; another language needs a lexicon of its own, else :class:`TextError` says so."""
    language = (language or "en").split("-")[0].lower()
    return _scorer_for(language, tuple(lexicon_files().get(language, ())))


def _scores(texts: pd.DataFrame, scorer: TextScorer | None, notes: list[str] | None) -> pd.DataFrame:
    """``texts`` with negativity and scored words, each text scored in its participant's language;
    texts of a language without a lexicon are left out (and said in ``notes``)."""
    if scorer is not None or "language" not in texts:
        scores = (scorer or default_scorer()).score(texts["text"].tolist())
        return texts.assign(negativity=scores.negativity, scored=scores.scored)
    parts = []
    for language, rows in texts.groupby(texts["language"].fillna("en").astype(str), sort=True):
        try:
            language_scorer = scorer_for(language)
        except (TextError, ComponentMissing) as error:
            if notes is not None:
                notes.append(f"{len(rows)} text answers in {language!r} left out: {error}")
            continue
        scores = language_scorer.score(rows["text"].tolist())
        parts.append(rows.assign(negativity=scores.negativity, scored=scores.scored))
    return pd.concat(parts).sort_index() if parts else texts.iloc[:0].assign(negativity=[], scored=[])


def text_index_frame(texts: pd.DataFrame, *, grouping: list[str], seed: int, bootstrap: int, level: float,
                     scorer: TextScorer | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """Both text indices per (wave, item, group) of a frame like `inputs.wave_texts_frame`'s.
    Texts are scored with a lexicon of their participant's language (``scorer`` overrides);
    what was left out is appended to ``notes``."""
    if texts.empty:
        return pd.DataFrame(columns=COLUMNS)
    texts = _scores(texts, scorer, notes)
    if texts.empty:
        return pd.DataFrame(columns=COLUMNS)
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
                      level: float, notes: list[str] | None = None) -> pd.DataFrame:
    """The wave's index table with the text indices of its free-text answers `texts` appended."""
    if texts.empty:
        return frame
    # Its own seed stream: adding text items never changes the numeric indices' intervals.
    extra = text_index_frame(texts, grouping=grouping, seed=seed + 1, bootstrap=bootstrap, level=level, notes=notes)
    return extra if frame.empty else pd.concat([frame, extra], ignore_index=True)
