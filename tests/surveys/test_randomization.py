"""Blocked stratified randomization: weights respected, balanced within each stratum, recorded."""

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys import randomization, services
from surveys.models import AllocationBlock
from tests.factories import ParticipantFactory

pytestmark = pytest.mark.django_db


def test_stratum_key_is_sorted_by_code_and_names_missing_answers():
    assert randomization.stratum_key({"side": 2, "age": None}, ["side", "age"]) == "age:dk|side:2"
    assert randomization.stratum_key({}, []) == "all"


@settings(max_examples=50, deadline=None)
@given(weights=st.dictionaries(st.integers(1, 9), st.integers(1, 4), min_size=1, max_size=4), seed=st.integers())
def test_a_permuted_block_holds_each_arm_in_proportion_to_its_weight(weights, seed):
    block = randomization.permuted_block(weights, random.Random(seed))
    counts = Counter(block)
    multiplier = len(block) // sum(weights.values())
    assert multiplier in randomization.BLOCK_MULTIPLIERS
    assert counts == {arm: weight * multiplier for arm, weight in weights.items()}




def test_arms_are_balanced_within_each_stratum_and_follow_the_weights(survey):
    from tests.factories import make_survey_study

    study = make_survey_study(slug="weighted", weights=(1, 2))
    rng = random.Random(7)
    counts = {1: Counter(), 2: Counter()}
    for i in range(120):
        side = 1 if i % 3 else 2  # unequal strata: 80 left, 40 right
        participant = ParticipantFactory(study=study.study, groups={})
        services.record_baseline(participant=participant, answers={"side": side}, rng=rng)
        participant.refresh_from_db()
        counts[side][participant.arm.name] += 1
        # Never more than one block (of at most 2 x 3 slots) away from the 1:2 target.
        for tally in counts.values():
            total = sum(tally.values())
            assert abs(tally["contact"] - 2 * total / 3) <= 4
    blocks = AllocationBlock.objects.filter(study=study.study)
    assert set(blocks.values_list("stratum", flat=True)) == {"side:1", "side:2"}
    for side, tally in counts.items():
        used = blocks.filter(stratum=f"side:{side}")
        full = [b for b in used if b.used == len(b.sequence)]
        in_full = Counter(arm for b in full for arm in b.sequence)
        assert in_full[study.treated.pk] == 2 * in_full[study.control.pk]
        assert sum(tally.values()) == sum(b.used for b in used)


def test_the_recorded_arm_is_never_changed(survey):
    participant = ParticipantFactory(study=survey.study, groups={})
    services.record_baseline(participant=participant, answers={"side": 1})
    participant.refresh_from_db()
    arm, assigned_at = participant.arm, participant.assigned_at
    for _ in range(3):
        assert services.assign_arm(participant=participant) == arm
    participant.refresh_from_db()
    assert (participant.arm, participant.assigned_at) == (arm, assigned_at)
    assert sum(b.used for b in AllocationBlock.objects.all()) == 1


def test_a_study_without_arms_assigns_none(db):
    from tests.factories import StudyFactory

    participant = ParticipantFactory(study=StudyFactory())
    assert services.assign_arm(participant=participant) is None
    assert AllocationBlock.objects.count() == 0


def test_preview_participants_never_consume_allocation_slots(survey):
    participant = ParticipantFactory(study=survey.study, is_preview=True, groups={})
    services.record_baseline(participant=participant, answers={"side": 1})
    assert AllocationBlock.objects.count() == 0
