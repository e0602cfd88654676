"""The `effects` command: record shape, output formats, and one-line errors naming the line."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from analysis.cli import effects as effects_cli
from analysis.stats.effects import EXTRA_FIELDS, RECORD_FIELDS
from analysis.stats.simulate import ItemSpec, PanelSpec, simulate_panel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "effects_example.csv"
BASE = ["--arm-column", "arm", "--control", "control", "--intervention-wave", "3"]
FAST = ["--bootstrap", "50", "--permutations", "50"]


def write_answers(path: Path, *, n=60, seed=1) -> Path:
    spec = PanelSpec(
        n_participants=n, n_waves=4, items=(ItemSpec("q1"),), intervention_wave=3, effect=-0.5
    )
    frame = simulate_panel(spec, seed=seed).long().rename(columns={"group": "side"})
    frame = frame[["participant", "wave", "item", "value", "arm", "side"]]
    frame["value"] = frame["value"].astype(int)
    frame.to_csv(path, index=False)
    return path


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    status = effects_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_json_records_are_flat_objects_with_the_design_fields_first(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, err = run([path, *BASE, "--by", "side", "--scale-min", 1, "--scale-max", 7, *FAST])
    assert status == 0, err
    records = json.loads(out)
    assert records and all(list(r)[: len(RECORD_FIELDS)] == list(RECORD_FIELDS) for r in records)
    assert all(list(r) == list(RECORD_FIELDS) + list(EXTRA_FIELDS) for r in records)
    assert all(not isinstance(v, (dict, list)) for r in records for v in r.values())
    outcomes = {r["outcome"] for r in records}
    assert {"value", "extremity", "distance_other_group", "mean", "sd", "group_gap"} <= outcomes
    # waves 1 and 2 are before the intervention: event-study placebos (regressions: wave 1, the
    # last pre wave 2 being the reference; index differences: both, against their mean)
    assert {r["wave"] for r in records} == {1, 2, 3, 4, "pooled"}
    assert {r["wave"] for r in records if r["method"] == "event_study"} == {1, 3, 4}
    twfe = next(r for r in records if r["method"] == "twfe" and r["outcome"] == "value")
    assert twfe["item"] == "q1" and twfe["arm"] == "intervention" and twfe["n"] == 60
    assert twfe["ci_low"] < twfe["estimate"] < twfe["ci_high"]
    assert "60 participants" in err and "records" in err


def test_non_finite_numbers_are_null_in_json(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, _ = run([path, *BASE, "--index", "mean", "--outcome", "value", "--bootstrap", "0",
                          "--permutations", "0", "--scale-min", 1, "--scale-max", 7])
    assert status == 0
    records = json.loads(out)
    did = [r for r in records if r["method"] == "did_bootstrap"]
    assert did and all(r["se"] is None and r["ci_low"] is None and r["p_value"] is None for r in did)
    assert all(r["p_ri"] is None for r in records)
    assert "NaN" not in out


def test_csv_output_has_a_header_and_one_row_per_record(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, _ = run([path, *BASE, "--index", "sd", "--outcome", "value", *FAST, "--format", "csv",
                          "--scale-min", 1, "--scale-max", 7, "--no-balanced"])
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(RECORD_FIELDS) + list(EXTRA_FIELDS)
    assert {row["method"] for row in rows} == {"did_bootstrap", "twfe", "event_study"}
    assert {row["attrition_warning"] for row in rows} == {"false"}
    event = [row for row in rows if row["method"] == "event_study"]
    assert event and all(0 < float(row["p_ri"]) <= 1 for row in event)


def test_primary_outcome_marks_its_rows(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, _ = run([path, *BASE, "--index", "sd", "--outcome", "value", *FAST,
                          "--primary-outcome", "value", "--scale-min", 1, "--scale-max", 7])
    assert status == 0
    records = json.loads(out)
    assert all(r["primary"] == (r["outcome"] == "value") for r in records)


def test_the_django_command_writes_the_same_records(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    out, err = io.StringIO(), io.StringIO()
    argv = [str(path), *BASE, "--index", "mean", "--outcome", "value", *FAST, "--scale-min", "1",
            "--scale-max", "7"]
    call_command("effects", *argv, stdout=out, stderr=err)
    _, direct, _ = run(argv)
    assert json.loads(out.getvalue()) == json.loads(direct)


def test_the_example_file_runs(tmp_path):
    status, out, err = run([EXAMPLE, *BASE, "--by", "side", "--index", "mean", *FAST])
    assert status == 0, err
    assert json.loads(out)
    assert "scales inferred" in err


# --------------------------------------------------------------------------- errors


def corrupt(path: Path, line: int, column: str, value: str) -> Path:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_one_line_error(status, out, err, *fragments):
    assert status == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("effects: ") and "warning" not in line]
    message = lines[-1]
    for fragment in fragments:
        assert fragment in message, message


def test_it_rejects_a_value_off_the_scale_naming_file_line_and_column(tmp_path):
    path = corrupt(write_answers(tmp_path / "answers.csv"), 7, "value", "9")
    status, out, err = run([path, *BASE, "--scale-min", 1, "--scale-max", 7, *FAST])
    assert_one_line_error(status, out, err, "answers.csv:7:", "column 'value'", "9")


def test_it_rejects_a_participant_who_changes_arm_naming_the_line(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    first = path.read_text().splitlines()[1].split(",")
    arm = "control" if first[4] == "intervention" else "intervention"
    corrupt(path, 3, "arm", arm)  # line 3 is the same participant's second answer
    status, out, err = run([path, *BASE, "--scale-min", 1, "--scale-max", 7, *FAST])
    assert_one_line_error(status, out, err, "answers.csv:3:", "column 'arm'", first[0])


def test_it_rejects_a_non_number_naming_the_line(tmp_path):
    path = corrupt(write_answers(tmp_path / "answers.csv"), 5, "value", "lots")
    status, out, err = run([path, *BASE, *FAST])
    assert_one_line_error(status, out, err, "answers.csv:5:", "column 'value'", "'lots'")


def test_it_rejects_a_missing_arm_column_naming_the_header(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, err = run([path, "--arm-column", "condition", "--control", "control",
                            "--intervention-wave", "3", *FAST])
    assert_one_line_error(status, out, err, "answers.csv:1:", "'condition'")


def test_it_rejects_an_unknown_control_arm(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, err = run([path, "--arm-column", "arm", "--control", "placebo",
                            "--intervention-wave", "3", *FAST])
    assert_one_line_error(status, out, err, "answers.csv:", "'placebo'")


def test_it_rejects_an_intervention_wave_without_baseline(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, err = run([path, "--arm-column", "arm", "--control", "control",
                            "--intervention-wave", "1", *FAST])
    assert_one_line_error(status, out, err, "answers.csv:", "waves before")


def test_it_rejects_an_unknown_index(tmp_path):
    path = write_answers(tmp_path / "answers.csv")
    status, out, err = run([path, *BASE, "--index", "polarisation"])
    assert_one_line_error(status, out, err, "--index", "'polarisation'")


def test_the_django_command_raises_a_command_error_with_the_line(tmp_path):
    path = corrupt(write_answers(tmp_path / "answers.csv"), 4, "value", "12")
    with pytest.raises(CommandError, match=r"answers.csv:4: column 'value'"):
        call_command("effects", str(path), *BASE, "--scale-min", "1", "--scale-max", "7", *FAST,
                     stdout=io.StringIO(), stderr=io.StringIO())


def test_manage_py_exits_non_zero_with_one_line_on_stderr(tmp_path):
    path = corrupt(write_answers(tmp_path / "answers.csv"), 4, "value", "12")
    result = subprocess.run(
        [sys.executable, "manage.py", "effects", str(path), *BASE, "--scale-min", "1", "--scale-max", "7",
         *FAST],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "answers.csv:4" in line]
    assert len(errors) == 1 and "column 'value'" in errors[0]
