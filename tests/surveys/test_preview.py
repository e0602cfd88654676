"""The researcher preview: members take any wave as a test participant; it never enters analysis."""

import pytest

from surveys.models import Participant
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(survey):
    return MembershipFactory(study=survey.study, role="viewer").user


def test_preview_requires_login(client, survey):
    response = client.get("/studies/survey/preview/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_non_member_gets_404(client, survey):
    client.force_login(UserFactory(username="outsider"))
    assert client.get("/studies/survey/preview/").status_code == 404
    assert client.post("/studies/survey/preview/", {"wave": survey.waves[2].pk, "language": "en"}).status_code == 404
    assert Participant.objects.count() == 0


def test_a_member_previews_a_scheduled_wave_with_the_intervention(client, survey, member):
    client.force_login(member)
    page = client.get("/studies/survey/preview/")
    assert page.status_code == 200 and "Wave 3" in page.content.decode()
    response = client.post("/studies/survey/preview/", {"wave": survey.waves[3].pk, "arm": survey.treated.pk,
                                                        "language": "de"})
    assert response.status_code == 303
    url = response["Location"]
    preview = Participant.objects.get()
    assert preview.is_preview and preview.preview_wave == survey.waves[3] and preview.arm == survey.treated
    assert "Auf welcher Seite stehen Sie meist?" in client.get(url).content.decode()  # baseline, in German
    client.post(url, {"step": "baseline", "i_side": "1"})
    # Wave 3 is scheduled, yet the preview takes it; wave 3 has no intervention, so items come first.
    page = client.get(url).content.decode()
    assert "Welle 3" in page and 'name="i_' in page
    assert "Testlauf" in page
    assert Participant.objects.analysable().count() == 0


def test_a_finished_preview_never_redirects_to_the_completion_url(client, survey, member):
    survey.study.completion_url = "https://example.org/done"
    survey.study.items_per_page = 10
    survey.study.save()
    client.force_login(member)
    url = client.post("/studies/survey/preview/", {"wave": survey.waves[1].pk, "language": "en"})["Location"]
    client.post(url, {"step": "baseline", "i_side": "1"})
    client.get(url)
    data = {"step": "answers", "wave": "1", "page": "0", "i_reasons": "5", "i_understand": "6", "i_threat": "dk",
            "i_marry": "2", "i_warmth": "40", "i_story": "", "i_attention": "3"}
    response = client.post(url, data)
    assert response.status_code == 303 and response["Location"] == url
    assert "This was a preview." in client.get(url).content.decode()


def test_a_draft_study_can_be_previewed_by_its_members(client, survey, member):
    survey.study.status = "draft"
    survey.study.save()
    client.force_login(member)
    assert client.get("/studies/survey/preview/").status_code == 200
