"""Command-line tools: every bad file, path or option named in the security review is one line on
stderr and exit status 2, never a traceback or a runaway allocation."""

import io
from pathlib import Path

import pytest

from analysis.cli import correlate, indices

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(module, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = module.main(list(map(str, argv)), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


def test_an_output_in_a_missing_folder(tmp_path):
    status, out, err = run(indices, EXAMPLES / "indices_example.csv", "--bootstrap", 0,
                           "--output", tmp_path / "missing" / "x.json")
    assert status == 2 and one_line(err.splitlines(keepends=True)[-1]) and "--output" in err
    assert "cannot write the file" in err


def test_lags_beyond_the_series(tmp_path):
    series = EXAMPLES / "text_outcome.csv"
    status, out, err = run(correlate, series, series, "--lags", 100_000)
    assert status == 2 and one_line(err) and "--lags 100000 must be smaller" in err and out == ""


@pytest.mark.parametrize("wide", ["1e9", "1002"])
def test_a_scale_wider_than_1001_points_is_refused_as_in_the_api(wide):
    status, out, err = run(indices, EXAMPLES / "indices_example.csv", "--scale-min", 1, "--scale-max", wide)
    assert status == 2 and one_line(err) and "at most 1001" in err and out == ""


def test_a_scale_of_exactly_1001_points_is_accepted():
    status, _out, err = run(indices, EXAMPLES / "indices_example.csv", "--scale-min", 0, "--scale-max", 1000,
                            "--bootstrap", 0)
    assert status == 0, err


def test_a_non_numeric_wave_names_its_line(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("participant,wave,item,value\nP1,1,q,1\nP2,two,q,2\n", encoding="utf-8")
    status, out, err = run(indices, path)
    assert status == 2 and one_line(err) and "answers.csv:3: column 'wave': 'two' is not a whole number" in err


def test_a_utf16_file_with_its_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "answers16.csv"
    path.write_bytes((EXAMPLES / "indices_example.csv").read_text(encoding="utf-8").encode("utf-16"))
    status, out, err = run(indices, path, "--bootstrap", 0)
    assert status == 0 and out.startswith("[")


def test_csv_output_neutralizes_formula_cells(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("participant,wave,item,value\nP1,1,=cmd(),1\nP2,1,=cmd(),2\n", encoding="utf-8")
    status, out, err = run(indices, path, "--bootstrap", 0, "--format", "csv")
    assert status == 0, err
    assert "'=cmd()" in out and "\n=cmd()" not in out and ",=cmd()" not in out
