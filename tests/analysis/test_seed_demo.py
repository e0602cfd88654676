"""`seed_demo` builds the demo study of the design and is idempotent.

The demo is built once per test session (`demo_study`, tests/plugins/demo.py); only the tests of
rerunning the command run it again here."""

import io

import pytest
from django.apps import apps
from django.core.management import call_command

from surveys.models import Item, Participant, Response, Submission, Wave
from tests.plugins.demo import DEMO_PARTICIPANTS

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every project table, primary keys included."""
    tables = {}
    for model in [*apps.get_app_config("surveys").get_models(), *apps.get_app_config("analysis").get_models()]:
        fields = [f.attname for f in model._meta.concrete_fields]
        tables[model.__name__] = sorted(model.objects.values_list(*fields), key=repr)
    return tables


def seed(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", "--participants", str(DEMO_PARTICIPANTS), "--without-gss", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_the_shared_demo_holds_every_row_seed_demo_wrote(demo_study, demo_snapshot):
    tables = snapshot()
    for model, rows in demo_snapshot.tables:
        if model.__name__ in tables:
            assert sorted(rows, key=repr) == tables[model.__name__], model.__name__
    assert {model.__name__ for model, _ in demo_snapshot.tables} >= {name for name, rows in tables.items() if rows}


def test_seed_demo_twice_gives_the_same_database(demo_study, demo_snapshot):
    first_output = demo_snapshot.output  # the session's first run, on an empty database
    first = snapshot()
    second_output = seed()
    assert snapshot() == first
    assert "unchanged" in second_output
    # The printed participant link is stable too (its secret is derived, never stored).
    link = [line for line in first_output.splitlines() if "Participant link" in line]
    assert link and link == [line for line in second_output.splitlines() if "Participant link" in line]


def test_seed_demo_builds_the_study_of_the_design(demo_study, demo_snapshot):
    output = demo_snapshot.output
    study = demo_study
    assert "user researcher" in output and "/p/" in output
    assert study.waves.count() == 6
    attitude = study.items.filter(role=Item.Role.ATTITUDE)
    assert attitude.filter(kind="likert", scale_min=1, scale_max=7).count() == 6
    assert attitude.filter(kind="slider", scale_min=0, scale_max=100).count() == 1
    assert attitude.filter(kind="text").count() == 1
    side = study.items.get(role=Item.Role.GROUPING)
    assert (side.kind, side.k) == ("choice", 2)
    assert sorted(study.arms.values_list("name", "is_control")) == [("control", True), ("intervention", False)]
    intervention_waves = list(study.waves.filter(interventions__isnull=False).values_list("number", flat=True))
    assert intervention_waves == [3]
    assert study.participants.filter(is_preview=False).count() == DEMO_PARTICIPANTS + 1  # + the participant of the link
    assert study.memberships.get(user__username="researcher").role == "owner"
    # Waves 1-4 are closed with answers, 5 is open and partly answered, 6 is still to come.
    states = dict(study.waves.values_list("number", "state"))
    assert states == {1: "closed", 2: "closed", 3: "closed", 4: "closed", 5: "open", 6: "scheduled"}
    per_wave = {w.number: Submission.objects.filter(wave=w).count() for w in study.waves.all()}
    assert per_wave[6] == 0 and 0 < per_wave[5] < per_wave[4] <= per_wave[1] <= DEMO_PARTICIPANTS
    assert list(Wave.objects.open().filter(study=study).values_list("number", flat=True)) == [5]


def test_demo_answers_lie_on_their_scales_and_attrition_is_monotone(demo_study):
    numeric = Response.objects.filter(submission__wave__study__slug="demo", value__isnull=False).select_related("item")
    for response in numeric[:2000]:
        response.item.validate_value(response.value)
    texts = Response.objects.filter(item__kind="text").exclude(text="")
    assert texts.count() > 0
    # Nobody answers a wave after skipping one for good (attrition is monotone in the simulation).
    for participant in Participant.objects.filter(study__slug="demo")[:50]:
        numbers = sorted(participant.submissions.values_list("wave__number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))


def test_seed_demo_reset_rebuilds_the_same_answers(demo_study):
    before = sorted(Response.objects.filter(value__isnull=False).values_list(
        "submission__participant__public_id", "submission__wave__number", "item__code", "value"))
    seed("--reset")
    after = sorted(Response.objects.filter(value__isnull=False).values_list(
        "submission__participant__public_id", "submission__wave__number", "item__code", "value"))
    assert before == after and len(before) > 1000


def test_the_demos_pooled_mean_lies_within_its_items_on_the_0_1_scale(demo_study):
    from analysis.models import IndexResult

    pooled = dict(IndexResult.objects.filter(study=demo_study, item__isnull=True, group="all", index="mean")
                  .values_list("wave__number", "value"))
    assert pooled
    for wave, value in pooled.items():
        rescaled = []
        for row in IndexResult.objects.filter(study=demo_study, wave__number=wave, item__isnull=False, group="all",
                                              index="mean").select_related("item"):
            item = row.item
            share = (row.value - item.scale_min) / (item.scale_max - item.scale_min)
            rescaled.append(1 - share if item.reverse_coded else share)
        # a 0-100 thermometer no longer swamps the 7-point items: the pooled mean is their average
        assert value == pytest.approx(sum(rescaled) / len(rescaled))
        assert min(rescaled) <= value <= max(rescaled)
        assert 0 <= value <= 1
