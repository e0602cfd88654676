"""Permission matrix: every admin page (list, add, change, delete of a row of study A) and every
researcher page and CSV for owner, analyst, viewer of A, a staff researcher who is no member of A
(owner of another study), and anonymous. The expectation comes from `common.access`; the test
checks that every entry point asks it and nothing else."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from common import access
from surveys.models import Exclusion, Membership, Message, MessageTemplate, Study
from tests.factories import MembershipFactory, StudyFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("owner", "analyst", "viewer", "stranger", "anonymous")
STUDY_ADMINS = [model_admin for model, model_admin in admin.site._registry.items()
                if model._meta.app_label in ("surveys", "analysis")]


@pytest.fixture
def world(survey, enroll):
    """The survey study (items, waves, arms, an intervention, a participant with a link, an
    exclusion, a message) with a researcher in each role, and an owner of another study."""
    study = survey.study
    users = {role: MembershipFactory(study=study, role=role, user=UserFactory(username=role, password=None)).user
             for role in ("owner", "analyst", "viewer")}
    users["stranger"] = MembershipFactory(study=StudyFactory(slug="elsewhere"), role="owner",
                                          user=UserFactory(username="stranger", password=None)).user
    participant, _secret = enroll()
    SubmissionFactory(participant=participant, wave=survey.waves[1])
    Exclusion.objects.create(participant=participant, reason="matrix")
    Message.objects.create(participant=participant, wave=survey.waves[2], kind=MessageTemplate.Kind.INVITATION)
    return study, users


def client_as(users, role) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    return client


def row_of(model_admin, study):
    rows = access.limit_to_studies(model_admin.model._default_manager.all(), _superuser(),
                                   path=getattr(model_admin, "study_path", "study"))
    prefix = f"{model_admin.study_path}__" if getattr(model_admin, "study_path", "study") else ""
    return rows.filter(**{f"{prefix}pk": study.pk}).first()


def _superuser():
    return UserFactory(username="root", is_superuser=True, password=None)


def _name(model_admin) -> str:
    return f"{model_admin.model._meta.app_label}_{model_admin.model._meta.model_name}"


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_follows_common_access(world, role):
    study, users = world
    client = client_as(users, role)
    user = users.get(role)
    for model_admin in STUDY_ADMINS:
        name = _name(model_admin)
        see = getattr(model_admin, "see", access.may_see_study)
        edit = getattr(model_admin, "edit", access.may_edit_design)
        changelist = client.get(reverse(f"admin:{name}_changelist"))
        if role == "anonymous":
            assert changelist.status_code == 302 and "/admin/login/" in changelist["Location"], name
            continue
        may_list = see is access.may_see_study or access.studies_for(user, roles=see).exists()
        assert changelist.status_code == (200 if may_list else 403), (name, role)
        row = row_of(model_admin, study)
        if row is None:
            continue
        change = client.get(reverse(f"admin:{name}_change", args=[row.pk]))
        if see(user, study):
            assert change.status_code == 200, (name, role)
            writable = model_admin.has_change_permission(_request(user), row)
            assert (b'name="_save"' in change.content) == writable, (name, role)
            assert writable <= edit(user, study), (name, role)  # never more than access allows
        else:
            # A row outside the user's studies (or roles) does not exist for them.
            assert change.status_code in (302, 403), (name, role)
            assert str(row) not in client.get(reverse(f"admin:{name}_changelist")).content.decode(), (name, role)
        may_delete = model_admin.has_delete_permission(_request(user), row)
        assert may_delete <= (see(user, study) and edit(user, study)), (name, role)
        if may_delete:
            assert client.get(reverse(f"admin:{name}_delete", args=[row.pk])).status_code == 200, (name, role)
        else:
            delete = client.post(reverse(f"admin:{name}_delete", args=[row.pk]), {"post": "yes"})
            assert delete.status_code in (302, 403), (name, role)
            assert model_admin.model._default_manager.filter(pk=row.pk).exists(), (name, role)


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("role", ROLES)
def test_admin_add_forms_offer_only_studies_the_role_may_change(world, role):
    study, users = world
    client = client_as(users, role)
    for model_admin in STUDY_ADMINS:
        name = _name(model_admin)
        page = client.get(reverse(f"admin:{name}_add"))
        if role == "anonymous":
            assert page.status_code == 302, name
            continue
        if page.status_code == 200:
            html = page.content.decode()
            edit = getattr(model_admin, "edit", access.may_edit_design)
            if not edit(users[role], study) and model_admin.model is not Study:
                assert f'<option value="{study.pk}"' not in html, (name, role)
        else:
            assert page.status_code == 403, (name, role)


STUDY_PAGES = {
    # path under /studies/<slug>/: the capability it needs
    "": access.may_see_study, "trends/": access.may_see_study, "distributions/": access.may_see_study,
    "effects/": access.may_see_study, "quality/": access.may_see_study, "attrition/": access.may_see_study,
    "text/": access.may_see_study, "preview/": access.may_see_study,
    "?format=csv&chart=funnel": access.may_see_study,
    "quality/?format=csv&chart=quality": access.may_see_study,
    "quality/?format=csv&chart=flagged": access.may_read_participant_data,
    "waves/1/prolific-completed.csv": access.may_read_participant_data,
}
PARTICIPANT_LEVEL_MARKERS = ("E-mail on file", "Flagged waves")


@pytest.mark.parametrize("page", sorted(STUDY_PAGES))
def test_every_researcher_page_follows_common_access(world, page):
    study, users = world
    for role in ROLES:
        response = client_as(users, role).get(f"/studies/{study.slug}/{page}")
        if role == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
            continue
        if role == "stranger":
            assert response.status_code == 404, page  # nothing says the study exists
            continue
        membership = Membership.objects.get(study=study, user=users[role])
        if not STUDY_PAGES[page].allows(membership.role):
            assert response.status_code in (400, 403), (page, role, response.status_code)
            continue
        assert response.status_code == 200, (page, role, response.status_code)
        if role == "viewer" and "format=csv" not in page:
            html = response.content.decode()
            assert not any(marker in html for marker in PARTICIPANT_LEVEL_MARKERS), (page, role)


@pytest.mark.parametrize("role", ["viewer", "stranger", "anonymous"])
def test_writes_from_researcher_pages_need_the_capability(world, role):
    study, users = world
    client = client_as(users, role)
    participant = study.participants.filter(is_preview=False).last()
    before = Exclusion.objects.count()
    response = client.post(f"/studies/{study.slug}/quality/exclude/", {"participants": [participant.public_id],
                                                                       "reason": "x"})
    assert response.status_code in (302, 403, 404) and Exclusion.objects.count() == before
    if role != "anonymous":
        assert response.status_code in (403, 404)
    assert client.post(f"/studies/{study.slug}/recompute/").status_code in (302, 403, 404)
