"""The glossary a researcher reads: one record per index, labels, directions and spans."""

import pytest

from analysis.stats import glossary


def test_every_index_has_a_glossary_record_with_every_field():
    assert {t.name for t in glossary.TERMS} == set(glossary.BY_NAME)
    for term in glossary.TERMS:
        assert term.label and term.definition and term.range and term.undefined and term.reference, term.name
        assert term.label != term.name


def test_labels_and_directions_read_as_documented():
    assert glossary.label("agreement_a") == "Agreement A (van der Eijk)"
    assert glossary.label("no_such_index") == "no_such_index"
    assert glossary.term("agreement_a").direction_text == "lower = more disagreement"
    assert glossary.term("mad_pairwise").direction_text == "higher = more disagreement"
    assert glossary.term("group_gap").direction_text == "further from 0 = more disagreement"
    assert glossary.term("mean").direction_text == "not a measure of disagreement"
    assert glossary.method_label("twfe_balanced") == "two-way fixed effects regression, balanced panel"


@pytest.mark.parametrize("name, width, span", [
    ("agreement_a", None, 2.0),  # -1..1
    ("leik_d", None, 1.0),
    ("esteban_ray", None, 0.5 ** 2.6),
    ("mad_pairwise", None, 0.5),
    ("mean", 6.0, 6.0),  # a 7-point item: 1..7
    ("sd", 6.0, 3.0),
    ("value", 100.0, 100.0),  # a 0-100 thermometer
    ("extremity", 100.0, 50.0),
    ("mean", None, None),  # own units without a scale: no share
    ("cohens_d", None, None),  # unbounded
])
def test_the_possible_span_of_each_outcome(name, width, span):
    assert glossary.possible_span(name, scale_width=width) == (pytest.approx(span) if span else None)


def test_the_docs_list_every_index_with_its_label_and_direction():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "indices.md").read_text(encoding="utf-8")
    for term in glossary.TERMS:
        assert f"| `{term.name}` | {term.label} | {term.range} | {term.direction_text} |" in text, term.name
