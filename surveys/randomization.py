"""Blocked stratified randomization.

Each stratum (one combination of grouping answers) draws from its own sequence of permuted
blocks. A block holds every arm `allocation_weight x multiplier` times in random order, the
multiplier drawn per block from `BLOCK_MULTIPLIERS` so that the next assignment cannot be read
off the block size. Within a stratum the arm counts therefore match the weights exactly at each
block end and never drift by more than one block.
"""

import random
from collections.abc import Mapping, Sequence

BLOCK_MULTIPLIERS = (1, 2)


def stratum_key(groups: Mapping[str, object], codes: Sequence[str]) -> str:
    """The stratum of a participant: ``"<code>:<value>"`` per grouping item, sorted, joined by
    ``|``; ``"all"`` when the study has no grouping items. A missing answer is ``dk``."""
    if not codes:
        return "all"
    parts = []
    for code in sorted(codes):
        value = groups.get(code)
        parts.append(f"{code}:{'dk' if value is None else value}")
    return "|".join(parts)[:255]


def permuted_block(weights: Mapping[int, int], rng: random.Random) -> list[int]:
    """One block: each arm id `weight x m` times (m from BLOCK_MULTIPLIERS), shuffled."""
    multiplier = rng.choice(BLOCK_MULTIPLIERS)
    block = [arm_id for arm_id, weight in sorted(weights.items()) for _ in range(weight * multiplier)]
    rng.shuffle(block)
    return block
