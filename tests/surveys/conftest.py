import pytest
from django.utils import timezone

from tests.factories import ParticipantFactory, ParticipantTokenFactory, make_survey_study


@pytest.fixture
def survey(db):
    """A demo-like study: wave 2 open (with an intervention for arm `contact`), 4 items a page."""
    return make_survey_study()


@pytest.fixture
def enroll(survey):
    """Make a participant who consented and answered the baseline; returns (participant, secret)."""

    def make(*, arm=None, groups=None, language="en", **kwargs):
        now = timezone.now()
        participant = ParticipantFactory(
            study=survey.study, arm=arm or survey.control, groups={"side": 1} if groups is None else groups,
            consented_at=now, consent_version=survey.consent, assigned_at=now, language=language, **kwargs)
        token = ParticipantTokenFactory(participant=participant)
        return participant, token.secret

    return make
