"""Matrix and multiple-choice questions (surveys/groups.py): asked as one question, stored as
ordinary items, one row per statement or option; missing codes on every option row."""

import pytest
from django.core.exceptions import ValidationError

from surveys import kinds
from surveys.models import Item, Response, Submission
from tests.factories import AGREE_LABELS, ItemFactory
from tests.surveys.test_participant_flow import link_of, page_form

pytestmark = pytest.mark.django_db

MEDIA = [("media_tv", "Television"), ("media_web", "Websites"), ("media_paper", "Newspapers")]


def add_multiple(survey, *, code="media", **fields):
    """A multiple-choice question `code` with three options, the only question of wave 2."""
    items = [ItemFactory(study=survey.study, code=c, kind="option", scale_min=0, scale_max=1, step=1, labels={},
                         prompt={"en": text, "de": text + " (de)"}, group=code,
                         stem={"en": "Which of these do you use for news?"}, order=10 + j, **fields)
             for j, (c, text) in enumerate(MEDIA)]
    survey.waves[2].items.set(items)
    return items


def add_matrix(survey, *, code="trust", statements=("trust_a", "trust_b", "trust_c"), **fields):
    items = [ItemFactory(study=survey.study, code=c, labels=AGREE_LABELS, group=code,
                         prompt={"en": f"Statement {c}"}, stem={"en": "How much do you agree?"}, order=20 + j,
                         **fields)
             for j, c in enumerate(statements)]
    survey.waves[2].items.set(items)
    return items


def _post(client, url, **data):
    _response, hidden, _codes = page_form(client, url)
    return client.post(url, {**hidden, **data})


def _rows(participant) -> dict:
    return {r.item.code: (r.value, r.missing) for r in Response.objects.filter(submission__participant=participant)}


def test_multiple_choice_stores_one_0_1_row_per_option(client, survey, enroll):
    add_multiple(survey)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    page = client.get(url).content.decode()
    assert page.count('type="checkbox"') == 3 and "Which of these do you use for news?" in page
    assert 'name="i_media_tv"' in page and "<legend>" in page
    link_of(_post(client, url, i_media_tv="on", i_media_paper="on"))
    assert _rows(participant) == {"media_tv": (1.0, ""), "media_web": (0.0, ""), "media_paper": (1.0, "")}


def test_a_required_multiple_choice_needs_one_ticked_option(client, survey, enroll):
    add_multiple(survey)
    participant, secret = enroll()
    response = _post(client, f"/p/{secret}/")
    assert response.status_code == 400 and "Please tick at least one option." in response.content.decode()
    assert not Response.objects.filter(submission__participant=participant).exists()


def test_none_of_these_stores_0_on_every_option_and_is_exclusive(client, survey, enroll):
    add_multiple(survey, none_option=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    assert "None of these" in client.get(url).content.decode()
    both = _post(client, url, **{"i_media_tv": "on", "i_media-none": "on"})
    assert both.status_code == 400 and "not both" in both.content.decode()
    link_of(_post(client, url, **{"i_media-none": "on"}))
    assert _rows(participant) == {code: (0.0, "") for code, _text in MEDIA}


@pytest.mark.parametrize(("box", "code"), [("dk", kinds.MISSING_DONT_KNOW), ("pns", kinds.MISSING_PREFER_NOT)])
def test_dont_know_and_prefer_not_are_missing_codes_on_every_option_row(client, survey, enroll, box, code):
    add_multiple(survey, dont_know=True, prefer_not_to_say=True)
    participant, secret = enroll()
    link_of(_post(client, f"/p/{secret}/", **{f"i_media-{box}": "on"}))
    assert _rows(participant) == {c: (None, code) for c, _text in MEDIA}


def test_a_missing_code_box_not_offered_is_refused(client, survey, enroll):
    add_multiple(survey)
    participant, secret = enroll()
    response = _post(client, f"/p/{secret}/", **{"i_media-dk": "on"})
    assert response.status_code == 400
    assert not Response.objects.filter(submission__participant=participant).exists()


def test_an_optional_multiple_choice_left_empty_is_skipped_on_every_option(client, survey, enroll):
    add_multiple(survey, optional=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    assert "(optional)" in client.get(url).content.decode()
    link_of(_post(client, url))
    assert _rows(participant) == {c: (None, kinds.MISSING_SKIPPED) for c, _text in MEDIA}


def test_matrix_is_a_table_whose_statements_are_items_of_their_own(client, survey, enroll):
    add_matrix(survey, dont_know=True)
    participant, secret = enroll()
    url = f"/p/{secret}/"
    page = client.get(url).content.decode()
    assert page.count('<table class="matrix-table">') == 1 and page.count('<th scope="row"') == 3
    assert page.count('<th scope="col"') == 8  # 7 points and "don't know"
    assert page.count('type="radio"') == 24 and "How much do you agree?" in page
    missing = _post(client, url, i_trust_a="5", i_trust_b="dk")
    assert missing.status_code == 400 and "Please choose an answer." in missing.content.decode()
    link_of(_post(client, url, i_trust_a="5", i_trust_b="dk", i_trust_c="1"))
    assert _rows(participant) == {"trust_a": (5.0, ""), "trust_b": (None, "dont_know"), "trust_c": (1.0, "")}


def test_a_group_is_never_split_across_pages_and_keeps_its_order(client, survey, enroll):
    survey.study.items_per_page = 2
    survey.study.save()
    matrix = add_matrix(survey, statements=("s1", "s2", "s3", "s4", "s5"))
    options = add_multiple(survey)
    survey.waves[2].items.set([*matrix, *options, survey.items["reasons"]])
    participant, secret = enroll()
    url = f"/p/{secret}/"
    seen = []
    for _page in range(2):
        _response, hidden, codes = page_form(client, url)
        seen.append(codes)
        answers = {f"i_{c}": ("on" if c.startswith("media") else "4") for c in codes}
        link_of(client.post(url, {**hidden, **answers}))
    submission = Submission.objects.get(participant=participant)
    assert submission.completed_at is not None
    flat = [c for codes in seen for c in codes]
    assert sorted(flat) == sorted(["s1", "s2", "s3", "s4", "s5", "media_tv", "media_web", "media_paper", "reasons"])
    order = list(submission.item_order)
    assert order.index("s5") - order.index("s1") == 4 and order.index("media_paper") - order.index("media_tv") == 2
    assert any(codes[:5] == ["s1", "s2", "s3", "s4", "s5"] or codes[-5:] == ["s1", "s2", "s3", "s4", "s5"]
               for codes in seen)
    assert len(seen[0]) + len(seen[1]) == 9  # 3 questions, 2 a page: two pages


def test_an_option_must_belong_to_a_group_and_groups_hold_attitude_items(survey):
    alone = Item(study=survey.study, code="lonely", kind="option", prompt={"en": "x"}, scale_min=0, scale_max=1, step=1)
    with pytest.raises(ValidationError, match="belongs to a multiple-choice question"):
        alone.full_clean()
    bad_scale = Item(study=survey.study, code="bad", kind="option", prompt={"en": "x"}, scale_min=0, scale_max=2,
                     step=1, group="g")
    with pytest.raises(ValidationError, match="0 \\(not selected\\) or 1"):
        bad_scale.full_clean()
    slider = Item(study=survey.study, code="sl", kind="slider", prompt={"en": "x"}, scale_min=0, scale_max=10,
                  step=1, group="g")
    with pytest.raises(ValidationError, match="Likert statements"):
        slider.full_clean()


def test_an_option_has_fixed_value_labels(survey):
    option = add_multiple(survey)[0]
    assert option.value_labels("en") == {"0": "not selected", "1": "selected"}
    assert option.k == 2


def test_my_data_names_the_question_and_the_option(client, survey, enroll):
    add_multiple(survey)
    participant, secret = enroll()
    link_of(_post(client, f"/p/{secret}/", i_media_web="on"))
    text = client.get(f"/p/{secret}/my-data/").content.decode("utf-8-sig")
    assert "Which of these do you use for news? Websites,1,selected" in text
    assert "Which of these do you use for news? Television,0,not selected" in text
