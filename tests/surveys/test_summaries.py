"""The panel counts and stratum counts the write path keeps (`surveys.summaries`) equal the raw
aggregation, exactly, after random joins, link openings, baselines (some turned away by a full
quota), answers, withdrawals (with and without deleting the answers), screen-outs, exclusions,
deletions, sent messages, admin edits and changed wave times."""

import datetime as dt
import random
from collections import Counter

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analysis.dashboards import reads
from surveys import attrition, enrolment, services, summaries
from surveys.exclusions import exclude_participants
from surveys.kinds import Answer
from surveys.models import (
    Exclusion,
    Membership,
    Message,
    PanelCount,
    Participant,
    StratumCount,
    Study,
    Submission,
)
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db


def raw_quota(study, groups: dict, *, exclude_pk=None):
    """`enrolment.full_quota` as it was, from the participants' rows."""
    for code, caps in sorted((study.quotas or {}).items()):
        value = groups.get(code)
        if value is None or not isinstance(caps, dict) or str(value) not in caps:
            continue
        taken = enrolment.enrolled(study).filter(**{f"groups__{code}": value})
        if exclude_pk is not None:
            taken = taken.exclude(pk=exclude_pk)
        if taken.count() >= int(caps[str(value)]):
            return f"{code}={value}"
    return None


def assert_strata_exact(study) -> None:
    """The stored stratum counts equal the raw aggregation of `enrolment.enrolled`, and the quota
    check and the overview read them to the same answers as from the raw rows."""
    study = Study.objects.get(pk=study.pk)
    raw: Counter = Counter()
    for groups in enrolment.enrolled(study).values_list("groups", flat=True):
        for code, value in groups.items():
            raw[(code, summaries.stratum_value(value))] += 1
    assert summaries.read_strata(study_id=study.pk) == dict(raw)
    assert not StratumCount.objects.filter(enrolled__lt=0).exists()
    for value in (1, 2):  # as the database compares the answers
        assert summaries.read_strata(study_id=study.pk).get(("side", str(value)), 0) == \
            enrolment.enrolled(study).filter(groups__side=value).count()
    for quotas in ({"side": {"1": 1, "2": 2}}, {"side": {"1": 3}}, {"side": {"2": 0, "1": 50}}, {}):
        study.quotas = quotas
        for groups in ({"side": 1}, {"side": 2}, {"side": None}, {}):
            assert enrolment.full_quota(study, groups) == raw_quota(study, groups)
            for person in Participant.objects.filter(study=study)[:5]:
                assert enrolment.full_quota(study, groups, exclude_pk=person.pk) == \
                    raw_quota(study, groups, exclude_pk=person.pk)
        for cap in (0, 1, 3, 50):  # the cap, at baseline and for newcomers, from the stored counts too
            study.enrol_cap = cap
            for person in Participant.objects.filter(study=study)[:5]:
                others = enrolment.enrolled(study).exclude(pk=person.pk).count()
                assert enrolment.full_at_baseline(study, {"side": 1}, exclude_pk=person.pk) == \
                    ("cap" if others >= cap else raw_quota(study, {"side": 1}, exclude_pk=person.pk))
            assert enrolment.join_decision(study, timezone.now()).allowed == (enrolment.enrolled(study).count() < cap)
        study.enrol_cap = None
        assert [row["enrolled"] for row in enrolment.overview(study)["quotas"]] == \
            [enrolment.enrolled(study).filter(groups__side=int(value)).count()
             for _code, caps in sorted(quotas.items()) for value, _cap in sorted(caps.items())]


def assert_counts_exact(study) -> None:
    assert_strata_exact(study)
    panel = summaries.read_panel_counts(study_id=study.pk)
    assert panel is not None, "the counts are stale"
    enrolled = Participant.objects.enrolled().filter(study_id=study.pk)  # who opened their link
    assert panel.total("joined") == enrolled.count()
    assert panel.total("consented") == enrolled.filter(consented_at__isnull=False).count()
    assert panel.total("active") == enrolled.filter(withdrawn_at__isnull=True).count()
    assert attrition.list_wave_attrition(study_id=study.pk, panel=panel) == \
        attrition.list_wave_attrition(study_id=study.pk)

    def key(row):
        return (row["arm_name"] or "", row["number"])

    assert sorted(reads.submission_counts(study_id=study.pk, panel=panel), key=key) == \
        sorted(reads.submission_counts(study_id=study.pk), key=key)
    pd.testing.assert_frame_equal(reads.attrition_funnel_frame(study_id=study.pk, panel=panel),
                                  reads.attrition_funnel_frame(study_id=study.pk))

    def shown(rows):
        return [(r["wave"].number, r["started"], r["completed"], r["response_rate"]) for r in rows]

    assert shown(reads.list_wave_rows(study_id=study.pk, panel=panel)) == shown(reads.list_wave_rows(study_id=study.pk))
    assert reads.count_analysable_participants(study_id=study.pk, panel=panel) == \
        Participant.objects.analysable().filter(study_id=study.pk).count()
    for limit in (2, None):
        assert attrition.list_at_risk(study_id=study.pk, limit=limit, panel=panel) == \
            attrition.list_at_risk(study_id=study.pk, limit=limit)
    # the overview's enrolment against the cap, and the study list's participants
    assert enrolment.count_enrolled(study) == enrolment.enrolled(study).count()
    assert enrolment.overview(study, panel=panel)["enrolled"] == enrolment.overview(study)["enrolled"] == \
        enrolment.enrolled(study).count()
    assert enrolment.overview(study)["screened_out"] == \
        Participant.objects.filter(study=study, screened_out_at__isnull=False).count()
    member, _ = get_user_model().objects.get_or_create(username="counts-reader")
    Membership.objects.get_or_create(study=study, user=member, defaults={"role": "viewer"})
    listed = {row["study"].pk: row["participants"] for row in reads.list_study_summaries(user=member)}
    assert listed[study.pk] == enrolled.count()


def _answer(item, rng: random.Random) -> Answer:
    if not item.is_numeric:
        return Answer(text="because")
    if item.dont_know and rng.random() < 0.2:
        return Answer(missing="dont_know")
    low, high = int(item.scale_min), int(item.scale_max)
    return Answer(value=float(rng.randint(low, high)))


def _answer_pages(participant, wave, rng: random.Random, *, pages: int) -> None:
    submission = services.start_wave(participant=participant, wave=wave)
    per_page = participant.study.items_per_page
    items = {item.code: item for item in wave.items.all()}
    for _ in range(pages):
        submission.refresh_from_db()
        if submission.completed_at is not None:
            return
        codes = submission.item_order[submission.page * per_page:(submission.page + 1) * per_page]
        services.submit_answers(participant=participant, wave=wave, page=submission.page,
                                answers={code: _answer(items[code], rng) for code in codes})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_panel_counts_equal_the_raw_counts_after_random_writes(survey, seed):
    rng = random.Random(seed)
    study, waves = survey.study, survey.waves
    Study.objects.filter(pk=study.pk).update(quotas={"side": {"1": 3, "2": 5}})  # some baselines are turned away
    study.refresh_from_db()
    people: list[Participant] = []
    for step in range(80):
        action = rng.choice(["join", "join", "join", "open", "answer", "answer", "finish", "old_wave", "withdraw", "delete_answers",
                             "exclude", "lift", "delete", "message", "preview", "edit_arm", "screen_out",
                             "baseline", "edit_groups"])
        person = rng.choice(people) if people else None
        if action == "join" or person is None:
            joined = services.join_study(study=study, consent_version=survey.consent, language="en",
                                         external_id=f"PID{step}" if rng.random() < 0.5 else "")
            participant = joined.participant
            if rng.random() < 0.2:  # the link never arrived (yet): not enrolled
                people.append(participant)
                continue
            services.mark_link_opened(participant)
            if rng.random() < 0.8:
                participant = services.record_baseline(participant=participant, answers={"side": rng.choice([1, 2])})
            people.append(participant)
            continue
        person = Participant.objects.select_related("study").get(pk=person.pk) \
            if Participant.objects.filter(pk=person.pk).exists() else None
        if person is None:
            continue
        try:
            if action == "open":
                services.mark_link_opened(person)
                services.mark_link_opened(person)  # once only
            elif action in ("answer", "finish"):
                _answer_pages(person, waves[2], rng, pages=1 if action == "answer" else 2)
            elif action == "old_wave" and not Submission.objects.filter(participant=person, wave=waves[1]).exists():
                started = waves[1].opens_at + dt.timedelta(hours=1)
                SubmissionFactory(participant=person, wave=waves[1], started_at=started,
                                  completed_at=started + dt.timedelta(minutes=9) if rng.random() < 0.7 else None)
            elif action == "withdraw":
                services.withdraw(participant=person, delete_answers=False)
            elif action == "delete_answers":
                services.withdraw(participant=person, delete_answers=True)
            elif action == "exclude" and not person.is_preview:
                exclude_participants(study_id=study.pk, public_ids=[person.public_id], reason="flagged")
            elif action == "lift":
                exclusion = Exclusion.objects.filter(participant=person, lifted_at__isnull=True).first()
                if exclusion is not None:  # as the admin lifts it
                    with summaries.tracking([person.pk]):
                        exclusion.lifted_at = timezone.now()
                        exclusion.save()
            elif action == "delete":  # as the admin deletes a participant
                with summaries.tracking([person.pk]):
                    person.delete()
            elif action == "message":
                wave, kind = rng.choice([waves[1], waves[2]]), rng.choice(["invitation", "reminder1", "last_chance"])
                if not Message.objects.filter(participant=person, wave=wave, kind=kind).exists():
                    Message.objects.create(participant=person, wave=wave, status="sent", sent_at=timezone.now(),
                                           kind=kind)
            elif action == "preview":
                services.start_preview(study=study, wave=waves[2], arm=survey.control, language="en")
            elif action == "screen_out" and person.screened_out_at is None:  # as a full quota turns one away
                with summaries.tracking([person.pk]):
                    Participant.objects.filter(pk=person.pk).update(screened_out_at=timezone.now())
            elif action == "baseline":  # answered now (answers already given are kept), maybe turned away
                services.record_baseline(participant=person, answers={"side": rng.choice([1, 2])})
            elif action == "edit_groups":  # as the admin edits the grouping answers (canonically the same or not)
                with summaries.tracking([person.pk]):
                    person.groups = rng.choice([{}, {"side": 1}, {"side": 2.0}, {"side": None}, {"side": "1"},
                                                {"side": 1.5, "region": "north"}])
                    person.save()
            elif action == "edit_arm" and person.arm_id is not None:  # as the admin moves a participant
                with summaries.tracking([person.pk]):
                    person.arm = survey.treated if person.arm_id == survey.control.pk else survey.control
                    person.save()
        except services.SurveyError:
            pass  # a withdrawn participant answering: refused, nothing stored
        if step % 15 == 14:
            assert_counts_exact(study)
    assert_counts_exact(study)
    assert Participant.objects.filter(study=study, is_preview=False).count() >= 3
    assert Participant.objects.enrolled().filter(study=study).count() >= 2
    assert summaries.read_strata(study_id=study.pk), "nobody in any stratum: the test tests nothing"


def test_a_participant_is_counted_as_enrolled_when_the_link_is_first_opened(survey):
    study = survey.study
    joined = services.join_study(study=study, consent_version=survey.consent, language="en")
    panel = summaries.read_panel_counts(study_id=study.pk)
    assert (panel.total("joined"), panel.total("active"), panel.wave_total(2, "enrolled")) == (0, 0, 0)
    assert_counts_exact(study)
    person = Participant.objects.get(pk=joined.participant.pk)
    services.mark_link_opened(person)
    services.mark_link_opened(Participant.objects.get(pk=person.pk))  # opened again: counted once
    panel = summaries.read_panel_counts(study_id=study.pk)
    assert (panel.total("joined"), panel.total("active"), panel.wave_total(2, "enrolled")) == (1, 1, 1)
    assert_counts_exact(study)


def test_changed_wave_times_are_counted_again(survey, enroll):
    first, _secret = enroll(joined_at=timezone.now() - dt.timedelta(days=30))
    late, _secret = enroll(joined_at=timezone.now() - dt.timedelta(days=10))  # after wave 1 closed
    study, wave = survey.study, survey.waves[1]
    assert_counts_exact(study)
    assert [(r.wave, r.enrolled) for r in attrition.list_wave_attrition(study_id=study.pk) if r.wave == 1] == [(1, 1)]
    wave.closes_at = timezone.now() - dt.timedelta(days=5)  # now `late` joined before it closed
    wave.save()
    assert_counts_exact(study)
    assert [(r.wave, r.enrolled) for r in attrition.list_wave_attrition(study_id=study.pk) if r.wave == 1] == [(1, 2)]
    # A bulk update around the write path: the counts say they are stale, the pages count raw rows.
    type(wave).objects.filter(pk=wave.pk).update(opens_at=wave.opens_at - dt.timedelta(days=1))
    assert summaries.read_panel_counts(study_id=study.pk) is None
    assert first.pk != late.pk


def test_a_recount_restores_counts_of_rows_loaded_around_the_write_path(survey, enroll):
    participant, _secret = enroll()
    Submission.objects.bulk_create([Submission(participant=participant, wave=survey.waves[1],
                                               started_at=survey.waves[1].opens_at)])  # no signal
    panel = summaries.read_panel_counts(study_id=survey.study.pk)
    assert reads.submission_counts(study_id=survey.study.pk, panel=panel) == []
    summaries.recount_study(survey.study.pk)
    assert_counts_exact(survey.study)
    assert PanelCount.objects.filter(study=survey.study, wave_key=survey.waves[1].pk).exists()


def test_studies_from_before_the_counts_are_read_from_raw_rows(survey, enroll):
    enroll()
    PanelCount.objects.filter(study=survey.study).delete()
    assert summaries.read_panel_counts(study_id=survey.study.pk) is None
    assert reads.count_analysable_participants(study_id=survey.study.pk) == 1


def test_the_recount_command_counts_every_study_or_the_named_ones(survey, enroll):
    from django.core.management import CommandError, call_command

    enroll()
    PanelCount.objects.all().delete()
    StratumCount.objects.all().delete()
    call_command("recount_panel", "survey")
    assert_counts_exact(survey.study)
    call_command("recount_panel")
    with pytest.raises(CommandError, match="No such study: nope"):
        call_command("recount_panel", "nope")


def test_the_quota_check_reads_the_stored_counts_in_a_constant_number_of_queries(survey, enroll):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Study.objects.filter(pk=survey.study.pk).update(quotas={"side": {"1": 3, "2": 50}})
    survey.study.refresh_from_db()
    for _ in range(3):
        enroll(groups={"side": 1})
    mine, _secret = enroll(groups={"side": 1})
    assert enrolment.full_quota(survey.study, {"side": 1}) == "side=1"
    assert enrolment.full_quota(survey.study, {"side": 1}, exclude_pk=mine.pk) == "side=1"
    with CaptureQueriesContext(connection) as sql:
        assert enrolment.full_quota(survey.study, {"side": 2}, exclude_pk=mine.pk) is None
    assert len(sql) == 2  # the stored counts, and the excluded participant by primary key
    with CaptureQueriesContext(connection) as few:
        enrolment.overview(survey.study)
    for _ in range(20):
        enroll(groups={"side": 2})
    with CaptureQueriesContext(connection) as sql:
        assert enrolment.full_quota(survey.study, {"side": 2}, exclude_pk=mine.pk) is None
    assert len(sql) == 2
    with CaptureQueriesContext(connection) as many:
        rows = enrolment.overview(survey.study)["quotas"]
    assert len(many) == len(few) == 3  # the stored strata, the panel's total, those turned away
    assert [(row["stratum"], row["enrolled"]) for row in rows] == [("side = 1", 4), ("side = 2", 20)]
    # What is stored is what is read: rows changed around the write path are not seen until a recount.
    Participant.objects.filter(study=survey.study).update(groups={"side": 2})
    assert enrolment.full_quota(survey.study, {"side": 1}) == "side=1"
    summaries.recount_study(survey.study.pk)
    assert enrolment.full_quota(survey.study, {"side": 1}) is None
    assert_strata_exact(survey.study)


def test_a_baseline_counts_the_stratum_and_a_turned_away_participant_takes_no_place(survey):
    Study.objects.filter(pk=survey.study.pk).update(quotas={"side": {"1": 1}})
    survey.study.refresh_from_db()
    people = []
    for _ in range(3):
        joined = services.join_study(study=survey.study, consent_version=survey.consent, language="en")
        services.mark_link_opened(joined.participant)
        people.append(joined.participant)
    assert summaries.read_strata(study_id=survey.study.pk) == {}
    first = services.record_baseline(participant=people[0], answers={"side": 1})
    second = services.record_baseline(participant=people[1], answers={"side": 1})  # full: turned away
    third = services.record_baseline(participant=people[2], answers={"side": 2})
    assert (first.screened_out_at, third.screened_out_at) == (None, None)
    assert Participant.objects.get(pk=second.pk).screened_out_at is not None
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "1"): 1, ("side", "2"): 1}
    services.withdraw(participant=first, delete_answers=False)  # the place is free again
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "2"): 1}
    assert enrolment.full_quota(survey.study, {"side": 1}) is None
    services.withdraw(participant=third, delete_answers=True)
    assert summaries.read_strata(study_id=survey.study.pk) == {}
    assert_strata_exact(survey.study)


def test_the_migration_counts_the_participants_already_there(survey, enroll):
    import importlib

    from django.apps import apps

    for side in (1, 1, 2):
        enroll(groups={"side": side})
    withdrawn, _secret = enroll(groups={"side": 2}, withdrawn_at=timezone.now())
    enroll(groups={"side": 2}, link_opened_at=None)
    StratumCount.objects.all().delete()
    importlib.import_module("surveys.migrations.0019_stratum_counts").count_existing(apps, None)
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "1"): 2, ("side", "2"): 1}
    assert withdrawn.withdrawn_at is not None
    assert_strata_exact(survey.study)


def test_deleting_the_answers_at_the_end_of_retention_empties_the_strata(survey, enroll):
    from surveys import retention

    for side in (1, 2, 2):
        enroll(groups={"side": side})
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "1"): 1, ("side", "2"): 2}
    retention.delete_identifying_data(study=survey.study, due_at=timezone.now(), delete_answers=True)
    assert summaries.read_strata(study_id=survey.study.pk) == {}
    assert_counts_exact(survey.study)


def _change_form(html: str) -> dict:
    """The admin change form's fields as the browser would post them (inputs, selects, textareas)."""
    import re
    from html import unescape

    data = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        kind = (re.search(r'type="([^"]*)"', tag) or ["", "text"])[1]
        if name and kind not in ("submit", "checkbox") or (name and kind == "checkbox" and " checked" in tag):
            data[name[1]] = unescape(value[1]) if value else ("on" if kind == "checkbox" else "")
    for name, body in re.findall(r'<textarea[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = unescape(body.strip())
    for name, body in re.findall(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen[1] if chosen else ""
    return data


def test_edits_and_deletions_in_the_admin_keep_the_strata(client, survey, enroll):
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    person, _secret = enroll(groups={"side": 1})
    enroll(groups={"side": 1})
    url = reverse("admin:surveys_participant_change", args=[person.pk])
    data = _change_form(client.get(url).content.decode())
    assert "groups" in data
    data["groups"] = '{"side": 2}'
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Participant.objects.get(pk=person.pk).groups == {"side": 2}
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "1"): 1, ("side", "2"): 1}
    assert_strata_exact(survey.study)
    response = client.post(reverse("admin:surveys_participant_delete", args=[person.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert summaries.read_strata(study_id=survey.study.pk) == {("side", "1"): 1}
    assert_counts_exact(survey.study)
