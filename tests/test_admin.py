"""The admin is usable for building a study without code, and shows a researcher only the studies
they are a member of."""

import pytest
from django.contrib import admin
from django.urls import reverse

from surveys.models import Exclusion, Item, Study
from tests.factories import (
    ArmFactory,
    ItemFactory,
    MembershipFactory,
    ParticipantFactory,
    ResponseFactory,
    StudyFactory,
    UserFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_every_admin_page_renders_for_a_superuser(superuser_client):
    response = ResponseFactory()
    study = response.submission.participant.study
    ArmFactory(study=study, is_control=True)
    pages = set()
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        assert superuser_client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
        if model_admin.has_add_permission(request=type("R", (), {"user": UserFactory(username="root")})()):
            assert superuser_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200
        obj = model._default_manager.first()
        if obj is not None:
            assert superuser_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200
        pages.add(model.__name__)
    # Every model of the data model has a page; ConsentVersion, Membership, Intervention and
    # Response are edited inline on their study, wave and submission pages.
    assert {"Study", "Item", "Wave", "Arm", "Participant", "ParticipantToken", "Submission", "Exclusion",
            "AnalysisRun", "IndexResult", "EffectEstimate"} <= pages


def test_a_researcher_sees_only_member_studies(client):
    mine = MembershipFactory(role="analyst")
    theirs = StudyFactory(slug="theirs")
    ItemFactory(study=theirs, code="secret_item")
    client.force_login(mine.user)
    listing = client.get(reverse("admin:surveys_study_changelist")).content.decode()
    assert mine.study.slug in listing and "theirs" not in listing
    assert client.get(reverse("admin:surveys_study_change", args=[theirs.pk])).status_code == 302  # not found -> index
    assert "secret_item" not in client.get(reverse("admin:surveys_item_changelist")).content.decode()


def test_only_an_owner_may_change_a_study_design(client):
    analyst = MembershipFactory(role="analyst")
    client.force_login(analyst.user)
    url = reverse("admin:surveys_study_change", args=[analyst.study.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_an_owner_builds_a_study_with_inlines(superuser_client):
    url = reverse("admin:surveys_study_add")
    data = {
        "slug": "panel-2027", "title": "Panel 2027", "status": "draft", "languages": '["en", "de"]',
        "completion_text": "{}", "description": "",
    }
    prefixes = {"memberships": 0, "consent_versions": 1, "arms": 2, "items": 1, "waves": 1}
    for prefix, total in prefixes.items():
        data.update({f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": 0,
                     f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
    data.update({"consent_versions-0-version": 1, "consent_versions-0-text": '{"en": "I agree."}'})
    data.update({"arms-0-name": "control", "arms-0-allocation_weight": 1, "arms-0-is_control": "on",
                 "arms-1-name": "intervention", "arms-1-allocation_weight": 1})
    data.update({"items-0-order": 1, "items-0-code": "good_reasons", "items-0-prompt": '{"en": "They have reasons."}',
                 "items-0-kind": "likert", "items-0-role": "attitude", "items-0-scale_min": 1,
                 "items-0-scale_max": 7, "items-0-step": 1})
    data.update({"waves-0-number": 1, "waves-0-opens_at_0": "2027-01-01", "waves-0-opens_at_1": "00:00:00",
                 "waves-0-closes_at_0": "2027-01-08", "waves-0-closes_at_1": "00:00:00", "waves-0-state": "scheduled"})
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    study = Study.objects.get(slug="panel-2027")
    assert (study.items.count(), study.waves.count(), study.arms.count(), study.consent_versions.count()) == (1, 1, 2, 1)


def test_the_admin_refuses_to_change_the_scale_of_an_answered_item(superuser_client):
    response = ResponseFactory()
    item = response.item
    url = reverse("admin:surveys_item_change", args=[item.pk])
    data = {"study": item.study_id, "code": item.code, "prompt": '{"en": "Changed"}', "kind": "likert",
            "role": "attitude", "scale_min": 1, "scale_max": 5, "step": 1, "labels": "{}", "order": 0}
    page = superuser_client.post(url, data)
    assert page.status_code == 200 and "frozen" in page.content.decode()
    assert Item.objects.get(pk=item.pk).scale_max == 7


def test_wave_admin_lists_only_items_of_member_studies(client):
    membership = MembershipFactory(role="owner")
    wave = WaveFactory(study=membership.study)
    ItemFactory(study=membership.study, code="mine")
    ItemFactory(code="foreign")
    client.force_login(membership.user)
    page = client.get(reverse("admin:surveys_wave_change", args=[wave.pk])).content.decode()
    assert "mine" in page and "foreign" not in page


# --- Roles in the admin: design writes only by the study's owners ----------------------------------

ADD_FORMS = {
    "item": {"code": "planted", "prompt": '{"en": "Planted?"}', "kind": "likert", "role": "attitude",
             "scale_min": 1, "scale_max": 7, "step": 1, "labels": "{}", "order": 9},
    "arm": {"name": "planted", "allocation_weight": 1},
    "wave": {"number": 9, "opens_at_0": "2027-01-01", "opens_at_1": "00:00:00", "closes_at_0": "2027-01-08",
             "closes_at_1": "00:00:00", "state": "scheduled", "completion_code": "", "completion_url": "",
             "interventions-TOTAL_FORMS": 0, "interventions-INITIAL_FORMS": 0,
             "interventions-MIN_NUM_FORMS": 0, "interventions-MAX_NUM_FORMS": 1000},
}


@pytest.fixture(params=["viewer", "analyst"])
def member_of_a_who_owns_b(request, client):
    """A viewer (or analyst) of study A who owns study B, logged in to the admin."""
    a, b = StudyFactory(slug="study-a", title="Study A"), StudyFactory(slug="study-b", title="Study B")
    user = MembershipFactory(study=a, role=request.param, user=UserFactory(username="member", password=None)).user
    MembershipFactory(study=b, user=user, role="owner")
    client.force_login(user)
    return client, a, b


@pytest.mark.parametrize("model", sorted(ADD_FORMS))
def test_a_viewer_or_analyst_of_a_cannot_add_to_a_what_they_may_add_to_their_own_study(member_of_a_who_owns_b, model):
    client, a, b = member_of_a_who_owns_b
    url = reverse(f"admin:surveys_{model}_add")
    page = client.get(url).content.decode()
    assert f'<option value="{b.pk}">' in page and f'<option value="{a.pk}"' not in page
    refused = client.post(url, {"study": a.pk, **ADD_FORMS[model]})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not getattr(a, f"{model}s").exists()
    accepted = client.post(url, {"study": b.pk, **ADD_FORMS[model]})
    assert accepted.status_code == 302 and getattr(b, f"{model}s").count() == 1


def test_a_viewer_or_analyst_of_a_cannot_add_inline_rows_to_a(member_of_a_who_owns_b):
    client, a, _b = member_of_a_who_owns_b
    wave = WaveFactory(study=a)
    assert client.post(reverse("admin:surveys_study_change", args=[a.pk]), {"title": "x"}).status_code == 403
    assert client.post(reverse("admin:surveys_wave_change", args=[wave.pk]), {"number": 1}).status_code == 403
    page = client.get(reverse("admin:surveys_wave_change", args=[wave.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_admin_filters_offer_only_the_users_studies(client):
    mine = MembershipFactory(role="viewer", study=StudyFactory(title="Mine"), user=UserFactory(password=None))
    MembershipFactory(role="viewer", study=StudyFactory(title="Also mine"), user=mine.user)
    StudyFactory(title="Secret title")
    client.force_login(mine.user)
    for name in ("item", "arm", "wave", "exportaudit"):
        page = client.get(reverse(f"admin:surveys_{name}_changelist")).content.decode()
        assert "Secret title" not in page and "Also mine" in page, name
    # Participant-level rows are not for viewers (as in the API).
    assert client.get(reverse("admin:surveys_participant_changelist")).status_code == 403


def test_only_analysts_and_owners_of_the_participants_study_add_exclusions(client):
    theirs = ParticipantFactory()
    mine = MembershipFactory(role="analyst", user=UserFactory(password=None))
    own_participant = ParticipantFactory(study=mine.study)
    client.force_login(mine.user)
    url = reverse("admin:surveys_exclusion_add")
    when = {"created_at_0": "2027-01-01", "created_at_1": "00:00:00"}
    page = client.post(url, {"participant": theirs.pk, "reason": "planted", **when})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert not Exclusion.objects.exists()
    assert client.post(url, {"participant": own_participant.pk, "reason": "flagged", **when}).status_code == 302
    assert Exclusion.objects.get().excluded_by == mine.user


def test_admin_design_edits_of_a_launched_study_join_the_change_log(superuser_client):
    study = StudyFactory(status="active")
    item = ItemFactory(study=study, code="q1", prompt={"en": "Before"})
    arm = ArmFactory(study=study, name="extra")
    url = reverse("admin:surveys_item_change", args=[item.pk])
    data = {"study": study.pk, "code": "q1", "prompt": '{"en": "After"}', "kind": item.kind, "role": item.role,
            "scale_min": item.scale_min, "scale_max": item.scale_max, "step": item.step, "labels": "{}",
            "order": item.order}
    assert superuser_client.post(url, data).status_code == 302
    superuser_client.post(reverse("admin:surveys_arm_delete", args=[arm.pk]), {"post": "yes"})
    log = list(study.design_changes.order_by("id").values_list("source", "username", "path", "before", "after"))
    assert ("admin", "root", "items.q1.prompt.en", "Before", "After") in log
    assert any(path.startswith("arms") and source == "admin" for source, _u, path, _b, _a in log)
    draft = StudyFactory(status="draft")  # before launch nothing is logged
    draft_item = ItemFactory(study=draft, code="q1", prompt={"en": "Before"})
    data.update(study=draft.pk)
    assert superuser_client.post(reverse("admin:surveys_item_change", args=[draft_item.pk]), data).status_code == 302
    assert not draft.design_changes.exists()
