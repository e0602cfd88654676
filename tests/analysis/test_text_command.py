"""The `text_disagreement` command: corpus CSV in, period,value series out; one-line errors."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analysis.cli import text_disagreement as text_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "text_corpus.csv"

# By hand with VADER (negativity = max(0, -valence)/4, base forms first):
#   line 2: hated->hate .675, stupid .6, friends->friend 0 (positive), argued->argue .35; idea not found
#   line 3: lovely 0, good 0 (both positive); day not found
#   line 4: "table", "brown": not found (no scored word)
#   line 5-6 (one quoted record over two lines): terrible .525, wrong .525, awful .625, arguments->argument .25
#   line 7: empty text (skipped);  line 8: disagree .4, fine 0
CORPUS = """date,text,group
2021-01-05,"I hated the stupid idea, my friends argued!",left
2021-01-20,"What a lovely, good day",right
2021-02-03,"The table is brown.",left
2021-02-14T10:00:00+01:00,"Terrible, wrong,
awful arguments",right
2021-03-01,,left
2021-03-02,We disagree but it is fine,left
"""


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = text_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path, text, name="corpus.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(out: str) -> dict:
    lines = out.strip().splitlines()
    header = lines[0].split(",")
    return {(r[0], r[2]): dict(zip(header, r, strict=True)) for r in (line.split(",") for line in lines[1:])}


def test_it_prints_a_period_value_series_with_counts(tmp_path):
    status, out, err = run(write(tmp_path, CORPUS), "--period", "month", "--bootstrap", "0")
    assert status == 0
    assert out.splitlines()[0].startswith("period,value,group,ci_low,ci_high,text_negativity_mean")
    got = rows(out)
    assert list(got) == [("2021-01", "all"), ("2021-01", "left"), ("2021-01", "right"), ("2021-02", "all"),
                         ("2021-02", "left"), ("2021-02", "right"), ("2021-03", "all"), ("2021-03", "left")]
    january = got[("2021-01", "all")]
    assert float(january["value"]) == pytest.approx((0.675 + 0.6 + 0.35) / 6)        # 6 scored words
    assert float(january["text_negativity_mean"]) == pytest.approx((1.625 / 4 + 0) / 2)
    assert (january["texts"], january["scored"], january["not_found"]) == ("2", "6", "2")
    february = got[("2021-02", "all")]
    assert float(february["value"]) == pytest.approx((0.525 + 0.525 + 0.625 + 0.25) / 4)
    assert february["ci_low"] == "" and february["texts"] == "2"  # --bootstrap 0: empty interval cells
    assert got[("2021-02", "left")]["value"] == ""  # no scored word: no value
    assert "1 empty texts skipped" in err
    assert "5 texts, 27 words" in err


def test_weeks_are_labelled_by_their_monday_and_years_by_the_year(tmp_path):
    path = write(tmp_path, CORPUS)
    _, out, _ = run(path, "--period", "week", "--bootstrap", "0")
    assert [key for key in rows(out) if key[1] == "all"][:2] == [("2021-01-04", "all"), ("2021-01-18", "all")]
    _, out, _ = run(path, "--period", "year", "--bootstrap", "0")
    assert [key for key in rows(out) if key[1] == "all"] == [("2021", "all")]


def test_json_output_and_intervals(tmp_path):
    status, out, _ = run(write(tmp_path, CORPUS), "--period", "year", "--format", "json", "--bootstrap", "200")
    records = json.loads(out)
    assert status == 0 and list(records[0])[:3] == ["period", "value", "group"]
    everything = records[0]
    assert everything["ci_low"] <= everything["value"] <= everything["ci_high"]
    assert everything["texts"] == 5


def test_per_text_scores_name_their_line(tmp_path):
    target = tmp_path / "texts.csv"
    run(write(tmp_path, CORPUS), "--period", "month", "--bootstrap", "0", "--per-text", target)
    lines = target.read_text().splitlines()
    assert lines[0] == ",".join(text_cli.PER_TEXT_FIELDS)
    assert [line.split(",")[0] for line in lines[1:]] == ["2", "3", "4", "5", "8"]
    assert lines[4].split(",")[1] == "2021-02-14T09:00:00"  # +01:00 taken in UTC
    assert float(lines[1].split(",")[-1]) == pytest.approx(1.625 / 4)


def test_it_reads_semicolons_bom_and_utf16(tmp_path):
    text = "\ufeffDate;Text\n2021-01-05;hate\n2021-01-06;good\n"
    for encoding in ("utf-8", "utf-16"):
        status, out, _ = run(write(tmp_path, text, encoding=encoding), "--period", "year", "--bootstrap", "0")
        assert status == 0
        assert float(rows(out)[("2021", "all")]["value"]) == pytest.approx(0.675 / 2)


def test_swn_lexicon_and_pos_fallback_are_reported(tmp_path):
    swn = tmp_path / "swn.txt"
    swn.write_text("n\t1\t0\t0.5\tfight#1\tg\nv\t2\t0\t0.875\thate#1\tg\n", encoding="utf-8")
    path = write(tmp_path, "date,text\n2021,fight hate\n")
    status, out, err = run(path, "--period", "year", "--bootstrap", "0", "--lexicon", f"swn:{swn}",
                           "--pos-filter", "lexicon")
    assert status == 0
    assert float(rows(out)[("2021", "all")]["value"]) == pytest.approx(0.5)  # hate: only a verb, dropped
    assert "lexicon's senses" in err
    status, _, err = run(path, "--period", "year", "--pos-filter", "nltk", "--bootstrap", "0")
    assert status == 0 and "filter is off" in err


@pytest.mark.parametrize("text, message", [
    ("date,text\n2021-01-05,ok\nlast spring,bad\n", "corpus.csv:3: column 'date': 'last spring' is not an ISO date (e.g. 2021-03-05)"),
    ("date,text\n2021-01-05,ok\n,bad\n", "corpus.csv:3: column 'date': empty"),
    ("when,text\n2021,ok\n", "corpus.csv:1: missing column 'date' (the header has: when, text)"),
    ("date,text\n", "corpus.csv: no texts below the header"),
    ("date,text\n2021,\n", "corpus.csv: every text is empty"),
])
def test_bad_input_is_one_line_naming_file_line_and_column(tmp_path, text, message):
    status, out, err = run(write(tmp_path, text), "--period", "month")
    assert status == 2 and out == ""
    assert err.strip().splitlines()[-1] == f"text_disagreement: {message}"


def test_an_unknown_lexicon_or_missing_file_is_one_line(tmp_path):
    status, _, err = run(write(tmp_path, CORPUS), "--period", "month", "--lexicon", "liwc")
    assert status == 2 and "unknown lexicon 'liwc'" in err
    status, _, err = run(tmp_path / "absent.csv", "--period", "month")
    assert status == 2 and "cannot read the file" in err


def test_the_example_corpus_gives_24_months():
    status, out, _ = run(EXAMPLE, "--period", "month", "--bootstrap", "0")
    assert status == 0
    months = [key for key in rows(out) if key[1] == "all"]
    assert len(months) == 24 and months[0] == ("2022-01", "all")


def test_manage_py_prints_the_same_series_as_the_module(tmp_path):
    path = write(tmp_path, CORPUS)
    out, err = io.StringIO(), io.StringIO()
    call_command("text_disagreement", str(path), "--period", "month", "--bootstrap", "50", stdout=out, stderr=err)
    assert out.getvalue() == run(path, "--period", "month", "--bootstrap", "50")[1]
    with pytest.raises(CommandError, match=r"^corpus\.csv:3: column 'date'"):
        call_command("text_disagreement", str(write(tmp_path, "date,text\n2021,a\nx,b\n")), "--period", "year",
                     stdout=io.StringIO(), stderr=io.StringIO())


def test_manage_py_exits_non_zero_with_one_line_on_stderr_without_a_database(tmp_path):
    path = write(tmp_path, "date,text\n2021,a\nsoon,b\n")
    done = subprocess.run([sys.executable, "manage.py", "text_disagreement", str(path), "--period", "year"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: corpus.csv:3: column 'date': 'soon' is not an ISO date (e.g. 2021-03-05)"]


GERMAN = """date,text
2021-01-05,Die Katze schläft auf dem Sofa.
2021-01-06,Das ist nicht gut.
2021-02-01,Das ist gut.
2021-02-02,Ein schlechter Tag.
"""
# SentiWS format: Wort|POS<TAB>weight<TAB>inflections
SENTIWS_POSITIVE = "gut|ADJX\t0.3716\tgute,guten,guter,gutes\n"
SENTIWS_NEGATIVE = "schlecht|ADJX\t-0.7706\tschlechte,schlechten,schlechter,schlechtes\n"


def test_german_texts_are_refused_with_an_english_lexicon(tmp_path):
    corpus = tmp_path / "de.csv"
    corpus.write_text(GERMAN, encoding="utf-8")
    status, _, err = run(corpus, "--period", "month", "--language", "de", "--bootstrap", "0")
    assert status == 2
    assert err.strip().splitlines()[-1] == (
        "text_disagreement: texts in 'de' cannot be scored with lexicon 'vader', which is 'en': give a lexicon "
        "of that language (--lexicon FILE, e.g. SentiWS for German)")


def test_a_sentiws_lexicon_scores_german_with_negation(tmp_path):
    corpus = tmp_path / "de.csv"
    corpus.write_text(GERMAN, encoding="utf-8")
    positive, negative = tmp_path / "SentiWS_Positive.txt", tmp_path / "SentiWS_Negative.txt"
    positive.write_text(SENTIWS_POSITIVE, encoding="utf-8")
    negative.write_text(SENTIWS_NEGATIVE, encoding="utf-8")
    per_text = tmp_path / "per_text.csv"
    status, out, err = run(corpus, "--period", "month", "--language", "de", "--bootstrap", "0",
                           "--lexicon", positive, negative, "--per-text", per_text, "--no-lemmatize")
    assert status == 0, err
    lines = per_text.read_text().splitlines()
    ratio = [float(line.rsplit(",", 1)[1]) if line.rsplit(",", 1)[1] else None for line in lines[1:]]
    # "Die Katze ..." has no German lexicon word: no ratio (the English "die" is not consulted);
    # "nicht gut": gut 0.3716 turned round by "nicht": negativity 0.74 * 0.3716;
    # "gut": 0; "schlechter" (a listed form of schlecht): 0.7706
    assert ratio == [None, pytest.approx(0.74 * 0.3716), 0.0, pytest.approx(0.7706)]
    # month 2021-01: one scored word, negativity 0.274984
    assert out.splitlines()[1].startswith("2021-01,0.27498")
    assert "lexicon SentiWS_Positive.txt+SentiWS_Negative.txt" in err


def test_negation_follows_vader_and_can_be_turned_off(tmp_path):
    corpus = tmp_path / "en.csv"
    corpus.write_text("date,text\n2021-01-05,\"Not bad, actually!\"\n", encoding="utf-8")
    _, out, _ = run(corpus, "--period", "year", "--bootstrap", "0")
    assert out.splitlines()[1].startswith("2021,0.0,")  # bad (.625) after "not": turned positive
    _, out, _ = run(corpus, "--period", "year", "--bootstrap", "0", "--no-negation")
    assert out.splitlines()[1].startswith("2021,0.625,")  # the seed method's plain word score


def test_a_bad_lexicon_file_is_one_line_naming_file_and_line(tmp_path):
    corpus = tmp_path / "en.csv"
    corpus.write_text("date,text\n2021-01-05,fine\n", encoding="utf-8")
    lexicon = tmp_path / "words.tsv"
    lexicon.write_text("# language: en\ngood\t0.5\nbad\tvery\n", encoding="utf-8")
    status, _, err = run(corpus, "--period", "year", "--lexicon", lexicon)
    assert status == 2
    assert err.strip().splitlines()[-1] == "text_disagreement: words.tsv:3: polarity 'very' is not a number"
