"""The text measure: each pipeline step on small hand-computed texts, and its properties."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.text import (
    ENGLISH_STOP_WORDS,
    ComponentMissing,
    Lexicon,
    TextError,
    TextPipeline,
    TextScorer,
    get_lexicon,
    load_sentiwordnet,
    nltk_tagger,
    parse_sentiwordnet,
    parse_vader,
    period_labels,
    text_indices,
    text_negativity,
    text_negativity_mean,
    text_series,
    tokenize,
    vader_lexicon,
)

# A small lexicon with round numbers, so every expected value below is computed by hand.
TOY = Lexicon("toy", {"hate": (0.5, 0.0), "hated": (0.75, 0.0), "bad": (1.0, 0.0), "good": (0.0, 1.0),
                      "fine": (0.0, 0.0), "argue": (0.25, 0.0)})

SWN_TEXT = """# SentiWordNet 3.0 excerpt written for the tests (format: POS ID PosScore NegScore terms gloss)
a\t00000001\t0.125\t0\table#1\thaving the means
a\t00000002\t0\t0.75\tunable#1\tnot able
n\t00000003\t0\t0.5\tfight#1 battle#2\ta hostile meeting
n\t00000004\t0\t0.25\tfight#2\tan intense verbal dispute
v\t00000005\t0.25\t0.625\tfight#1\tto battle
v\t00000006\t0\t0.875\thate#1\tdislike intensely
r\t00000007\t0\t0.375\tbadly#1\tin a bad manner
s\t00000008\t0.5\t0.25\tkeen#1\tintense

"""


def scorer(lexicon=TOY, **pipeline):
    return TextScorer(lexicon, TextPipeline(**pipeline))


# --------------------------------------------------------------------------- tokenizing


def test_it_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("We DON'T agree, people’s views: 42 x3y!") == ["we", "don't", "agree", "people’s", "views",
                                                                   "x", "y"]


def test_it_counts_tokens_like_tokenize_whatever_the_punctuation():
    text = "Well...they hated it;argued (badly)! 'Good' -- fine/bad 3rd"
    scores = scorer(stop_words=frozenset()).score([text])
    assert scores.tokens[0] == len(tokenize(text)) == 10


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab hatedgoodfin.,;!'’-\n\t3é")), max_size=80))
def test_chunked_tokens_equal_the_regular_expression_tokens(text):
    scores = scorer(stop_words=frozenset(), lemmatize=False).score([text])
    tokens = tokenize(text)
    assert scores.tokens[0] == len(tokens)
    assert scores.scored[0] == sum(1 for t in tokens if t in TOY.scores)
    assert scores.negativity[0] == pytest.approx(sum(TOY.scores[t][0] for t in tokens if t in TOY.scores))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab hatedgoodfin.,'\n\x00\x013")),
                                             max_size=30)), max_size=8))
def test_a_batch_scores_like_each_text_alone(texts):
    together = scorer(lemmatize=False).score(texts)
    for position, text in enumerate(texts):
        alone = scorer(lemmatize=False).score([text])
        assert together.tokens[position] == alone.tokens[0]
        assert together.negativity[position] == pytest.approx(alone.negativity[0])


def test_a_text_holding_the_batch_separator_is_scored_like_any_other():
    texts = ["bad \x00\x01 good", "bad", "\x00\x01"]
    scores = scorer(lemmatize=False).score(texts)
    assert scores.tokens.tolist() == [2, 1, 0]
    assert scores.negativity.tolist() == [1.0, 1.0, 0.0]


# --------------------------------------------------------------------------- each step


def test_stop_words_are_dropped_and_counted():
    scores = scorer(lemmatize=False).score(["the good and the bad"])
    # the, and, the: dropped; good (0) and bad (1): scored
    assert (scores.tokens[0], scores.dropped[0], scores.scored[0], scores.not_found[0]) == (5, 3, 2, 0)
    assert scores.ratio[0] == pytest.approx(0.5)
    kept = scorer(lemmatize=False, stop_words=frozenset()).score(["the good and the bad"])
    assert (kept.dropped[0], kept.not_found[0]) == (0, 3)


def test_base_form_comes_first_and_the_surface_form_is_the_fallback():
    # simplemma: hated -> hate (0.5 in TOY, not the 0.75 of "hated"); hates -> hate; argued -> argue.
    scores = scorer().score(["hated", "hates", "argued", "hated"])
    assert list(scores.negativity) == [0.5, 0.5, 0.25, 0.5]
    surface = scorer(lemmatize=False).score(["hated", "hates", "argued"])
    assert list(surface.negativity) == [0.75, 0.0, 0.0]
    assert list(surface.not_found) == [0, 1, 1]
    # a base form the lexicon lacks falls back to the word itself: "worst" -> "wrong" in simplemma
    lexicon = Lexicon("x", {"worst": (0.8, 0.0)})
    assert scorer(lexicon).score(["worst"]).negativity[0] == 0.8
    assert scorer(lexicon, surface_fallback=False).score(["worst"]).not_found[0] == 1


def test_possessives_lose_their_s():
    lexicon = Lexicon("x", {"enemy": (1.0, 0.0)})
    scores = scorer(lexicon, lemmatize=False).score(["enemy's", "enemy’s"])
    assert list(scores.scored) == [1, 1]


def test_a_hand_computed_sentence_with_vader():
    # i(stop) hated->hate .675, the(stop), stupid .6, idea (not found), my(stop), friends->friend
    # (positive .55: scored with negativity 0), argued->argue .35.  (0.675 + 0.6 + 0 + 0.35) / 4
    scores = TextScorer().score(["I hated the stupid idea, my friends argued!"])
    assert (scores.tokens[0], scores.scored[0], scores.not_found[0], scores.dropped[0]) == (8, 4, 1, 3)
    assert scores.negativity[0] == pytest.approx(1.625)
    assert scores.positivity[0] == pytest.approx(0.55)
    assert scores.ratio[0] == pytest.approx(0.40625)


def test_missing_and_empty_texts_have_no_words():
    scores = scorer().score([None, float("nan"), "", "  \n "])
    assert scores.tokens.tolist() == [0, 0, 0, 0]
    assert np.isnan(scores.ratio).all()


def test_scores_do_not_depend_on_chunking_or_order():
    texts = ["good bad", "hate it", "fine fine bad", "nothing here", "bad"] * 7
    one = scorer(lemmatize=False).score(texts)
    small = TextScorer(TOY, TextPipeline(lemmatize=False), chunk_size=3).score(texts)
    np.testing.assert_array_equal(one.negativity, small.negativity)
    np.testing.assert_array_equal(one.scored, small.scored)


# --------------------------------------------------------------------------- lexicons


def test_vader_negativity_is_minus_valence_over_four():
    lexicon = vader_lexicon()
    assert len(lexicon) > 7000
    assert lexicon.scores["hate"] == pytest.approx((2.7 / 4, 0.0))      # valence -2.7
    assert lexicon.scores["good"] == pytest.approx((0.0, 1.9 / 4))      # valence +1.9
    parsed = parse_vader(["bad\t-2.5\t0.6\t[-2]", "", "yay\t4.0\t0\t[4]", "bad\t-3.0\t0\t[-3]"])
    assert parsed.scores == {"bad": (0.75, 0.0), "yay": (0.0, 1.0)}  # the last rating of a token wins


def test_sentiwordnet_keeps_the_first_sense_per_part_of_speech():
    lexicon = parse_sentiwordnet(SWN_TEXT.splitlines())
    assert lexicon.lookup("fight", "n") == (0.5, 0.0)        # fight#1 noun, not fight#2 (0.25)
    assert lexicon.lookup("fight", "v") == (0.625, 0.25)
    assert lexicon.lookup("battle", "n") == (0.5, 0.0)
    assert lexicon.lookup("keen", "a") == (0.25, 0.5)        # satellite adjective counts as "a"
    # without a part of speech: WordNet's order noun, verb, adjective, adverb
    assert lexicon.lookup("fight") == (0.5, 0.0)
    assert lexicon.lookup("hate") == (0.875, 0.0)


def test_sentiwordnet_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "swn.txt"
    path.write_text(SWN_TEXT + "q\t1\t0\t0\tx#1\tgloss\n", encoding="utf-8")
    with pytest.raises(TextError, match=r"swn.txt:11: part of speech 'q'"):
        load_sentiwordnet(path)
    path.write_text("n\t1\tabc\t0\tx#1\tg\n", encoding="utf-8")
    with pytest.raises(TextError, match=r"swn.txt:1: PosScore 'abc'"):
        load_sentiwordnet(path)
    with pytest.raises(TextError, match="cannot read"):
        load_sentiwordnet(tmp_path / "absent.txt")
    with pytest.raises(TextError, match="unknown lexicon"):
        get_lexicon("liwc")


def test_get_lexicon_reads_a_sentiwordnet_path(tmp_path):
    path = tmp_path / "SentiWordNet_3.0.0.txt"
    path.write_text(SWN_TEXT, encoding="utf-8")
    lexicon = get_lexicon(f"swn:{path}")
    assert lexicon.has_pos and lexicon.name == "swn:SentiWordNet_3.0.0.txt"
    scores = TextScorer(lexicon).score(["They fight badly and hate it."])
    # they, and, it: stop-words; fight .5 (noun first), badly .375, hate .875
    assert scores.scored[0] == 3
    assert scores.negativity[0] == pytest.approx(1.75)


# --------------------------------------------------------------------------- part of speech


def test_pos_filter_by_the_lexicon_keeps_nouns_adjectives_and_adverbs():
    lexicon = parse_sentiwordnet(SWN_TEXT.splitlines())
    filtered = TextScorer(lexicon, TextPipeline(pos_filter=True))
    scores = filtered.score(["fight badly hate"])
    # fight: noun sense kept (.5); badly: adverb (.375); hate: only a verb here -> dropped
    assert (scores.scored[0], scores.dropped[0]) == (2, 1)
    assert scores.negativity[0] == pytest.approx(0.875)
    assert filtered.notes and "no contextual tagger" in filtered.notes[0]


def test_pos_filter_without_parts_of_speech_says_so_and_keeps_every_word():
    plain = TextScorer(TOY, TextPipeline(pos_filter=True, lemmatize=False))
    assert "filter is off" in plain.notes[0]
    assert plain.score(["hate good"]).scored[0] == 2


def test_a_contextual_tagger_decides_the_part_of_speech():
    lexicon = parse_sentiwordnet(SWN_TEXT.splitlines())
    tags = {"we": "x", "fight": "v", "a": "x", "battle": "n"}

    def tagger(tokens):
        return [tags.get(t, "n") for t in tokens]

    scores = TextScorer(lexicon, TextPipeline(pos_filter=True, tagger=tagger)).score(["We fight a battle"])
    # fight tagged as verb: dropped; battle noun #2 -> first noun sense of "battle" is #2 (0.5)
    assert (scores.tokens[0], scores.scored[0], scores.dropped[0]) == (4, 1, 3)
    assert scores.negativity[0] == pytest.approx(0.5)


def test_nltk_tagger_is_optional_and_says_what_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_nltk(name, *args, **kwargs):
        if name == "nltk":
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nltk)
    with pytest.raises(ComponentMissing, match="NLTK"):
        nltk_tagger()


# --------------------------------------------------------------------------- indices


def test_pooled_ratio_and_mean_of_ratios_differ_as_computed_by_hand():
    # text A: one scored word, negativity 1 (ratio 1); text B: three scored words, negativity 0
    negativity, scored = [1.0, 0.0, 0.0], [1, 3, 0]
    assert text_negativity(negativity, scored) == pytest.approx(0.25)       # 1 / 4
    assert text_negativity_mean(negativity, scored) == pytest.approx(0.5)   # (1 + 0) / 2; C has none
    assert math.isnan(text_negativity([0.0], [0]))
    assert math.isnan(text_negativity_mean([0.0], [0]))


def test_indices_with_bootstrap_intervals():
    rows = {r["index"]: r for r in text_indices([1.0, 0.0, 2.0, 0.5], [2, 2, 4, 1], bootstrap=500, seed=3)}
    assert rows["text_negativity"]["value"] == pytest.approx(3.5 / 9)
    assert rows["text_negativity_mean"]["value"] == pytest.approx((0.5 + 0 + 0.5 + 0.5) / 4)
    for row in rows.values():
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        assert 0 <= row["ci_low"] and row["ci_high"] <= 1
    again = {r["index"]: r for r in text_indices([1.0, 0.0, 2.0, 0.5], [2, 2, 4, 1], bootstrap=500, seed=3)}
    assert again == rows
    same = text_indices([0.5, 1.0], [1, 2], bootstrap=200, seed=1)  # every text has ratio 0.5
    assert all(r["ci_low"] == pytest.approx(0.5) == r["ci_high"] for r in same)
    none = text_indices([1.0], [2], bootstrap=0)
    assert all(math.isnan(r["ci_low"]) for r in none)


def test_period_labels_bucket_by_year_month_and_iso_week():
    dates = pd.Series(["2021-03-03", "2021-03-07 23:59", "2021-03-08", "2020-12-31"])
    assert period_labels(dates, "year").tolist() == ["2021", "2021", "2021", "2020"]
    assert period_labels(dates, "month").tolist() == ["2021-03", "2021-03", "2021-03", "2020-12"]
    # weeks start on Monday: 2021-03-01 (Mon) .. 2021-03-07 (Sun); 2020-12-28 is a Monday
    assert period_labels(dates, "week").tolist() == ["2021-03-01", "2021-03-01", "2021-03-08", "2020-12-28"]
    with pytest.raises(TextError):
        period_labels(dates, "day")


def test_text_series_per_period_and_group_by_hand():
    texts = ["bad bad", "good", "hate fine", "bad", "nothing"]
    periods = ["2020", "2020", "2021", "2021", "2021"]
    groups = ["left", "right", "left", "right", None]
    series = text_series(scorer(lemmatize=False).score(texts), periods, groups, bootstrap=0)
    got = {(r.period, r.group): r for r in series.itertuples()}
    assert list(got) == [("2020", "all"), ("2020", "left"), ("2020", "right"),
                         ("2021", "all"), ("2021", "left"), ("2021", "right")]
    assert got[("2020", "all")].value == pytest.approx(2 / 3)                # (1 + 1 + 0) / 3 words
    assert got[("2020", "all")].text_negativity_mean == pytest.approx(0.5)   # (1 + 0) / 2
    assert got[("2020", "all")].positivity == pytest.approx(1 / 3)
    assert got[("2021", "all")].value == pytest.approx(1.5 / 3)              # hate .5 + fine 0 + bad 1
    assert got[("2021", "all")].text_negativity_mean == pytest.approx((0.25 + 1) / 2)
    assert (got[("2021", "all")].texts, got[("2021", "all")].not_found) == (3, 1)
    assert got[("2021", "left")].value == pytest.approx(0.25)


# --------------------------------------------------------------------------- properties

WORDS = st.sampled_from(["hate", "bad", "good", "fine", "argue", "table", "idea", "the", "and", "zzz"])
TEXTS = st.lists(st.lists(WORDS, max_size=12).map(" ".join), min_size=1, max_size=15)
NEUTRAL = st.lists(st.sampled_from(["table", "idea", "the", "and", "zzz", "42", "!"]), max_size=10).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(TEXTS, NEUTRAL)
def test_a_text_without_lexicon_words_changes_nothing(texts, neutral):
    before = scorer(lemmatize=False).score(texts)
    after = scorer(lemmatize=False).score([*texts, neutral])
    for index in (text_negativity, text_negativity_mean):
        b, a = index(before.negativity, before.scored), index(after.negativity, after.scored)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@settings(max_examples=60, deadline=None)
@given(TEXTS)
def test_scores_are_bounded(texts):
    scores = TextScorer().score(texts)
    ratios = scores.ratio[~np.isnan(scores.ratio)]
    assert ((ratios >= 0) & (ratios <= 1)).all()
    assert (scores.scored + scores.not_found + scores.dropped == scores.tokens).all()
    for index in (text_negativity, text_negativity_mean):
        value = index(scores.negativity, scores.scored)
        assert math.isnan(value) or 0 <= value <= 1


def test_the_stop_word_list_is_lowercase_function_words():
    assert {"the", "and", "not", "don't"} <= ENGLISH_STOP_WORDS
    assert not {"hate", "good", "people"} & ENGLISH_STOP_WORDS
    assert all(word == word.lower() for word in ENGLISH_STOP_WORDS)
