"""The `power` command: flat records on stdout, a summary on stderr, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from analysis.cli import power as power_cli

BASE = ["--participants", "60", "--waves", "4", "--intervention-wave", "3", "--simulations", "60"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    status = power_cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_json_records_hold_the_power_curve_with_the_requested_and_minimum_rows():
    status, out, err = run([*BASE, "--effect", "-0.5", "--outcome", "value"])
    assert status == 0, err
    records = json.loads(out)
    assert all(list(r) == list(power_cli.FIELDS) for r in records)
    requested = [r for r in records if r["requested"]]
    minimum = [r for r in records if r["minimum"]]
    assert len(requested) == 1 and requested[0]["participants_per_arm"] == 60
    assert len(minimum) == 1 and minimum[0]["power"] >= 0.8
    assert [r["participants_per_arm"] for r in records] == sorted(r["participants_per_arm"] for r in records)
    assert all(r["outcome"] == "value" and r["effect"] == -0.5 and r["test"] == "twfe_cluster_t" for r in records)
    assert "participants per arm" in err and "smallest participants per arm for 80% power" in err


def test_csv_output_and_no_search_give_one_row():
    status, out, _ = run([*BASE, "--effect", "-0.03", "--outcome", "mad_pairwise", "--no-search",
                          "--format", "csv"])
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and rows[0]["requested"] == "true" and rows[0]["test"] == "jackknife"
    assert 0 <= float(rows[0]["power"]) <= 1


def test_the_django_command_prints_the_same_records():
    out = io.StringIO()
    argv = [*BASE, "--effect", "-0.5", "--outcome", "value", "--no-search"]
    call_command("power", *argv, stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue()) == json.loads(run(argv)[1])


def test_it_refuses_an_effect_the_model_cannot_produce_in_one_line():
    status, out, err = run([*BASE, "--effect", "0.1", "--outcome", "group_gap"])
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("power: ") and "group_gap" in err


def test_it_rejects_an_intervention_at_the_first_wave():
    status, _, err = run(["--participants", "60", "--waves", "4", "--intervention-wave", "1",
                          "--effect", "0.2", "--outcome", "value"])
    assert status == 2 and "baseline" in err


def test_the_django_command_raises_a_command_error():
    with pytest.raises(CommandError, match="scale"):
        call_command("power", *BASE, "--effect", "0.2", "--outcome", "value", "--scale-min", "5",
                     "--scale-max", "1", stdout=io.StringIO(), stderr=io.StringIO())


def test_help_states_that_the_effect_is_in_the_outcomes_units():
    help_text = power_cli.build_parser().format_help()
    assert "OUTCOME'S OWN UNITS" in help_text
