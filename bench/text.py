"""Benchmark of the text measure: `python bench/text.py [--texts N] [--words W] [--workers P]`.

Builds N synthetic texts (default 1,000,000) of W words (default 30): words drawn with a
Zipf-like frequency from VADER's lexicon words, English stop-words and 20,000 made-up neutral
words, a tenth of them followed by punctuation and a tenth capitalised. Then times, with the
default lexicon (VADER) and pipeline (lowercase, tokenize, stop-words, simplemma base forms,
lexicon lookup):

1. scoring every text in one process (cold: each distinct word is lemmatized once, included);
2. the same split over P worker processes (default 2; fork), as on a 2-core machine;
3. the per-period series (``text_series``) over 120 months with bootstrap intervals.

Prints texts per second and peak memory (maximum resident set size of this process, and of the
workers); it asserts nothing about time. The target is at least 50,000 texts/s on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.text import ENGLISH_STOP_WORDS, TextScorer, text_series, vader_lexicon  # noqa: E402

TEXTS: list[str] = []


def synthetic_texts(n: int, words: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lexicon = [w for w in vader_lexicon().scores if w.isalpha()]
    consonants, vowels = list("bcdfghjklmnprstvwz"), list("aeiou")
    made_up = ["".join(rng.choice(consonants, 3)) + "".join(rng.choice(vowels, 2)) + "x" * (i % 7)
               for i in range(20_000)]
    base = sorted(ENGLISH_STOP_WORDS) + lexicon + made_up
    rng.shuffle(base)
    # each word as written, followed by a comma or a full stop, or capitalised
    variants = [form for word in base for form in (word, word + ",", word + ".", word.capitalize())]
    weights = 1.0 / np.arange(1, len(base) + 1) ** 0.9  # Zipf-like: a few words are very frequent
    weights /= weights.sum()
    texts = []
    for start in range(0, n, 100_000):
        rows = min(100_000, n - start)
        drawn = rng.choice(len(base), size=(rows, words), p=weights) * 4
        drawn += rng.choice(4, size=(rows, words), p=[0.8, 0.05, 0.05, 0.1])
        texts.extend(" ".join(map(variants.__getitem__, row)) for row in drawn.tolist())
    return texts


def _score_range(bounds: tuple[int, int]):
    start, stop = bounds
    scores = TextScorer().score(TEXTS[start:stop])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return scores.negativity, scores.scored, peak


def peak_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--words", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)

    global TEXTS
    started = time.perf_counter()
    TEXTS = synthetic_texts(options.texts, options.words, options.seed)
    vader_lexicon()
    print(f"built {len(TEXTS):,} texts of {options.words} words in {time.perf_counter() - started:.1f} s; "
          f"peak RSS {peak_mb():.0f} MB (texts held in memory)")
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f} (other work on the machine slows the "
          f"wall-clock figures; the CPU-second figures are less affected)")

    scorer = TextScorer()
    started, cpu = time.perf_counter(), time.process_time()
    scores = scorer.score(TEXTS)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"1 process : {elapsed:6.2f} s  {len(TEXTS) / elapsed:10,.0f} texts/s  "
          f"(CPU {cpu:.2f} s: {len(TEXTS) / cpu:,.0f} texts per CPU-second; {scorer.vocabulary_size:,} distinct "
          f"words; {int(scores.scored.sum()):,} of {int(scores.tokens.sum()):,} words scored); "
          f"peak RSS {peak_mb():.0f} MB")

    if options.workers > 1:
        step = -(-len(TEXTS) // options.workers)
        bounds = [(i, min(i + step, len(TEXTS))) for i in range(0, len(TEXTS), step)]
        context = multiprocessing.get_context("fork")
        started = time.perf_counter()
        with context.Pool(options.workers) as pool:
            parts = pool.map(_score_range, bounds)
        elapsed = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = children.ru_utime + children.ru_stime
        negativity = np.concatenate([p[0] for p in parts])
        assert np.allclose(negativity, scores.negativity)  # same result as one process
        print(f"{options.workers} processes: {elapsed:6.2f} s  {len(TEXTS) / elapsed:10,.0f} texts/s  "
              f"(pool start and result transfer included; workers' CPU {cpu:.2f} s); peak RSS per worker "
              f"{max(p[2] for p in parts) / 1024:.0f} MB")

    periods = np.repeat([f"{2000 + m // 12}-{m % 12 + 1:02d}" for m in range(120)], -(-len(TEXTS) // 120))
    started = time.perf_counter()
    series = text_series(scores, periods[:len(TEXTS)], bootstrap=options.bootstrap, seed=0)
    elapsed = time.perf_counter() - started
    print(f"series    : {elapsed:6.2f} s  for {len(series)} months with {options.bootstrap} bootstrap resamples "
          f"of texts each; peak RSS {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
