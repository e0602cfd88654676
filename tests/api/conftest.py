"""A small study with known answers, researchers in every role, and their API tokens."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from surveys.models import ApiToken, Exclusion, Membership, Response
from tests.factories import (
    ArmFactory,
    ItemFactory,
    MembershipFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    UserFactory,
    WaveFactory,
    make_survey_study,
)

T0 = dt.datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=dt.UTC)

#: (participant key, wave, item, value, text, missing, response time ms)
ANSWERS = [
    ("p1", 1, "reasons", 2, "", "", 1500),
    ("p1", 1, "understand", 5, "", "", 2100),
    ("p1", 1, "threat", None, "", "dont_know", 900),
    ("p1", 1, "warmth", 35, "", "", None),
    ("p1", 1, "story", None, "We argued about dinner, \"politely\".", "", 12000),
    ("p1", 2, "reasons", 3, "", "", 1400),
    ("p2", 1, "reasons", 6, "", "", 1800),
    ("p2", 1, "warmth", 81, "", "", 2500),
    ("p2", 2, "reasons", 7, "", "", 1300),
    ("p2", 2, "attention", 3, "", "", 1000),
    ("p3", 1, "reasons", 1, "", "", 1100),  # excluded
    ("p4", 1, "reasons", 4, "", "", 1200),  # preview: never exported
    ("p5", 1, "reasons", 5, "", "", 1600),  # withdrawn, kept the answers
]


@pytest.fixture
def data(db):
    s = make_survey_study(slug="panel")
    p = {
        "p1": ParticipantFactory(study=s.study, arm=s.control, groups={"side": 1}, external_id="PID-1"),
        "p2": ParticipantFactory(study=s.study, arm=s.treated, groups={"side": 2}, external_id="PID-2"),
        "p3": ParticipantFactory(study=s.study, arm=s.control, groups={"side": 2}),
        "p4": ParticipantFactory(study=s.study, arm=s.treated, groups={"side": 1}, is_preview=True),
        "p5": ParticipantFactory(study=s.study, arm=s.treated, groups={"side": 1},
                                 withdrawn_at=timezone.now()),
    }
    submissions = {}
    for n, (key, wave, code, value, text, missing, ms) in enumerate(ANSWERS):
        if (key, wave) not in submissions:
            submissions[key, wave] = SubmissionFactory(participant=p[key], wave=s.waves[wave])
        Response.objects.create(submission=submissions[key, wave], item=s.items[code], value=value, text=text,
                                missing=missing, response_time_ms=ms, answered_at=T0 + dt.timedelta(minutes=n))
    Exclusion.objects.create(participant=p["p3"], reason="failed attention check")
    other = StudyFactory(slug="elsewhere")
    # The same names as in `panel`, so every detail URL exists in both studies.
    ItemFactory(study=other, code="reasons")
    WaveFactory(study=other, number=1)
    ArmFactory(study=other, name="control", is_control=True)
    users = {}
    for role in ("owner", "analyst", "viewer"):
        users[role] = MembershipFactory(study=s.study, role=role, user=UserFactory(username=role, password=None)).user
    users["other"] = MembershipFactory(study=other, role=Membership.Role.OWNER,
                                       user=UserFactory(username="other", password=None)).user
    tokens = {name: ApiToken.issue(user, name=f"{name} laptop")[1] for name, user in users.items()}
    revoked, tokens["revoked"] = ApiToken.issue(users["owner"], name="old")
    revoked.revoked_at = timezone.now()
    revoked.save()
    return SimpleNamespace(**vars(s), participants=p, other=other, users=users, tokens=tokens)


def client_for(data, who: str) -> APIClient:
    """An API client with the token of `who` in `data` ("owner", "analyst", "viewer", "other",
    "revoked"), or without one ("anonymous")."""
    client = APIClient()
    if who != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {data.tokens[who]}")
    return client


@pytest.fixture
def api_client(data):
    """`api_client(who)`: the API client of a role named at run time (see `client_for`)."""
    return lambda who: client_for(data, who)


def _role_client(name: str, who: str, doc: str):
    @pytest.fixture(name=name)
    def role_client(data):
        return client_for(data, who)

    role_client.__doc__ = doc
    return role_client


owner_client = _role_client("owner_client", "owner", "The API client of the owner of `panel`.")
analyst_client = _role_client("analyst_client", "analyst", "The API client of an analyst of `panel`.")
viewer_client = _role_client("viewer_client", "viewer", "The API client of a viewer of `panel`.")
stranger_client = _role_client("stranger_client", "other",
                               "The API client of the owner of `elsewhere`, a stranger to `panel`.")
anonymous_client = _role_client("anonymous_client", "anonymous", "An API client without a token.")
