"""Peak memory of the index table on a sparse design: many items, each answered by different
people (planned missingness, item banks, rotating modules).

    python bench/sparse_indices.py [--items 300] [--answers 300] [--per-person 1] [--bootstrap 200]

Each of ``--items`` items gets ``--answers`` answers; each participant answers ``--per-person``
items (1: every answer from a different person, items x answers participants). Prints the
answers, participants, time and the process's peak resident memory; ``constraint`` and
``alignment`` are computed pairwise-complete, with memory that grows with the answers (and the
pairs of items people share), not with items^2 x participants. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.tables import Scale, compute_index_table  # noqa: E402


def sparse_answers(items: int, answers: int, per_person: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = items * answers // per_person
    # every participant answers `per_person` distinct items; each item gets `answers` answers
    slots = np.repeat(np.arange(items), answers)
    rng.shuffle(slots)
    item = np.empty(people * per_person, dtype=np.int64)
    for start in range(0, len(slots), per_person):  # distinct items per person (re-drawn if not)
        chunk = slots[start:start + per_person]
        item[start:start + per_person] = chunk
    participant = np.repeat(np.arange(people), per_person)
    frame = pd.DataFrame({"participant": participant, "wave": 1, "item": item, "side": participant % 2})
    frame = frame.drop_duplicates(["participant", "item"])
    frame["item"] = "q" + frame["item"].astype(str)
    frame["value"] = rng.integers(1, 8, size=len(frame)).astype(float)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--per-person", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=200)
    options = parser.parse_args()
    frame = sparse_answers(options.items, options.answers, options.per_person)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    table = compute_index_table(frame, scales=Scale(1, 7), by=["side"], bootstrap=options.bootstrap, seed=1)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    constraint = table.frame.query("index == 'constraint' and group == 'all'")["value"]
    print(f"{len(frame)} answers, {frame['participant'].nunique()} participants, {options.items} items, "
          f"{options.per_person} per person, {options.bootstrap} resamples: {seconds:.1f} s, "
          f"peak memory {peak:.0f} MB (before computing {before:.0f} MB); {len(table.frame)} rows; "
          f"constraint {constraint.iloc[0] if len(constraint) else 'none'}")


if __name__ == "__main__":
    main()
