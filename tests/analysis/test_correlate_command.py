"""The `correlate` command: two period,value series in, records out; one-line errors."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from scipy import stats

from analysis.cli import correlate as correlate_cli
from analysis.cli import text_disagreement as text_cli

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["method", "lag", "differenced", "n", "coefficient", "p_value", "ci_low", "ci_high"]

A = "period,value\n2001,1.0\n2002,3.0\n2003,2.0\n2004,5.0\n2005,4.0\n2006,6.0\n"
B = "period,value\n2000,9\n2001,2\n2002,4\n2003,1\n2004,7\n2005,NA\n2006,8\n2007,3\n"


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = correlate_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path, text, name) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_records_have_the_contract_shape_and_scipys_numbers(tmp_path):
    status, out, err = run(write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv"), "--lags", "1",
                           "--bootstrap", "100")
    assert status == 0
    records = json.loads(out)
    assert all(list(r) == KEYS for r in records)
    assert [(r["lag"], r["differenced"]) for r in records] == [
        (0, False), (1, False), (-1, False), (0, True), (1, True), (-1, True)]
    # lag 0: years 2001..2004 and 2006 (2005 missing in B)
    level = records[0]
    expected = stats.spearmanr([1, 3, 2, 5, 6], [2, 4, 1, 7, 8])
    assert level["n"] == 5
    assert level["coefficient"] == pytest.approx(expected.statistic)
    assert level["p_value"] == pytest.approx(expected.pvalue)
    # lag 1: A(t) with B(t+1): (1,4) (3,1) (2,7) (4,8) (6,3); A(2004)=5 meets the missing B(2005)
    lag1 = stats.spearmanr([1, 3, 2, 4, 6], [4, 1, 7, 8, 3])
    assert (records[1]["n"], records[1]["coefficient"]) == (5, pytest.approx(lag1.statistic))
    assert "6 years, b.csv: 7 years; 5 periods in common" in err


def test_differenced_rows_use_first_differences(tmp_path):
    _, out, _ = run(write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv"), "--method", "pearson",
                    "--bootstrap", "0", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0] == ",".join(KEYS)
    differenced = lines[2].split(",")
    # dA: 2002 2, 2003 -1, 2004 3, 2005 -1, 2006 2; dB: 2001 -7, 2002 2, 2003 -3, 2004 6 (2006, 2007 lack 2005)
    expected = stats.pearsonr([2, -1, 3], [2, -3, 6])
    assert differenced[:4] == ["pearson", "0", "true", "3"]
    assert float(differenced[4]) == pytest.approx(expected.statistic)
    assert differenced[6] == differenced[7] == ""


def test_a_text_disagreement_series_is_read_as_it_is(tmp_path):
    corpus = write(tmp_path, "date,text,group\n2021-01-03,hate,x\n2021-02-03,good bad,y\n2021-03-09,bad,x\n"
                             "2021-04-01,fine,y\n", "corpus.csv")
    series = tmp_path / "series.csv"
    assert text_cli.main([str(corpus), "--period", "month", "--bootstrap", "0", "--output", str(series)],
                         stdout=io.StringIO(), stderr=io.StringIO()) == 0
    outcome = write(tmp_path, "period,value\n2021-01,1\n2021-02,2\n2021-03,4\n2021-04,3\n", "outcome.csv")
    status, out, _ = run(series, outcome, "--bootstrap", "0")
    # monthly negativity .675, .3125, .625, 0 (group all) against 1, 2, 4, 3
    assert status == 0
    assert json.loads(out)[0]["coefficient"] == pytest.approx(stats.spearmanr([0.675, 0.3125, 0.625, 0],
                                                                               [1, 2, 4, 3]).statistic)
    status, out, _ = run(series, outcome, "--bootstrap", "0", "--group", "x")
    assert json.loads(out)[0]["n"] == 2
    status, _, err = run(series, outcome, "--group", "nobody")
    assert status == 2 and "no rows of group 'nobody'" in err


def test_iso_dates_on_the_first_of_the_month_join_a_monthly_series(tmp_path):
    a = write(tmp_path, "period,value\n2020-03-01,1\n2020-04-01,2\n2020-05-01,4\n", "a.csv")
    b = write(tmp_path, "period,value\n2020-03,1\n2020-04,3\n2020-05,2\n", "b.csv")
    status, out, _ = run(a, b, "--bootstrap", "0")
    assert status == 0 and json.loads(out)[0]["n"] == 3


def test_both_trending_series_are_warned_about(tmp_path):
    rising = "period,value\n" + "".join(f"{2000 + i},{i + (i % 3)}\n" for i in range(12))
    also = "period,value\n" + "".join(f"{2000 + i},{2 * i - (i % 2)}\n" for i in range(12))
    _, _, err = run(write(tmp_path, rising, "a.csv"), write(tmp_path, also, "b.csv"), "--bootstrap", "0")
    assert "warning: both series trend" in err and "first differences" in err


@pytest.mark.parametrize("b_text, message", [
    ("period,value\n2001,2\n2002,x\n", "b.csv:3: column 'value': 'x' is not a number"),
    ("period,value\n2001,2\n2002-05,3\n", "b.csv:3: column 'period': period '2002-05' is not in the format"),
    ("period,value\n2001,2\n2001,3\n", "b.csv:3: column 'period': period '2001' is listed twice"),
    ("period,value\n2001,2\n,3\n", "b.csv:3: column 'period': empty"),
    ("year,value\n2001,2\n", "b.csv:1: missing column 'period'"),
    ("period,value\n2001-01,2\n2001-02,3\n", "a.csv, b.csv: the series have different periods (year and month)"),
])
def test_bad_input_is_one_line_naming_file_line_and_column(tmp_path, b_text, message):
    status, out, err = run(write(tmp_path, A, "a.csv"), write(tmp_path, b_text, "b.csv"))
    assert status == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith(f"correlate: {message}")


def test_bad_options_are_refused(tmp_path):
    a, b = write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv")
    assert run(a, b, "--lags", "-1")[0] == 2
    assert run(a, b, "--block-length", "0")[0] == 2
    assert run(a, b, "--method", "cosine")[0] == 2


def test_manage_py_correlate_runs_without_a_database(tmp_path):
    a, b = write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv")
    out = io.StringIO()
    call_command("correlate", str(a), str(b), "--bootstrap", "20", stdout=out, stderr=io.StringIO())
    assert out.getvalue() == run(a, b, "--bootstrap", "20")[1]
    done = subprocess.run([sys.executable, "manage.py", "correlate", str(a), str(b), "--bootstrap", "10"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["n"] == 5


def test_from_and_to_limit_both_series_inclusively(tmp_path):
    a, b = write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv")
    status, out, err = run(a, b, "--from", "2001", "--to", "2004", "--bootstrap", "0")
    assert status == 0
    level = json.loads(out)[0]
    # pairs (1,2) (3,4) (2,1) (5,7): ranks 1 3 2 4 and 2 3 1 4, sum d^2 = 2, rho = 1 - 6*2/(4*15)
    assert (level["n"], level["coefficient"]) == (4, pytest.approx(0.8))
    assert "periods 2001..2004 only" in err
    # 2000 and 2007 of B are outside; without bounds B keeps them but A has no partner for them
    _, out, _ = run(a, b, "--to", "2003", "--bootstrap", "0")
    assert json.loads(out)[0]["n"] == 3


def test_from_and_to_take_years_on_a_monthly_series(tmp_path):
    months = "period,value\n" + "".join(f"2001-{m:02d},{v}\n" for m, v in zip(range(1, 13), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], strict=True))
    months += "2002-01,0\n"
    other = "period,value\n" + "".join(f"2001-{m:02d},{v}\n" for m, v in zip(range(1, 13), [2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11], strict=True))
    other += "2002-01,99\n"
    status, out, _ = run(write(tmp_path, months, "m.csv"), write(tmp_path, other, "o.csv"),
                         "--from", "2001", "--to", "2001", "--bootstrap", "0")
    assert status == 0
    level = json.loads(out)[0]
    # 12 months, ranks swapped in pairs: sum d^2 = 12, rho = 1 - 72 / (12 * 143)
    assert (level["n"], level["coefficient"]) == (12, pytest.approx(1 - 72 / 1716))


def test_an_empty_or_bad_period_range_is_one_line(tmp_path):
    a, b = write(tmp_path, A, "a.csv"), write(tmp_path, B, "b.csv")
    status, _, err = run(a, b, "--from", "2005", "--to", "2001")
    assert status == 2
    assert err.strip().splitlines()[-1].endswith("the period range is empty: 2005 is after 2001")
    status, _, err = run(a, b, "--from", "last year")
    assert status == 2
    assert "'last year' is not a year" in err
