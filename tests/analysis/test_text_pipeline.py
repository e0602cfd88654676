"""Free-text answers in the wave pipeline: text_negativity rows per item and group, by hand."""

import pytest
from django.utils import timezone

from analysis.models import AnalysisRun, IndexResult
from analysis.pipeline import indices
from analysis.pipeline import text as text_pipeline
from analysis.stats.text import Lexicon, TextPipeline, TextScorer
from surveys.models import Response
from tests.factories import (
    ArmFactory,
    GroupingItemFactory,
    ItemFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db

# VADER, base forms first: hate .675, awful .5, wrong .525, stupid .6, angry .575, good 0, fine 0,
# friend 0 (positive), calm 0 (positive); "table", "chair", "walk", "park": not in the lexicon.
TEXTS = {
    # participant: (arm, side, text)
    "a": ("control", 1, "I hate this awful idea"),          # hate .675 + awful .5; idea not found
    "b": ("control", 2, "A good and fine talk"),            # good 0, fine 0; talk not found
    "c": ("treated", 1, "Stupid, wrong and angry!"),        # .6 + .525 + .575
    "d": ("treated", 2, "table chair walk park"),           # no scored word
}


@pytest.fixture
def texts_study():
    study = StudyFactory(slug="texts")
    arms = {"control": ArmFactory(study=study, name="control", is_control=True),
            "treated": ArmFactory(study=study, name="treated")}
    GroupingItemFactory(study=study, code="side")
    trust = ItemFactory(study=study, code="trust", scale_max=5)
    describe = ItemFactory(study=study, code="describe", kind="text", scale_min=None, scale_max=None, step=None)
    wave = WaveFactory(study=study, number=1)
    responses = {}
    for position, (key, (arm, side, text)) in enumerate(TEXTS.items()):
        person = ParticipantFactory(study=study, arm=arms[arm], groups={"side": side})
        submission = SubmissionFactory(participant=person, wave=wave)
        Response.objects.create(submission=submission, item=trust, value=position + 1)
        responses[key] = Response.objects.create(submission=submission, item=describe, text=text)
    preview = ParticipantFactory(study=study, arm=arms["control"], groups={"side": 1}, is_preview=True)
    Response.objects.create(submission=SubmissionFactory(participant=preview, wave=wave), item=describe,
                            text="hate hate hate")
    return {"study": study, "wave": wave, "responses": responses}


def text_rows(study) -> dict:
    rows = IndexResult.objects.filter(study=study, item__code="describe").values_list(
        "group", "index", "value", "ci_low", "ci_high", "n")
    return {(g, i): (v, lo, hi, n) for g, i, v, lo, hi, n in rows}


def test_the_wave_stores_text_indices_per_group_computed_by_hand(texts_study):
    run = indices.compute_wave_indices(study_id=texts_study["study"].pk, wave_id=texts_study["wave"].pk)
    assert run.status == AnalysisRun.Status.DONE
    rows = text_rows(texts_study["study"])
    assert {g for g, _ in rows} == {"all", "arm:control", "arm:treated", "side:1", "side:2"}
    # all: negativity 1.175 + 0 + 1.7 over 2 + 2 + 3 scored words; the preview's text never counts
    value, low, high, n = rows[("all", "text_negativity")]
    assert value == pytest.approx(2.875 / 7) and n == 4
    assert low <= value <= high
    assert rows[("all", "text_negativity_mean")][0] == pytest.approx((1.175 / 2 + 0 + 1.7 / 3) / 3)
    assert rows[("arm:control", "text_negativity")][0] == pytest.approx(1.175 / 4)
    assert rows[("side:1", "text_negativity")][0] == pytest.approx(2.875 / 5)
    assert rows[("side:2", "text_negativity")][0] == pytest.approx(0.0)
    assert rows[("side:2", "text_negativity")][3] == 2
    # the numeric item is computed as before, next to the text rows
    assert IndexResult.objects.filter(study=texts_study["study"], item__code="trust", index="mean").exists()


def test_an_edited_text_answer_changes_the_fingerprint_and_is_recomputed(texts_study):
    study, wave = texts_study["study"], texts_study["wave"]
    indices.compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    again = indices.compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    assert again.status == AnalysisRun.Status.SKIPPED
    Response.objects.filter(pk=texts_study["responses"]["d"].pk).update(text="hate", answered_at=timezone.now())
    changed = indices.compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    assert changed.status == AnalysisRun.Status.DONE
    assert text_rows(study)[("side:2", "text_negativity")][0] == pytest.approx(0.675 / 3)


def test_text_answers_leave_the_numeric_intervals_alone(texts_study):
    study, wave = texts_study["study"], texts_study["wave"]
    indices.compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    numeric = set(IndexResult.objects.filter(study=study, item__code="trust").values_list(
        "group", "index", "value", "ci_low", "ci_high"))
    Response.objects.filter(item__code="describe").delete()
    indices.compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    assert not text_rows(study)
    assert set(IndexResult.objects.filter(study=study, item__code="trust").values_list(
        "group", "index", "value", "ci_low", "ci_high")) == numeric


def test_text_index_frame_with_a_toy_lexicon_and_no_bootstrap():
    import pandas as pd

    texts = pd.DataFrame({"wave": [1, 1, 2], "item": ["q", "q", "q"], "text": ["bad bad", "good", "bad"],
                          "arm": ["x", "y", "x"]})
    scorer = TextScorer(Lexicon("toy", {"bad": (1.0, 0.0), "good": (0.0, 1.0)}), TextPipeline(lemmatize=False))
    frame = text_pipeline.text_index_frame(texts, grouping=[], seed=1, bootstrap=0, level=0.95, scorer=scorer)
    got = {(r.wave, r.group, r.index): (r.value, r.n) for r in frame.itertuples()}
    assert got[(1, "all", "text_negativity")] == (pytest.approx(2 / 3), 2)
    assert got[(1, "all", "text_negativity_mean")] == (pytest.approx(0.5), 2)
    assert got[(1, "arm:y", "text_negativity")] == (0.0, 1)
    assert got[(2, "all", "text_negativity")] == (1.0, 1)
    assert frame["ci_low"].isna().all()


def test_texts_are_scored_in_their_participants_language_or_left_out_with_a_note(tmp_path, settings):
    import pandas as pd

    texts = pd.DataFrame({"wave": [1, 1, 1], "item": ["q", "q", "q"], "arm": ["x", "x", "x"],
                          "text": ["awful", "Die Katze ist nicht gut", "schlecht"], "language": ["en", "de", "de"]})
    settings.TEXT_LEXICONS = ""
    notes: list[str] = []
    frame = text_pipeline.text_index_frame(texts, grouping=[], seed=1, bootstrap=0, level=0.95, notes=notes)
    got = {(r.group, r.index): (r.value, r.n) for r in frame.itertuples()}
    assert got[("all", "text_negativity")] == (pytest.approx(0.5), 1)  # only the English text: awful .5
    assert notes == ["2 text answers in 'de' left out: no lexicon for language 'de': set TEXT_LEXICONS "
                     "(e.g. de=/path/lexicon.txt; docs/text.md)"]
    lexicon = tmp_path / "de.txt"
    lexicon.write_text("gut|ADJX\t0.4\t\nschlecht|ADJX\t-0.8\t\n", encoding="utf-8")
    settings.TEXT_LEXICONS = f"de={lexicon}"
    notes = []
    frame = text_pipeline.text_index_frame(texts, grouping=[], seed=1, bootstrap=0, level=0.95, notes=notes)
    got = {(r.group, r.index): (r.value, r.n) for r in frame.itertuples()}
    # awful .5; "nicht gut": 0.74 * 0.4 (negated); schlecht .8: (0.5 + 0.296 + 0.8) / 3 scored words
    assert got[("all", "text_negativity")] == (pytest.approx((0.5 + 0.296 + 0.8) / 3), 3)
    assert notes == []
