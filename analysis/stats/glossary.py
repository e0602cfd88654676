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


# --- What each name means: the glossary a researcher reads ------------------------------------
# One record per index (and per individual outcome and estimation method), read by the
# dashboards' drop-downs and chart titles, the glossary page, the study report and docs/indices.md.

#: Which way an index moves when people disagree more.
HIGHER = "higher"
LOWER = "lower"
AWAY_FROM_ZERO = "further from 0"
DIRECTIONS = (HIGHER, LOWER, AWAY_FROM_ZERO, None)


@dataclass(frozen=True)
class Term:
    """The reading of one name: label, definition, range, the direction of more disagreement,
    when it is undefined, and where it comes from."""

    name: str
    label: str
    definition: str
    range: str
    #: HIGHER, LOWER, AWAY_FROM_ZERO, or None when the value says nothing about disagreement
    #: (a count, a position on the scale).
    more_disagreement: str | None
    undefined: str
    reference: str
    #: Width of the possible range for an effect "as a share of the possible range": a number
    #: for fixed ranges, SCALE (the item's max - min), HALF_SCALE, or None (no finite range).
    span: float | str | None = None

    def __post_init__(self):
        if self.more_disagreement not in DIRECTIONS:
            raise ValueError(f"{self.name}: unknown direction {self.more_disagreement!r}")

    @property
    def direction_text(self) -> str:
        """"higher = more disagreement" (or what the value says instead)."""
        if self.more_disagreement is None:
            return "not a measure of disagreement"
        return f"{self.more_disagreement} = more disagreement"


SCALE = "scale"
HALF_SCALE = "half-scale"

_ON_N = "undefined with no answers"
_VDE = "van der Eijk, C. (2001). Measuring agreement in ordered rating scales. Quality & Quantity 35, 325-341."

TERMS: tuple[Term, ...] = (
    Term("mad_pairwise", "Pairwise distance (MAD)",
         "Mean absolute difference between the answers of two distinct random respondents, as a share "
         "of the scale: how far apart two people are.",
         "0 (everyone agrees) to about 0.5 (half at each end)", HIGHER,
         "undefined with fewer than 2 answers",
         "Gini's mean difference; see e.g. Yitzhaki, S. (2003). Gini's mean difference. Metron 61, 285-316.",
         span=0.5),
    Term("agreement_a", "Agreement A (van der Eijk)",
         "Van der Eijk's agreement A from the layers of the answer distribution (as R agrmt >= 1.40 "
         "computes it): 1 when all answer alike, 0 for a uniform spread, -1 when split between the ends.",
         "-1 (polarized) to 1 (full agreement)", LOWER, _ON_N, _VDE, span=2.0),
    Term("leik_d", "Ordinal dispersion (Leik D)",
         "Leik's ordinal dispersion from the cumulative shares: 2 sum min(F_i, 1 - F_i) / (k - 1).",
         "0 (all in one category) to 1 (half at each end)", HIGHER, _ON_N,
         "Leik, R. K. (1966). A measure of ordinal consensus. Pacific Sociological Review 9, 85-90.",
         span=1.0),
    Term("tw_consensus", "Consensus (Tastle & Wierman)",
         "Tastle and Wierman's consensus: 1 + sum p_i log2(1 - |i - mean| / (k - 1)).",
         "0 (half at each end) to 1 (all in one category)", LOWER, _ON_N,
         "Tastle, W. J., & Wierman, M. J. (2007). Consensus and dissention: a measure of ordinal "
         "dispersion. International Journal of Approximate Reasoning 45, 531-545.", span=1.0),
    Term("entropy_norm", "Spread of answers (normalized entropy)",
         "Shannon entropy of the answer shares divided by ln k: how evenly answers spread over the "
         "categories (largest for a uniform spread, not for two poles).",
         "0 (all in one category) to 1 (uniform)", HIGHER, _ON_N,
         "Shannon, C. E. (1948). A mathematical theory of communication. Bell System Technical Journal 27.",
         span=1.0),
    Term("bimodality", "Bimodality coefficient",
         "(G1^2 + 1) / (G2 + 3(n-1)^2 / ((n-2)(n-3))) with bias-corrected skewness G1 and excess "
         "kurtosis G2; above 5/9 (0.555) suggests two camps.",
         "0 to 1 (5/9 for a uniform distribution)", HIGHER,
         "undefined with fewer than 4 answers or when all answers are equal",
         "Pfister, R. et al. (2013). Good things peak in pairs: a note on the bimodality coefficient. "
         "Frontiers in Psychology 4, 700.", span=1.0),
    Term("esteban_ray", "Polarization (Esteban & Ray)",
         "Esteban and Ray's polarization: sum_i sum_j p_i^(1+alpha) p_j |y_i - y_j| over the "
         "categories, scale rescaled to 0..1, alpha = 1.6: large when answers form few, distant, "
         "similar-sized camps.",
         "0 (all in one category) to 0.165 (half at each end)", HIGHER, _ON_N,
         "Esteban, J.-M., & Ray, D. (1994). On the measurement of polarization. Econometrica 62, 819-851.",
         span=0.5 ** 2.6),
    Term("mean", "Mean answer",
         "The mean answer on the item's own scale (pooled over items: on answers rescaled to 0..1). "
         "A position, not a disagreement.",
         "the item's scale (pooled: 0 to 1)", None, _ON_N, "-", span=SCALE),
    Term("sd", "Standard deviation",
         "Sample standard deviation (ddof 1) of the answers on the item's own scale (pooled over items: "
         "on answers rescaled to 0..1).",
         "0 to about half the scale's width", HIGHER, "undefined with fewer than 2 answers", "-",
         span=HALF_SCALE),
    Term("n", "Number of answers", "Answers in the cell (pooled rows: participants with at least one answer).",
         "0 and up", None, "never", "-"),
    Term("group_gap", "Group gap (difference of means)",
         "Mean of group A minus mean of group B, as a share of the scale (signed: A minus B).",
         "-1 to 1", AWAY_FROM_ZERO, "undefined when either group has no answers",
         "DiMaggio, P., Evans, J., & Bryson, B. (1996). Have Americans' social attitudes become more "
         "polarized? American Journal of Sociology 102, 690-755.", span=2.0),
    Term("cohens_d", "Standardized gap (Cohen's d)",
         "Mean of A minus mean of B divided by the pooled standard deviation (signed: A minus B).",
         "unbounded; 0 = no gap", AWAY_FROM_ZERO,
         "undefined when either group has fewer than 2 answers or the pooled SD is 0",
         "Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (2nd ed.).", span=None),
    Term("wasserstein", "Distribution distance (Wasserstein)",
         "Earth mover's distance between the two groups' answer distributions, as a share of the scale.",
         "0 (same distribution) to 1 (all at opposite ends)", HIGHER,
         "undefined when either group has no answers",
         "Villani, C. (2009). Optimal Transport: Old and New. Springer.", span=1.0),
    Term("overlap", "Overlap of the groups",
         "Sum over categories of the smaller of the two groups' shares: the share of answers the two "
         "distributions have in common.",
         "0 (no overlap) to 1 (same distribution)", LOWER, "undefined when either group has no answers",
         "Inman, H. F., & Bradley, E. L. (1989). The overlapping coefficient. Communications in "
         "Statistics 18, 3851-3874.", span=1.0),
    Term("constraint", "Constraint (item correlation)",
         "Mean absolute Pearson correlation between pairs of attitude items (pairwise-complete, "
         "reverse-coded items flipped): how tightly attitudes hang together.",
         "0 to 1", HIGHER, "undefined with fewer than 2 items or no variance",
         "DiMaggio, Evans & Bryson (1996); Baldassarri, D., & Gelman, A. (2008). Partisans without "
         "constraint. American Journal of Sociology 114, 408-446.", span=1.0),
    Term("alignment", "Alignment with the groups (eta)",
         "Mean over attitude items of the correlation ratio eta between the item and the split into "
         "the two groups: how far answers follow group lines.",
         "0 (unrelated) to 1 (answers follow the groups exactly)", HIGHER,
         "undefined when a group has no answers or an item has no variance",
         "Baldassarri & Gelman (2008).", span=1.0),
    Term("text_negativity", "Text negativity",
         "Sum of negativity over the scored words divided by the number of scored words, pooled over "
         "the texts of the cell or period (topic-free lexicon measure).",
         "0 to 1", HIGHER, "undefined when no word of the texts is in the lexicon",
         "Hutto, C., & Gilbert, E. (2014). VADER. ICWSM; or the lexicon named with the series.", span=1.0),
    Term("text_negativity_mean", "Text negativity (mean over texts)",
         "Mean over texts of each text's negativity ratio.", "0 to 1", HIGHER,
         "undefined when no text has a scored word", "As text negativity.", span=1.0),
)

#: Individual outcomes of the effects (answers, not indices) and the estimation methods.
OUTCOME_TERMS: tuple[Term, ...] = (
    Term("value", "Answer", "A participant's answer on the item's own scale.", "the item's scale", None,
         "never (missing answers are left out)", "-", span=SCALE),
    Term("extremity", "Extremity", "Distance of an answer from the scale's midpoint, on the item's scale.",
         "0 to half the scale's width", HIGHER, "never (missing answers are left out)", "-", span=HALF_SCALE),
    Term("distance_other_group", "Distance to the other group",
         "Distance of an answer from the mean answer of the other group's control arm in the same wave.",
         "0 to the scale's width", HIGHER, "undefined without a grouping item with two groups", "-", span=SCALE),
)

METHOD_LABELS: dict[str, str] = {
    "did_bootstrap": "difference in differences (cluster bootstrap)",
    "twfe": "two-way fixed effects regression",
    "event_study": "event study (per-wave regression)",
}

TERMS_BY_NAME: dict[str, Term] = {term.name: term for term in (*TERMS, *OUTCOME_TERMS)}


def term(name: str) -> Term | None:
    """The glossary record of an index or individual outcome; None for an unknown name."""
    return TERMS_BY_NAME.get(name)


def label(name: str) -> str:
    """"Agreement A (van der Eijk)" for ``agreement_a``; the name itself when it has no record."""
    found = TERMS_BY_NAME.get(name)
    return found.label if found else name


def method_label(method: str) -> str:
    """A readable estimation method; ``*_balanced`` methods say "balanced panel"."""
    base, _sep, sample = method.partition("_balanced")
    text = METHOD_LABELS.get(base, base)
    return f"{text}, balanced panel" if method.endswith("_balanced") else text


def possible_span(name: str, *, scale_width: float | None = None) -> float | None:
    """Width of the possible range of `name`, for effects "as a share of the possible range":
    fixed for most indices; the item's scale width (or half of it) for answers, ``mean`` and
    ``sd`` (pooled rows are on 0..1: pass 1); None when unbounded or unknown."""
    found = TERMS_BY_NAME.get(name)
    if found is None or found.span is None:
        return None
    if found.span == SCALE:
        return scale_width if scale_width else None
    if found.span == HALF_SCALE:
        return scale_width / 2 if scale_width else None
    return float(found.span)
