"""The index registry lists every name the stats code produces, in the documented order, and
every list of index names elsewhere derives from it."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import glossary
from analysis.stats import indices as ix
from analysis.stats.effects import DEFAULT_INDICES, SUPPORTED_INDICES, estimate_effects
from analysis.stats.tables import Scale, compute_index_table
from analysis.stats.text import TEXT_INDICES, text_indices

#: The names and their order as docs/indices.md lists them (a contract: stored, API, CLI).
DOCUMENTED = (
    "n", "mean", "sd", "mad_pairwise", "agreement_a", "leik_d", "tw_consensus", "entropy_norm", "bimodality",
    "esteban_ray",
    "group_gap", "cohens_d", "wasserstein", "overlap",
    "constraint", "alignment",
    "text_negativity", "text_negativity_mean",
)
#: The dashboards' order (index selector, effect outcomes).
DISPLAYED = (
    "mad_pairwise", "agreement_a", "leik_d", "tw_consensus", "entropy_norm", "bimodality", "esteban_ray", "mean",
    "sd", "n", "group_gap", "cohens_d", "wasserstein", "overlap", "constraint", "alignment", "text_negativity",
    "text_negativity_mean",
)


def panel(participants=30, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(participants):
        for wave in (1, 2):
            for item in ("q1", "q2", "q3"):
                rows.append({"participant": f"p{p}", "wave": wave, "item": item, "value": float(rng.integers(1, 6)),
                             "side": "left" if p % 2 else "right", "arm": "control" if p % 3 else "treated"})
    return pd.DataFrame(rows)


def test_the_registry_holds_the_documented_names_in_order_and_display_order():
    assert glossary.names() == DOCUMENTED
    assert glossary.display_order() == DISPLAYED
    assert len(set(glossary.BY_NAME)) == len(glossary.INDICES)
    assert sorted(e.display for e in glossary.INDICES) == list(range(1, len(glossary.INDICES) + 1))
    assert glossary.names(glossary.PAIR, glossary.CELL)[:4] == ("group_gap", "cohens_d", "wasserstein", "overlap")


def test_the_facts_per_index():
    assert glossary.where(own_units=True) == ("mean", "sd")
    assert glossary.where(count=True) == ("n",)
    assert glossary.where(pair_key=True) == ("group_gap", "cohens_d", "wasserstein", "overlap", "alignment")
    assert glossary.where(reverse=glossary.MIRROR) == ("mean",)
    assert glossary.where(reverse=glossary.NEGATE) == ("group_gap", "cohens_d")
    assert ix.DIRECTIONAL_INDICES == {"mean", "group_gap", "cohens_d"}


def test_an_unknown_name_or_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown index 'gini'"):
        glossary.entry("gini")
    with pytest.raises(ValueError, match="unknown family 'pairs'"):
        glossary.names("pairs")
    with pytest.raises(ValueError, match="unknown family"):
        glossary.IndexEntry("x", "cells", display=99)


def test_every_list_of_names_derives_from_the_registry():
    assert ix.CELL_INDICES == DOCUMENTED[:10]
    assert ix.PAIR_INDICES == DOCUMENTED[10:14]
    assert ix.ACROSS_ITEM_INDICES == DOCUMENTED[14:16]
    assert TEXT_INDICES == DOCUMENTED[16:]
    assert DEFAULT_INDICES == DOCUMENTED[1:16] and SUPPORTED_INDICES == set(DOCUMENTED[1:16])


def test_the_index_table_writes_registry_names_in_the_documented_order():
    table = compute_index_table(panel(), scales=Scale(1, 5), by=["side"], bootstrap=0, seed=0)
    produced = list(dict.fromkeys(table.frame["index"]))
    assert set(produced) == set(glossary.names(glossary.CELL, glossary.PAIR, glossary.ACROSS_ITEM))
    first_wave = table.frame[(table.frame["wave"] == 1) & (table.frame["item"] == "q1")]
    assert list(dict.fromkeys(first_wave["index"])) == [*DOCUMENTED[:14]]
    cell_names = {name: ix.cell_indices([[3, 1, 0, 2, 4]])[name] for name in ix.CELL_INDICES}
    assert tuple(cell_names) == ix.CELL_INDICES
    assert tuple(ix.pair_indices([1, 2, 3], [3, 2, 1])) == ix.PAIR_INDICES


def test_the_text_and_effect_code_produce_registry_names():
    assert [r["index"] for r in text_indices([1.0, 0.0], [2.0, 1.0], bootstrap=0)] == list(TEXT_INDICES)
    effects = estimate_effects(panel(), control="control", intervention_wave=2, scales=Scale(1, 5), by="side",
                               bootstrap=0, permutations=0, outcomes=()).frame
    assert set(effects["outcome"]) == set(DEFAULT_INDICES)
