"""Every database constraint of the study model rejects what it must (on SQLite and PostgreSQL:
CI runs this file on both), and the Python-side checks give readable messages."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import (
    Arm,
    ConsentVersion,
    Exclusion,
    Item,
    Membership,
    Participant,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
    hash_secret,
    translate,
)
from tests.factories import (
    ArmFactory,
    ConsentVersionFactory,
    ItemFactory,
    MembershipFactory,
    ParticipantFactory,
    ResponseFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db


def rejected(create) -> bool:
    """True when the database refuses the write (and leaves the outer transaction usable)."""
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


# --- Study, membership, consent -----------------------------------------------------------------

def test_it_rejects_a_duplicate_study_slug(study):
    assert rejected(lambda: Study.objects.create(slug=study.slug, title="again"))


def test_it_rejects_an_unknown_study_status(study):
    assert rejected(lambda: Study.objects.filter(pk=study.pk).update(status="paused"))


def test_it_rejects_a_second_membership_for_the_same_user(owner, study):
    assert rejected(lambda: Membership.objects.create(study=study, user=owner, role="viewer"))


def test_it_rejects_an_unknown_role(study, stranger):
    assert rejected(lambda: Membership.objects.create(study=study, user=stranger, role="admin"))


def test_it_rejects_a_duplicate_consent_version(study):
    ConsentVersionFactory(study=study, version=1)
    assert rejected(lambda: ConsentVersion.objects.create(study=study, version=1, text={"en": "x"}))


def test_it_rejects_consent_version_zero(study):
    assert rejected(lambda: ConsentVersion.objects.create(study=study, version=0, text={"en": "x"}))


def test_current_consent_is_the_highest_version(study):
    ConsentVersionFactory(study=study, version=1)
    latest = ConsentVersionFactory(study=study, version=2)
    assert study.current_consent() == latest


def test_study_clean_rejects_unsupported_languages(study):
    study.languages = ["en", "xx"]
    with pytest.raises(ValidationError, match="xx"):
        study.clean()


# --- Items --------------------------------------------------------------------------------------

def item_kwargs(study, **overrides):
    kwargs = dict(study=study, code="q", prompt={"en": "?"}, kind="likert", role="attitude",
                  scale_min=1, scale_max=7, step=1)
    kwargs.update(overrides)
    return kwargs


def test_it_rejects_a_duplicate_item_code_in_a_study(study):
    ItemFactory(study=study, code="warmth")
    assert rejected(lambda: Item.objects.create(**item_kwargs(study, code="warmth")))


def test_the_same_item_code_is_fine_in_another_study(study):
    ItemFactory(study=study, code="warmth")
    other = Study.objects.create(slug="other", title="Other")
    Item.objects.create(**item_kwargs(other, code="warmth"))
    assert Item.objects.filter(code="warmth").count() == 2


@pytest.mark.parametrize("overrides", [
    {"scale_min": 7, "scale_max": 1},
    {"scale_min": 1, "scale_max": 1},
    {"step": 0},
    {"step": None},
    {"scale_max": None},
    {"kind": "text"},  # a text item with a scale
    {"kind": "slider", "step": -1},
    {"kind": "likert", "scale_min": 0},  # Likert counts 1..k
    {"kind": "dial"},
    {"role": "opinion"},
    {"role": "attention"},  # without expected answer
    {"role": "grouping"},  # grouping must be a choice item
])
def test_it_rejects_an_item_with_an_invalid_scale_or_kind(study, overrides):
    assert rejected(lambda: Item.objects.create(**item_kwargs(study, **overrides)))


def test_it_accepts_each_valid_kind(study):
    Item.objects.create(**item_kwargs(study, code="likert7"))
    Item.objects.create(**item_kwargs(study, code="thermo", kind="slider", scale_min=0, scale_max=100, step=1))
    Item.objects.create(**item_kwargs(study, code="note", kind="text", scale_min=None, scale_max=None, step=None))
    Item.objects.create(**item_kwargs(study, code="side", kind="choice", role="grouping", scale_max=2))
    Item.objects.create(**item_kwargs(study, code="attn", role="attention", expected_answer=2))
    assert study.items.count() == 5


def test_k_of_a_slider_is_range_over_step_plus_one(study):
    item = ItemFactory(study=study, kind="slider", scale_min=0, scale_max=100, step=5)
    assert item.k == 21
    assert item.scale_values()[:3] == [0, 5, 10]
    assert ItemFactory(study=study).k == 7


def test_item_clean_rejects_a_step_that_does_not_divide_the_range(study):
    item = Item(**item_kwargs(study, kind="slider", scale_min=0, scale_max=10, step=3))
    with pytest.raises(ValidationError, match="whole number of steps"):
        item.full_clean()


def test_item_clean_rejects_an_invalid_variable_name(study):
    item = Item(**item_kwargs(study, code="2nd question"))
    with pytest.raises(ValidationError, match="not a valid variable name"):
        item.full_clean()


def test_item_clean_requires_labels_for_every_choice(study):
    item = Item(**item_kwargs(study, kind="choice", role="grouping", scale_max=3, labels={"en": {"1": "a", "2": "b"}}))
    with pytest.raises(ValidationError, match="label for every value"):
        item.full_clean()


@pytest.mark.parametrize("value", [0, 8, 3.5, float("nan")])
def test_item_validate_value_rejects_points_off_the_scale(study, value):
    with pytest.raises(ValidationError):
        ItemFactory(study=study).validate_value(value)


def test_item_validate_value_accepts_slider_steps(study):
    item = ItemFactory(study=study, kind="slider", scale_min=0, scale_max=1, step=0.1)
    item.validate_value(0.7)  # 0.7 is not exact in binary floating point, but is on the grid
    with pytest.raises(ValidationError):
        item.validate_value(0.75)


# --- Scale triggers (cross-table invariants) ------------------------------------------------------

@pytest.mark.parametrize("value", [0, 8, 2.5, -1])
def test_the_database_rejects_an_answer_off_the_item_scale(study, value):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    item = ItemFactory(study=study)
    assert rejected(lambda: Response.objects.create(submission=submission, item=item, value=value))


def test_the_database_rejects_moving_an_answer_off_the_scale(study):
    response = ResponseFactory(submission__participant__study=study, value=7)
    assert rejected(lambda: Response.objects.filter(pk=response.pk).update(value=9))


def test_the_database_accepts_an_answer_on_a_slider_grid(study):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    item = ItemFactory(study=study, kind="slider", scale_min=0, scale_max=100, step=5)
    Response.objects.create(submission=submission, item=item, value=35)
    assert rejected(lambda: Response.objects.create(submission=SubmissionFactory(participant__study=study),
                                                    item=item, value=36))


def test_the_database_rejects_a_number_for_a_text_item(study):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    item = Item.objects.create(**item_kwargs(study, kind="text", scale_min=None, scale_max=None, step=None))
    assert rejected(lambda: Response.objects.create(submission=submission, item=item, value=1))
    Response.objects.create(submission=submission, item=item, text="We argued politely.")


def test_the_scale_of_an_answered_item_is_frozen(study):
    response = ResponseFactory(submission__participant__study=study, value=4)
    item = response.item
    assert rejected(lambda: Item.objects.filter(pk=item.pk).update(scale_max=5))
    assert rejected(lambda: Item.objects.filter(pk=item.pk).update(reverse_coded=True))
    item.scale_max = 5
    with pytest.raises(ValidationError, match="frozen"):
        item.full_clean()


def test_the_wording_of_an_answered_item_may_still_change(study):
    response = ResponseFactory(submission__participant__study=study, value=4)
    Item.objects.filter(pk=response.item_id).update(prompt={"en": "Reworded."}, order=9)
    response.item.refresh_from_db()
    assert response.item.prompt == {"en": "Reworded."}


def test_an_unanswered_item_scale_may_change(study):
    item = ItemFactory(study=study)
    Item.objects.filter(pk=item.pk).update(scale_max=5)
    item.refresh_from_db()
    assert item.k == 5


# --- Waves, arms, interventions -------------------------------------------------------------------

def test_it_rejects_a_duplicate_wave_number(study):
    wave = WaveFactory(study=study, number=1)
    assert rejected(lambda: Wave.objects.create(study=study, number=1, opens_at=wave.opens_at, closes_at=wave.closes_at))


def test_it_rejects_a_wave_that_closes_before_it_opens(study):
    now = timezone.now()
    assert rejected(lambda: Wave.objects.create(study=study, number=1, opens_at=now, closes_at=now))
    assert rejected(lambda: Wave.objects.create(study=study, number=1, opens_at=now, closes_at=now - dt.timedelta(1)))


def test_it_rejects_wave_number_zero(study):
    now = timezone.now()
    assert rejected(lambda: Wave.objects.create(study=study, number=0, opens_at=now, closes_at=now + dt.timedelta(1)))


def test_open_waves_are_open_and_within_their_window(study):
    now = timezone.now()
    current = WaveFactory(study=study, number=1, opens_at=now - dt.timedelta(days=1), state="open")
    WaveFactory(study=study, number=2, opens_at=now + dt.timedelta(days=1), state="open")
    WaveFactory(study=study, number=3, opens_at=now - dt.timedelta(days=1), state="closed")
    assert list(Wave.objects.open(now)) == [current]


def test_it_rejects_a_second_control_arm(study):
    ArmFactory(study=study, name="control", is_control=True)
    assert rejected(lambda: Arm.objects.create(study=study, name="control2", is_control=True))
    Arm.objects.create(study=study, name="treated", is_control=False)


def test_it_rejects_a_duplicate_arm_name_and_a_zero_weight(study):
    ArmFactory(study=study, name="a")
    assert rejected(lambda: Arm.objects.create(study=study, name="a"))
    assert rejected(lambda: Arm.objects.create(study=study, name="b", allocation_weight=0))


def test_it_rejects_two_interventions_for_one_wave_and_arm(study):
    from surveys.models import Intervention

    wave, arm = WaveFactory(study=study), ArmFactory(study=study)
    Intervention.objects.create(wave=wave, arm=arm, content={"en": "Read this."})
    assert rejected(lambda: Intervention.objects.create(wave=wave, arm=arm, content={"en": "Again."}))


# --- Participants and tokens ----------------------------------------------------------------------

def test_it_rejects_a_second_participant_for_the_same_prolific_pair(study):
    ParticipantFactory(study=study, external_id="PID1", external_study_id="S1")
    assert rejected(lambda: Participant.objects.create(study=study, external_id="PID1", external_study_id="S1"))
    # Another Prolific study, or participants without external ids, are different people.
    Participant.objects.create(study=study, external_id="PID1", external_study_id="S2")
    Participant.objects.create(study=study)
    Participant.objects.create(study=study)
    assert study.participants.count() == 4


def test_it_rejects_consent_without_a_version(study):
    assert rejected(lambda: Participant.objects.create(study=study, consented_at=timezone.now()))


def test_public_ids_are_unique_and_pseudonymous(study):
    ids = {ParticipantFactory(study=study).public_id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 11 and i.startswith("P") for i in ids)


def test_a_token_stores_only_the_hash_of_its_secret(study):
    participant = ParticipantFactory(study=study)
    token, secret = ParticipantToken.issue(participant)
    assert len(secret) >= 32  # 24 random bytes = 192 bits, url-safe base64
    assert token.token_hash == hash_secret(secret) != secret
    assert not ParticipantToken.objects.filter(token_hash=secret).exists()
    assert ParticipantToken.lookup(secret) == token
    assert ParticipantToken.lookup(secret + "x") is None
    assert ParticipantToken.lookup("") is None


def test_a_revoked_token_no_longer_opens_the_link(study):
    token, secret = ParticipantToken.issue(ParticipantFactory(study=study))
    second, second_secret = ParticipantToken.issue(token.participant)
    token.revoked_at = timezone.now()
    token.save()
    assert ParticipantToken.lookup(secret) is None
    assert ParticipantToken.lookup(second_secret) == second


def test_it_rejects_a_token_hash_that_is_not_sha256(study):
    participant = ParticipantFactory(study=study)
    assert rejected(lambda: ParticipantToken.objects.create(participant=participant, token_hash="plain-secret"))


def test_analysable_leaves_out_previews_withdrawn_and_excluded(study):
    kept = ParticipantFactory(study=study)
    ParticipantFactory(study=study, is_preview=True)
    ParticipantFactory(study=study, withdrawn_at=timezone.now())
    excluded = ParticipantFactory(study=study)
    Exclusion.objects.create(participant=excluded, reason="failed attention checks")
    lifted = ParticipantFactory(study=study)
    Exclusion.objects.create(participant=lifted, reason="speeder", lifted_at=timezone.now())
    assert set(Participant.objects.analysable()) == {kept, lifted}


def test_it_rejects_two_active_exclusions(study):
    participant = ParticipantFactory(study=study)
    Exclusion.objects.create(participant=participant, reason="speeder")
    assert rejected(lambda: Exclusion.objects.create(participant=participant, reason="again"))


# --- Submissions and responses --------------------------------------------------------------------

def test_it_rejects_a_second_submission_for_the_same_wave(study):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    assert rejected(lambda: Submission.objects.create(participant=submission.participant, wave=submission.wave))


def test_it_rejects_completion_before_start_and_negative_duration(study):
    participant = ParticipantFactory(study=study)
    now = timezone.now()
    assert rejected(lambda: Submission.objects.create(participant=participant, wave=WaveFactory(study=study),
                                                      started_at=now, completed_at=now - dt.timedelta(seconds=1)))
    assert rejected(lambda: Submission.objects.create(participant=participant, wave=WaveFactory(study=study),
                                                      duration_seconds=-1))


def test_it_rejects_a_second_answer_to_the_same_item(study):
    response = ResponseFactory(submission__participant__study=study)
    assert rejected(lambda: Response.objects.create(submission=response.submission, item=response.item, value=3))


@pytest.mark.parametrize("fields", [
    {},  # nothing at all
    {"value": 3, "text": "also text"},
    {"value": 3, "missing": "dont_know"},
    {"text": "x", "missing": "dont_know"},
    {"missing": "refused"},  # not a missing code
])
def test_it_rejects_an_answer_that_is_not_exactly_one_of_value_text_missing(study, fields):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    item = ItemFactory(study=study)
    assert rejected(lambda: Response.objects.create(submission=submission, item=item, **fields))


def test_dont_know_is_stored_as_a_missing_code_never_a_scale_value(study):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    item = ItemFactory(study=study, dont_know=True)
    response = Response.objects.create(submission=submission, item=item, missing="dont_know")
    response.full_clean()
    assert response.value is None


def test_response_clean_rejects_dont_know_where_the_item_offers_none(study):
    submission = SubmissionFactory(participant=ParticipantFactory(study=study))
    response = Response(submission=submission, item=ItemFactory(study=study), missing="dont_know")
    with pytest.raises(ValidationError, match="offers no"):
        response.full_clean()


# --- Translations -----------------------------------------------------------------------------------

def test_translate_falls_back_to_the_default_language_then_any():
    texts = {"en": "Hello", "de": "Hallo"}
    assert translate(texts, "de-AT", "en") == "Hallo"
    assert translate(texts, "fr", "en") == "Hello"
    assert translate({"de": "Hallo"}, "fr", "en") == "Hallo"
    assert translate({}, "en") == ""


def test_membership_roles_are_the_three_of_the_design():
    assert sorted(Membership.Role.values) == ["analyst", "owner", "viewer"]


def test_factory_membership_makes_an_owner(study):
    membership = MembershipFactory(study=study)
    assert membership.role == "owner"
