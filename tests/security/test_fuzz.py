"""Property-based fuzz (hypothesis) of the participant forms, the API's writes and the export
filters: whatever is sent, the answer is never a 5xx, and a refused request stores nothing."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.models import Arm, Item, Participant, Response, Submission, Wave
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\x00", "%00", "' OR 1=1 --", "=1+1", "<script>", "9" * 40, "-1", "1e309", "NaN", "", " ", "\ud7ff"])
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=8)


def _counts():
    return (Participant.objects.count(), Submission.objects.count(), Response.objects.count(),
            Item.objects.count(), Wave.objects.count(), Arm.objects.count())


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["agree", "consent_version", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID",
                                             "email", "step", "wave", "page", "i_side", "i_reasons", "i_story",
                                             "delete_answers", "language"]), text, max_size=8))
def test_participant_forms(survey, enroll, form):
    participant, secret = getattr(survey, "_fuzz_person", None) or enroll()
    survey._fuzz_person = (participant, secret)
    client = Client()
    for path in ("/s/survey/", f"/p/{secret}/"):
        before = _counts()
        response = client.post(path, form)
        assert response.status_code < 500, (path, form)
        if response.status_code >= 400:
            assert _counts() == before, (path, form)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["code", "prompt", "kind", "role", "scale_min", "scale_max", "step",
                                             "labels", "order", "name", "allocation_weight", "is_control",
                                             "number", "opens_at", "closes_at", "title", "languages"]),
                            json_value, max_size=8),
       endpoint=st.sampled_from(["items/", "arms/", "waves/", "items/reasons/", "arms/control/", "waves/1/"]))
def test_api_writes(data, body, endpoint):
    client = client_for(data, "owner")
    before = _counts()
    url = f"/api/v1/studies/panel/{endpoint}"
    response = client.post(url, body, format="json") if endpoint.count("/") == 1 else client.patch(url, body,
                                                                                                     format="json")
    assert response.status_code < 500, (endpoint, body, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        assert _counts() == before


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["format", "shape", "wave", "arm", "item", "group", "include_excluded",
                                              "include_external_id", "language", "page_size"]), text, max_size=5))
def test_export_filters(data, query):
    response = client_for(data, "owner").get("/api/v1/studies/panel/export/", query)
    assert response.status_code < 500, query
    if response.status_code != 200:
        assert response["Content-Type"].startswith("application/json")
    elif response.streaming:
        b"".join(response.streaming_content)  # the stream itself does not fail either


@pytest.mark.parametrize("field", ["wave", "page", "shown"])
def test_an_integer_too_large_for_the_database_is_no_500(survey, enroll, field):
    participant, secret = enroll()
    before = _counts()
    response = Client().post(f"/p/{secret}/", {field: str(10 ** 30)})
    assert response.status_code < 500
    assert _counts() == before or response.status_code < 400
