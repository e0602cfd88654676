"""Optional items, "prefer not to say" and numeric entry: asked, checked and stored as missing
codes, never as scale values; in the spec and the codebook."""

import pytest
from django.core.exceptions import ValidationError

from surveys import kinds
from surveys.models import Item, Response, Submission
from surveys.spec import service as spec_service
from surveys.spec.validate import validate_spec
from tests.surveys.test_participant_flow import link_of, page_form

pytestmark = pytest.mark.django_db


def _one_item_page(survey, **fields):
    """Make every wave-2 item but `reasons` leave the wave, and set `fields` on `reasons`."""
    wave = survey.waves[2]
    wave.items.set([survey.items["reasons"]])
    Item.objects.filter(pk=survey.items["reasons"].pk).update(**fields)
    return survey.items["reasons"]


def _post(client, url, **data):
    _response, hidden, _codes = page_form(client, url)
    return client.post(url, {**hidden, **data})


def test_an_optional_likert_item_left_empty_is_stored_as_skipped(client, survey, enroll):
    _one_item_page(survey, optional=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    assert "(optional)" in client.get(url).content.decode()
    link_of(_post(client, url))
    response = Response.objects.get(submission__participant=participant)
    assert (response.value, response.missing) == (None, kinds.MISSING_SKIPPED)


def test_a_required_item_left_empty_is_refused_and_nothing_stored(client, survey, enroll):
    _one_item_page(survey)
    participant, secret = enroll()
    response = _post(client, f"/p/{secret}/")
    assert response.status_code == 400
    assert "Please choose an answer." in response.content.decode()
    assert not Response.objects.filter(submission__participant=participant).exists()


def test_prefer_not_to_say_is_a_missing_code_never_a_scale_value(client, survey, enroll):
    _one_item_page(survey, prefer_not_to_say=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    page = client.get(url).content.decode()
    assert 'value="pns"' in page and "Prefer not to say" in page
    link_of(_post(client, url, i_reasons="pns"))
    response = Response.objects.get(submission__participant=participant)
    assert (response.value, response.missing) == (None, "prefer_not")


def test_prefer_not_to_say_is_refused_where_not_offered(client, survey, enroll):
    _one_item_page(survey)
    participant, secret = enroll()
    assert _post(client, f"/p/{secret}/", i_reasons="pns").status_code == 400
    assert not Response.objects.filter(submission__participant=participant).exists()


def test_numeric_entry_takes_a_number_in_range_with_its_unit(client, survey, enroll):
    _one_item_page(survey, kind="number", scale_min=0, scale_max=100000, step=1, labels={},
                   unit={"en": "euros", "de": "Euro"}, prefer_not_to_say=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    page = client.get(url).content.decode()
    assert 'class="number-input" name="i_reasons"' in page and 'max="100000"' in page and "euros" in page
    too_big = _post(client, url, i_reasons="100001")
    assert too_big.status_code == 400 and "Please give a value from 0 to 100000" in too_big.content.decode()
    both = _post(client, url, i_reasons="5", i_reasons_pns="on")
    assert both.status_code == 400 and "not both" in both.content.decode()
    link_of(_post(client, url, i_reasons="2500"))
    assert Response.objects.get(submission__participant=participant).value == 2500


def test_numeric_entry_prefer_not_to_say_box(client, survey, enroll):
    _one_item_page(survey, kind="number", scale_min=0, scale_max=120, step=1, labels={}, prefer_not_to_say=True)
    participant, secret = enroll()
    link_of(_post(client, f"/p/{secret}/", i_reasons_pns="on"))
    assert Response.objects.get(submission__participant=participant).missing == "prefer_not"
    assert Submission.objects.get(participant=participant).completed_at is not None


def test_numeric_entry_allows_more_than_1001_points_but_a_slider_does_not(survey):
    item = Item(study=survey.study, code="income", kind="number", prompt={"en": "Income?"},
                scale_min=0, scale_max=1_000_000, step=1)
    item.full_clean()
    item.kind = "slider"
    with pytest.raises(ValidationError, match="1001"):
        item.full_clean()


def test_a_grouping_item_cannot_be_optional_and_a_unit_needs_numeric_entry(survey):
    side = survey.side
    side.optional = True
    with pytest.raises(ValidationError, match="cannot be optional"):
        side.full_clean()
    item = survey.items["reasons"]
    item.unit = {"en": "points"}
    with pytest.raises(ValidationError, match="unit"):
        item.full_clean()


def test_the_spec_round_trips_optional_prefer_not_and_unit(survey):
    Item.objects.filter(pk=survey.items["reasons"].pk).update(optional=True, prefer_not_to_say=True)
    Item.objects.filter(pk=survey.items["warmth"].pk).update(kind="number", unit={"en": "degrees"})
    spec = spec_service.export_spec(survey.study)
    rows = {row["code"]: row for row in spec["items"]}
    assert rows["reasons"]["required"] is False and rows["reasons"]["prefer_not_to_say"] is True
    assert rows["warmth"]["kind"] == "number" and rows["warmth"]["unit"] == {"en": "degrees"}
    assert rows["story"]["required"] is False and rows["side"]["required"] is True
    assert validate_spec(spec) == []


def test_the_spec_refuses_an_optional_grouping_item_and_a_unit_on_likert(survey):
    spec = spec_service.export_spec(survey.study)
    for row in spec["items"]:
        if row["code"] == "side":
            row["required"] = False
        if row["code"] == "reasons":
            row["unit"] = {"en": "points"}
    problems = [str(p) for p in validate_spec(spec)]
    assert any("grouping items are always required" in p for p in problems)
    assert any("only numeric entry items have a unit" in p for p in problems)
