"""The `indices` command: CSV in, flat records out, one-line errors naming file, line, column."""

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analysis.cli import indices as indices_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "indices_example.csv"
RECORD_KEYS = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n"]

SMALL = """participant,wave,item,value,side
a,1,q1,1,left
b,1,q1,2,left
c,1,q1,6,right
d,1,q1,7,right
a,1,q2,3,left
b,1,q2,,left
c,1,q2,5,right
d,1,q2,4,right
"""


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = indices_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path, text, name="answers.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def record(records, item, group, index, wave=1):
    found = [r for r in records if (r["wave"], r["item"], r["group"], r["index"]) == (wave, item, group, index)]
    assert len(found) == 1
    return found[0]


def test_it_writes_a_json_list_of_flat_records(tmp_path):
    status, out, err = run(write(tmp_path, SMALL), "--by", "side", "--scale-min", "1", "--scale-max", "7",
                           "--bootstrap", "50")
    assert status == 0
    records = json.loads(out)
    assert all(list(r) == RECORD_KEYS for r in records)
    assert all(isinstance(r[key], (int, float, type(None))) for r in records for key in ("value", "ci_low", "ci_high"))
    assert {r["group"] for r in records} == {"all", "side:left", "side:right", "side:left|side:right"}
    mean = record(records, "q1", "all", "mean")
    assert (mean["value"], mean["n"]) == (4.0, 4)
    assert mean["ci_low"] <= 4.0 <= mean["ci_high"]
    assert record(records, "q1", "side:left|side:right", "group_gap")["value"] == pytest.approx((1.5 - 6.5) / 6)
    assert record(records, None, "all", "n")["value"] == 4  # pooled rows: item null


def test_non_finite_numbers_are_written_as_null(tmp_path):
    status, out, _ = run(write(tmp_path, SMALL), "--scale-min", "1", "--scale-max", "7", "--bootstrap", "20")
    assert "NaN" not in out and "Infinity" not in out
    records = json.loads(out)
    bimodality = record(records, "q2", "all", "bimodality")  # n = 3 < 4: undefined
    assert (bimodality["value"], bimodality["ci_low"], bimodality["ci_high"]) == (None, None, None)
    assert record(records, "q1", "all", "n")["ci_low"] is None


def test_bootstrap_zero_gives_null_intervals(tmp_path):
    _, out, err = run(write(tmp_path, SMALL), "--scale-min", "1", "--scale-max", "7", "--bootstrap", "0")
    records = json.loads(out)
    assert all(r["ci_low"] is None and r["ci_high"] is None for r in records)
    assert any(r["value"] is not None for r in records)
    assert "no intervals" in err


def test_csv_output_has_the_record_columns(tmp_path):
    _, out, _ = run(write(tmp_path, SMALL), "--scale-min", "1", "--scale-max", "7", "--bootstrap", "0",
                    "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == ",".join(RECORD_KEYS)
    assert lines[1] == "1,q1,all,n,4.0,,,4"
    assert any(line.startswith("1,,all,constraint,") for line in lines)


def test_scale_bounds_fix_k_even_when_a_category_is_empty(tmp_path):
    path = write(tmp_path, SMALL)
    _, fixed, _ = run(path, "--scale-min", "1", "--scale-max", "9", "--bootstrap", "0")
    _, inferred, err = run(path, "--bootstrap", "0")
    entropy_fixed = record(json.loads(fixed), "q2", "all", "entropy_norm")["value"]
    entropy_inferred = record(json.loads(inferred), "q2", "all", "entropy_norm")["value"]
    assert entropy_fixed == pytest.approx(math.log(3) / math.log(9))
    assert entropy_inferred == pytest.approx(math.log(3) / math.log(3))  # q2 answers span 3..5
    assert "scales inferred from the answers per item (q1 1..7, q2 3..5)" in err


def test_excluded_missing_values_are_summarized_on_stderr(tmp_path):
    _, _, err = run(write(tmp_path, SMALL), "--scale-min", "1", "--scale-max", "7", "--bootstrap", "0")
    assert "8 answers; 1 missing or empty values excluded (q2 1)" in err
    assert "rows pooled over items (item null) of mean and sd are on each item's scale rescaled to [0, 1] " \
           "(0-1 scale (POMP/100))" in err


def test_it_reads_survey_tool_exports_with_bom_semicolons_whitespace_and_na(tmp_path):
    text = ("\ufeffParticipant ; Wave ; Item ; Value ; Side\r\n"
            " a ; 1 ; q1 ; 1 ; left\r\n"
            "\r\n"
            "b;1;q1; NA ;left\r\n"
            "c;1;q1;6,0;right\r\n"
            "d;1;q1;7;N/A\r\n")
    status, out, err = run(write(tmp_path, text), "--by", "side", "--scale-min", "1", "--scale-max", "7",
                           "--bootstrap", "0")
    assert status == 0, err
    records = json.loads(out)
    assert record(records, "q1", "all", "n")["value"] == 3
    assert record(records, "q1", "all", "mean")["value"] == pytest.approx(14 / 3)
    assert record(records, "q1", "side:right", "n")["value"] == 1  # d has no side: in "all" only


def test_it_reads_utf16_exports(tmp_path):
    text = SMALL.replace(",", "\t")
    status, out, _ = run(write(tmp_path, text, encoding="utf-16"), "--scale-min", "1", "--scale-max", "7",
                         "--bootstrap", "0")
    assert status == 0
    assert record(json.loads(out), "q1", "all", "n")["value"] == 4


def test_it_rejects_a_value_that_is_not_a_number_naming_file_line_and_column(tmp_path):
    status, out, err = run(write(tmp_path, SMALL.replace("c,1,q1,6,right", "c,1,q1,abc,right")), "--bootstrap", "0")
    assert status == 2 and out == ""
    assert err == "indices: answers.csv:4: column 'value': 'abc' is not a number\n"


def test_it_rejects_value_outside_scale_naming_file_line_and_column(tmp_path):
    path = write(tmp_path, SMALL.replace("d,1,q1,7,right", "d,1,q1,9,right"))
    status, _, err = run(path, "--scale-min", "1", "--scale-max", "7")
    assert status == 2
    assert err == "indices: answers.csv:5: column 'value': 9 is outside the scale 1..7 of item 'q1'\n"


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, SMALL.replace("a,1,q2,3,left\n", "\n\na,1,q2,8,left\n"))
    _, _, err = run(path, "--scale-min", "1", "--scale-max", "7")
    assert err.startswith("indices: answers.csv:8: column 'value': 8 is outside the scale 1..7")


def test_it_rejects_a_missing_column_naming_the_header_line(tmp_path):
    status, _, err = run(write(tmp_path, SMALL), "--by", "party")
    assert status == 2
    assert err == ("indices: answers.csv:1: missing column 'party' "
                   "(the header has: participant, wave, item, value, side)\n")


def test_it_rejects_an_empty_wave_and_a_second_answer(tmp_path):
    _, _, err = run(write(tmp_path, SMALL.replace("b,1,q1,2,left", "b,,q1,2,left")))
    assert err == "indices: answers.csv:3: column 'wave': empty\n"
    _, _, err = run(write(tmp_path, SMALL + "a,1,q1,2,left\n"), "--scale-min", "1", "--scale-max", "7")
    assert err.startswith("indices: answers.csv:10: column 'item': participant 'a' answers item 'q1' of wave 1 twice")


def test_it_needs_both_scale_bounds(tmp_path):
    status, _, err = run(write(tmp_path, SMALL), "--scale-min", "1")
    assert status == 2 and "give both --scale-min and --scale-max" in err


def test_a_missing_file_is_one_line_on_stderr(tmp_path):
    status, _, err = run(tmp_path / "nope.csv")
    assert status == 2 and err.count("\n") == 1 and "nope.csv: cannot read the file" in err


def test_output_option_writes_the_records_to_a_file(tmp_path):
    target = tmp_path / "out.csv"
    status, out, err = run(write(tmp_path, SMALL), "--bootstrap", "0", "--format", "csv", "--output", target,
                           "--scale-min", "1", "--scale-max", "7")
    assert status == 0 and out == ""
    assert target.read_text().startswith("wave,item,group,index,value,ci_low,ci_high,n\n")
    assert f"wrote {len(target.read_text().splitlines()) - 1} records" in err


def test_the_example_file_gives_two_groups_two_waves_three_items():
    status, out, err = run(EXAMPLE, "--by", "side", "--scale-min", "1", "--scale-max", "7", "--bootstrap", "100")
    assert status == 0
    records = json.loads(out)
    assert {r["wave"] for r in records} == {1, 2}
    assert {r["item"] for r in records} == {"good_reasons", "threat", "unhappy_marry", None}
    assert "3 missing or empty values excluded" in err


# --------------------------------------------------------------------------- manage.py


def test_manage_py_indices_prints_the_same_records_as_the_module(tmp_path):
    path = write(tmp_path, SMALL)
    out, err = io.StringIO(), io.StringIO()
    call_command("indices", str(path), "--by", "side", "--scale-min", "1", "--scale-max", "7",
                 "--bootstrap", "30", "--seed", "5", stdout=out, stderr=err)
    _, expected, _ = run(path, "--by", "side", "--scale-min", "1", "--scale-max", "7", "--bootstrap", "30",
                         "--seed", "5")
    assert out.getvalue() == expected
    assert "1 missing or empty values excluded" in err.getvalue()


def test_manage_py_indices_raises_a_command_error_naming_file_line_and_column(tmp_path):
    path = write(tmp_path, SMALL.replace("d,1,q1,7,right", "d,1,q1,9,right"))
    with pytest.raises(CommandError, match=r"^answers\.csv:5: column 'value': 9 is outside the scale 1\.\.7"):
        call_command("indices", str(path), "--scale-min", "1", "--scale-max", "7",
                     stdout=io.StringIO(), stderr=io.StringIO())


def test_manage_py_indices_exits_non_zero_with_one_line_on_stderr(tmp_path):
    path = write(tmp_path, SMALL.replace("c,1,q1,6,right", "c,1,q1,abc,right"))
    done = subprocess.run([sys.executable, "manage.py", "indices", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == ["CommandError: answers.csv:4: column 'value': 'abc' is not a number"]


def test_a_design_without_shared_answers_says_why_constraint_is_null(tmp_path):
    text = "participant,wave,item,value\na,1,q1,1\nb,1,q1,3\nc,1,q2,2\nd,1,q2,5\n"
    status, out, err = run(write(tmp_path, text), "--scale-min", "1", "--scale-max", "5", "--bootstrap", "0")
    assert status == 0
    constraint = [r for r in json.loads(out) if r["index"] == "constraint"]
    assert [r["value"] for r in constraint] == [None]
    assert "constraint is null: no pair of items has two participants with answers to both" in err
