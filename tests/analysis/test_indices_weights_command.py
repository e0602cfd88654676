"""`indices --weight/--weight-kind/--strata/--cluster` and `indices --counts`: records, one-line errors."""

import io
import json
from pathlib import Path

import pytest

from analysis.cli import indices as indices_cli

ROOT = Path(__file__).resolve().parents[2]
GSS = ROOT / "examples" / "gss" / "gss_counts.csv"

WEIGHTED = """participant,wave,item,value,w,stratum,psu
a,1,q,1,1,s1,1
b,1,q,2,2,s1,1
c,1,q,3,1,s1,2
d,1,q,3,1,s2,3
e,1,q,1,3,s2,4
"""


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = indices_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path, text, name="answers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def value(records, index, item="q", group="all", wave=1):
    found = [r for r in records if (r["wave"], r["item"], r["group"], r["index"]) == (wave, item, group, index)]
    assert len(found) == 1
    return found[0]


def test_weighted_mean_and_n_by_kind(tmp_path):
    path = write(tmp_path, WEIGHTED)
    # Weighted mean (1 + 4 + 3 + 3 + 3) / 8 = 1.75.
    status, out, err = run(path, "--weight", "w", "--weight-kind", "frequency", "--scale-min", "1",
                           "--scale-max", "3", "--bootstrap", "0")
    assert status == 0, err
    records = json.loads(out)
    assert value(records, "mean")["value"] == pytest.approx(1.75)
    assert value(records, "n")["value"] == 8
    status, out, _ = run(path, "--weight", "w", "--scale-min", "1", "--scale-max", "3", "--bootstrap", "0")
    assert value(json.loads(out), "n")["value"] == 5


def test_design_bootstrap_gives_intervals(tmp_path):
    path = write(tmp_path, WEIGHTED)
    status, out, err = run(path, "--weight", "w", "--strata", "stratum", "--cluster", "psu", "--scale-min", "1",
                           "--scale-max", "3", "--bootstrap", "200", "--seed", "2")
    assert status == 0, err
    mean = value(json.loads(out), "mean")
    assert mean["ci_low"] <= 1.75 <= mean["ci_high"]
    assert mean["ci_low"] < mean["ci_high"]


@pytest.mark.parametrize(("cell", "message"), [
    ("-1", "answers.csv:2: column 'w': negative weight -1"),
    ("", "answers.csv:2: column 'w': missing weight"),
    ("abc", "answers.csv:2: column 'w': 'abc' is not a number"),
])
def test_bad_weights_one_line(tmp_path, cell, message):
    text = WEIGHTED.replace("a,1,q,1,1,", f"a,1,q,1,{cell},")
    status, out, err = run(write(tmp_path, text), "--weight", "w", "--scale-min", "1", "--scale-max", "3")
    assert status == 2
    assert err.strip() == f"indices: {message}" or err.strip().startswith(f"indices: {message}")
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_zero_sum_weights_refused(tmp_path):
    text = "participant,wave,item,value,w\na,1,q,1,0\nb,1,q,2,0\n"
    status, _, err = run(write(tmp_path, text), "--weight", "w", "--scale-min", "1", "--scale-max", "3")
    assert status == 2
    assert "the weights of wave 1 sum to 0" in err
    assert len(err.strip().splitlines()) == 1


def test_single_psu_stratum_refused(tmp_path):
    text = WEIGHTED.replace("e,1,q,1,3,s2,4", "e,1,q,1,3,s2,3")
    status, _, err = run(write(tmp_path, text), "--weight", "w", "--strata", "stratum", "--cluster", "psu",
                         "--scale-min", "1", "--scale-max", "3", "--bootstrap", "10")
    assert status == 2
    assert "stratum s2 has a single PSU" in err


def test_counts_of_the_gss_example():
    status, out, err = run(GSS, "--counts", "--bootstrap", "100", "--seed", "1")
    assert status == 0, err
    records = json.loads(out)
    # polviews 1974 (README): 22, 201, 207, 564, 221, 160, 35 -> n 1410, mean by hand.
    counts = [22, 201, 207, 564, 221, 160, 35]
    mean = sum((i + 1) * c for i, c in enumerate(counts)) / sum(counts)
    row = value(records, "mean", item="polviews", wave=1974)
    assert row["n"] == 1410
    assert row["value"] == pytest.approx(mean, abs=1e-12)
    assert row["ci_low"] < mean < row["ci_high"]
    assert "not expanded" in err
    assert not [r for r in records if r["index"] == "constraint"]


def test_counts_refuse_weights(tmp_path):
    status, _, err = run(GSS, "--counts", "--weight", "w")
    assert status == 2
    assert "--counts takes no --weight" in err
