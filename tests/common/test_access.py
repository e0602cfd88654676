"""Who may do what: one table of capabilities per role, and the study look-up every entry point
uses (404 for non-members and anonymous users, 403 for a role that is not enough)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from common import access
from surveys.models import Arm, Membership, Study
from tests.factories import ArmFactory, MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

WHO = ["owner", "analyst", "viewer", "non-member", "anonymous", "superuser"]

#: capability -> who may, in the study `panel`
TABLE = {
    "may_see_study": {"owner", "analyst", "viewer", "superuser"},
    "may_read_participant_data": {"owner", "analyst", "superuser"},
    "may_recompute": {"owner", "analyst", "superuser"},
    "may_exclude": {"owner", "analyst", "superuser"},
    "may_edit_series": {"owner", "analyst", "superuser"},
    "may_edit_design": {"owner", "superuser"},
    "may_edit_plan": {"owner", "superuser"},
    "may_see_external_ids": {"owner", "superuser"},
}


@pytest.fixture
def people():
    """Members of `panel` in every role, an owner of another study, anonymous, a superuser."""
    panel, other = StudyFactory(slug="panel"), StudyFactory(slug="other")
    users = {role: MembershipFactory(study=panel, role=role, user=UserFactory(username=role, password=None)).user
             for role in ("owner", "analyst", "viewer")}
    users["non-member"] = MembershipFactory(study=other, role="owner", user=UserFactory(username="elsewhere", password=None)).user
    users["anonymous"] = AnonymousUser()
    users["superuser"] = UserFactory(username="root", is_superuser=True, password=None)
    return panel, other, users


def test_the_table_lists_every_capability():
    assert sorted(TABLE) == sorted(c.name for c in access.CAPABILITIES)
    assert all(getattr(access, c.name) is c for c in access.CAPABILITIES)


@pytest.mark.parametrize("who", WHO)
def test_each_role_has_exactly_the_capabilities_of_the_table(people, who):
    panel, _other, users = people
    granted = {c.name for c in access.CAPABILITIES if c(users[who], panel)}
    assert granted == {name for name, allowed in TABLE.items() if who in allowed}


@pytest.mark.parametrize(("who", "role"), [("owner", "owner"), ("analyst", "analyst"), ("viewer", "viewer"),
                                           ("non-member", None), ("anonymous", None), ("superuser", "owner")])
def test_member_role_is_the_membership_and_a_superuser_counts_as_owner(people, who, role):
    panel, _other, users = people
    assert access.member_role(users[who], panel) == role


def test_roles_are_the_membership_roles_so_the_schema_does_not_change():
    assert Membership.Role is access.Role
    assert Membership.Role.choices == [("owner", "owner"), ("analyst", "analyst"), ("viewer", "viewer")]
    assert access.MEMBER_ROLES == ("owner", "analyst", "viewer")


# --- get_member_study ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "analyst", "viewer", "superuser"])
def test_a_member_gets_the_study(people, who):
    panel, _other, users = people
    assert access.get_member_study(users[who], "panel") == panel


@pytest.mark.parametrize("who", ["non-member", "anonymous"])
def test_a_non_member_gets_404_worded_as_for_a_study_that_does_not_exist(people, who):
    _panel, _other, users = people
    with pytest.raises(Http404) as existing:
        access.get_member_study(users[who], "panel", roles=access.may_see_study)
    with pytest.raises(Http404) as missing:
        access.get_member_study(users[who], "no-such-study")
    assert str(existing.value) == str(missing.value) == "No study with this slug among your studies."


def test_a_role_that_is_not_enough_gets_403_naming_the_roles_that_may(people):
    _panel, _other, users = people
    with pytest.raises(PermissionDenied) as denied:
        access.get_member_study(users["viewer"], "panel", roles=access.may_recompute)
    assert str(denied.value) == ("Your role in this study (viewer) does not allow you to recompute the analysis; "
                                 "that needs: owner, analyst.")
    with pytest.raises(PermissionDenied, match=r"\(analyst\).*change the study's design; that needs: owner\."):
        access.get_member_study(users["analyst"], "panel", roles=access.may_edit_design)
    with pytest.raises(PermissionDenied, match="that needs: owner."):
        access.get_member_study(users["analyst"], "panel", roles=["owner"])
    assert access.get_member_study(users["analyst"], "panel", roles=access.may_recompute).slug == "panel"


def test_the_study_and_the_role_cost_one_query_and_later_checks_none(people):
    _panel, _other, users = people
    with CaptureQueriesContext(connection) as queries:
        study = access.get_member_study(users["analyst"], "panel", roles=access.may_exclude)
        assert access.may_recompute(users["analyst"], study) and not access.may_edit_design(users["analyst"], study)
    assert len(queries) == 1


def test_the_remembered_role_is_never_used_for_another_user(people):
    _panel, _other, users = people
    study = access.get_member_study(users["owner"], "panel")
    assert access.member_role(users["viewer"], study) == "viewer"
    assert not access.may_edit_design(users["viewer"], study)
    assert not access.may_see_study(users["non-member"], study)


def test_require_raises_403_with_the_members_role(people):
    panel, _other, users = people
    access.may_see_external_ids.require(users["owner"], panel)
    with pytest.raises(PermissionDenied, match=r"\(analyst\) does not allow you to see external ids"):
        access.may_see_external_ids.require(users["analyst"], panel)
    with pytest.raises(PermissionDenied, match=r"\(None\)"):
        access.may_see_study.require(users["anonymous"], panel)


# --- Lists of studies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "roles", "slugs"), [
    ("owner", access.may_see_study, ["panel"]),
    ("viewer", access.may_see_study, ["panel"]),
    ("viewer", access.may_edit_design, []),
    ("analyst", access.may_read_participant_data, ["panel"]),
    ("non-member", access.may_see_study, ["other"]),
    ("anonymous", access.may_see_study, []),
    ("superuser", access.may_edit_design, ["other", "panel"]),
])
def test_studies_for_lists_the_studies_with_the_roles(people, who, roles, slugs):
    _panel, _other, users = people
    assert list(access.studies_for(users[who], roles=roles).order_by("slug").values_list("slug", flat=True)) == slugs


def test_a_viewer_who_owns_another_study_may_edit_only_that_one(people):
    panel, other, users = people
    MembershipFactory(study=other, user=users["viewer"], role="owner")
    assert list(access.studies_for(users["viewer"]).order_by("slug")) == [other, panel]
    assert list(access.studies_for(users["viewer"], roles=access.may_edit_design)) == [other]


def test_limit_to_studies_follows_a_path_from_rows_to_their_study(people):
    panel, other, users = people
    mine, theirs = ArmFactory(study=panel, name="mine"), ArmFactory(study=other, name="theirs")
    assert list(access.limit_to_studies(Arm.objects.all(), users["viewer"])) == [mine]
    assert list(access.limit_to_studies(Arm.objects.all(), users["viewer"], roles=access.may_edit_design)) == []
    assert set(access.limit_to_studies(Arm.objects.all(), users["superuser"])) == {mine, theirs}
    assert list(access.limit_to_studies(Study.objects.all(), users["anonymous"], path="")) == []


def test_roles_by_study(people):
    panel, other, users = people
    assert access.roles_by_study(users["analyst"]) == {panel.pk: "analyst"}
    assert access.roles_by_study(users["superuser"]) == {panel.pk: "owner", other.pk: "owner"}
    assert access.roles_by_study(users["anonymous"]) == {}
