"""The index names: one record per index, the one place that lists them.

Names are a contract (stored results, API, CLI output, dashboards): they never change. The
table is in the documented order (docs/indices.md), which is also the order of the rows the
index table and the ``indices`` command write; ``display`` is the order of the dashboards'
lists (index selector, effect outcomes). Everything that lists indices derives its list here:
:mod:`analysis.stats.indices` (``CELL_INDICES``, ``PAIR_INDICES``, ``ACROSS_ITEM_INDICES``),
the index table's row order, the text indices, the effects' default and supported indices,
and the dashboards. Adding an index is one record here plus its function.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Families: one cell (wave x item x group); two groups A and B of one cell (signed A minus
#: B); across the items of a wave; free texts.
CELL = "cell"
PAIR = "pair"
ACROSS_ITEM = "across-item"
TEXT = "text"
FAMILIES = (CELL, PAIR, ACROSS_ITEM, TEXT)

#: How reverse coding an item changes an index: it mirrors on the scale (max + min - value)
#: or changes sign; other indices are symmetric.
MIRROR = "mirror"
NEGATE = "negate"


@dataclass(frozen=True)
class IndexEntry:
    name: str
    family: str
    #: Position in the dashboards' lists, lowest first.
    display: int
    #: Values on the item's own scale (``mean``, ``sd``); the others are shares of the scale,
    #: standardized, counts or correlations, and do not depend on its location and unit.
    own_units: bool = False
    #: MIRROR, NEGATE or None: what reverse coding an item does to the index.
    reverse: str | None = None
    #: The number of answers: no interval, and no intervention effect is estimated on it.
    count: bool = False
    #: Rows keyed by a pair of groups (``<col>:<a>|<col>:<b>``): needs a grouping column with
    #: at least two groups.
    pair_key: bool = False
    #: Drawn in the trends page's between-groups chart.
    between_chart: bool = False

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        if self.reverse not in (None, MIRROR, NEGATE):
            raise ValueError(f"{self.name}: unknown reverse rule {self.reverse!r}")


INDICES: tuple[IndexEntry, ...] = (
    IndexEntry("n", CELL, display=10, count=True),
    IndexEntry("mean", CELL, display=8, own_units=True, reverse=MIRROR),
    IndexEntry("sd", CELL, display=9, own_units=True),
    IndexEntry("mad_pairwise", CELL, display=1),
    IndexEntry("agreement_a", CELL, display=2),
    IndexEntry("leik_d", CELL, display=3),
    IndexEntry("tw_consensus", CELL, display=4),
    IndexEntry("entropy_norm", CELL, display=5),
    IndexEntry("bimodality", CELL, display=6),
    IndexEntry("esteban_ray", CELL, display=7),
    IndexEntry("group_gap", PAIR, display=11, reverse=NEGATE, pair_key=True, between_chart=True),
    IndexEntry("cohens_d", PAIR, display=12, reverse=NEGATE, pair_key=True),
    IndexEntry("wasserstein", PAIR, display=13, pair_key=True, between_chart=True),
    IndexEntry("overlap", PAIR, display=14, pair_key=True),
    IndexEntry("constraint", ACROSS_ITEM, display=15),
    IndexEntry("alignment", ACROSS_ITEM, display=16, pair_key=True),
    IndexEntry("text_negativity", TEXT, display=17),
    IndexEntry("text_negativity_mean", TEXT, display=18),
)

BY_NAME: dict[str, IndexEntry] = {entry.name: entry for entry in INDICES}


def entry(name: str) -> IndexEntry:
    """The record of an index; ValueError naming the known indices for any other name."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown index {name!r}; known: {', '.join(BY_NAME)}") from None


def _of(families: tuple[str, ...]) -> list[IndexEntry]:
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    return [e for family in (families or FAMILIES) for e in INDICES if e.family == family]


def names(*families: str) -> tuple[str, ...]:
    """Names of the given families (all without any), family by family in the order given,
    each in the documented order."""
    return tuple(e.name for e in _of(families))


def display_order(*families: str) -> tuple[str, ...]:
    """Names of the given families (all without any) in the dashboards' order."""
    return tuple(e.name for e in sorted(_of(families), key=lambda e: e.display))


def where(*families: str, **fields) -> tuple[str, ...]:
    """Names of the given families (all without any) whose fields have the given values, in
    the documented order: ``where(PAIR, between_chart=True)``."""
    return tuple(e.name for e in _of(families) if all(getattr(e, k) == v for k, v in fields.items()))
