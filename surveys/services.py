"""Writes of the participant survey: joining, baseline and arm assignment, answering a wave,
withdrawal, and researcher previews. Each service is one transaction: bad input raises before
anything is stored, and every service is safe to call twice."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common import fastsql
from surveys import enrolment, groups, logic, randomization, selectors, summaries
from surveys.kinds import TEXT_MAX_LENGTH, Answer
from surveys.models import (
    AllocationBlock,
    Arm,
    ConsentVersion,
    Item,
    Message,
    Participant,
    ParticipantContact,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
)
from surveys.signals import answers_changed

logger = logging.getLogger(__name__)

_SYSTEM_RANDOM = random.SystemRandom()


# --- Errors ---------------------------------------------------------------------------------------


class SurveyError(Exception):
    """A request the survey refuses; `status` is the HTTP status a view answers with."""

    status = 400

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class StudyNotOpen(SurveyError):
    status = 410


class WaveClosed(SurveyError):
    status = 410


class EnrolmentRefused(SurveyError):
    """Enrolment is not open, has closed, or the study (or the participant's quota) is full;
    `code`: the Prolific code to return with, if any."""

    status = 410

    def __init__(self, message: str, *, reason: str = "", code: str = "") -> None:
        super().__init__(message)
        self.reason, self.code = reason, code


class ParticipantWithdrawn(SurveyError):
    status = 403


class InvalidAnswers(SurveyError):
    """Answers that cannot be stored; `errors` maps item codes (or ``"__all__"``) to messages."""

    status = 400

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = dict(errors)


# --- Joining, baseline, randomization ---------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    participant: Participant
    secret: str
    returning: bool


def join_study(*, study: Study, consent_version: ConsentVersion | None, language: str,
               external_id: str = "", external_study_id: str = "", email: str = "", join_key: str = "") -> Joined:
    """Consent and join, or recognise a returning participant; issues a fresh personal link.  # atomic; never a second participant for the same PROLIFIC_PID and STUDY_ID, nor for the same browser retrying a join whose link never arrived; `email` (new participants of studies that collect it) is stored apart from the answers

    `join_key` is the SHA-256 of the joining browser's join cookie. The same browser retrying a
    join whose link was never opened (the response was lost) gets that participant back with a
    full link. Anyone else recognised by the Prolific pair alone gets a link that answers waves
    but cannot delete answers or download them (`ParticipantToken.grants_data_access`)."""
    if study.status != Study.Status.ACTIVE:
        raise StudyNotOpen(_("This study is not open for new participants."))
    existing = selectors.get_unopened_join(study=study, join_key=join_key) or selectors.get_returning_participant(
        study=study, external_id=external_id, external_study_id=external_study_id)
    if existing is None:
        current = study.current_consent()
        if current is None or consent_version is None or consent_version.pk != current.pk:
            raise SurveyError(_("The consent information has changed. Please read it again."))
        now = timezone.now()
        decision = enrolment.join_decision(study, now)
        if not decision.allowed:
            raise EnrolmentRefused(decision.message, reason=decision.reason,
                                   code=study.quota_full_code if decision.reason == "full" else "")
        try:
            with transaction.atomic():
                participant = Participant.objects.create(
                    study=study, external_id=external_id, external_study_id=external_study_id if external_id else "",
                    language=language, consented_at=now, consent_version=current, first_wave=decision.first_wave,
                    link_opened_at=None, join_key=join_key,
                )
                _token, secret = ParticipantToken.issue(participant)
                if email and study.collect_email:
                    ParticipantContact.objects.create(participant=participant, email=email, consented_at=now)
            return Joined(participant=participant, secret=secret, returning=False)
        except IntegrityError:
            # Another request with the same Prolific pair won the race: that one is the participant.
            existing = selectors.get_returning_participant(
                study=study, external_id=external_id, external_study_id=external_study_id)
            if existing is None:
                raise
    if existing.withdrawn_at is not None:
        raise ParticipantWithdrawn(_("You have withdrawn from this study. Thank you for your time."))
    same_browser = bool(join_key) and existing.join_key == join_key and existing.link_opened_at is None
    with transaction.atomic():
        _token, secret = ParticipantToken.issue(existing, grants_data_access=same_browser)
    return Joined(participant=existing, secret=secret, returning=True)


class TooManyLinkEmails(SurveyError):
    status = 429


class LinkEmailFailed(SurveyError):
    status = 503


def email_personal_link(*, participant: Participant, email: str, link: str, keep_for_invitations: bool = False,
                        language: str = "en") -> None:
    """Send the personal link to `email` ("e-mail me this link"). The address is not stored,
    unless the study collects addresses for its invitations and the participant agreed (then it
    becomes their `ParticipantContact`, as on the consent page). At most
    `LINK_EMAILS_PER_PARTICIPANT` sends per participant.  # the count is taken before sending (atomic), so parallel requests cannot exceed it"""
    limit = settings.LINK_EMAILS_PER_PARTICIPANT
    with transaction.atomic():
        counted = Participant.objects.filter(pk=participant.pk, link_emails_sent__lt=limit).update(
            link_emails_sent=F("link_emails_sent") + 1)
        if not counted:
            raise TooManyLinkEmails(_("This link has been e-mailed %(n)d times already; please copy it instead.")
                                    % {"n": limit})
        study = participant.study
        if keep_for_invitations and study.collect_email and not ParticipantContact.objects.filter(
                participant=participant).exists():
            ParticipantContact.objects.create(participant=participant, email=email, consented_at=timezone.now())
    title = study.title_in(language)
    subject = _("Your personal link: %(title)s") % {"title": title}
    body = _("Here is your personal link to the study \"%(title)s\":\n\n%(link)s\n\nIt brings you back to "
             "your survey for every wave. Anyone with the link can answer in your name, so do not share it.\n\n"
             "You receive this e-mail because you asked for it on the study's page.") % {"title": title, "link": link}
    try:
        EmailMessage(subject=subject, body=body, to=[email]).send()
    except Exception as error:  # noqa: BLE001 - any backend's failure: the participant sees a clear page
        logger.warning("personal link e-mail failed: %s", error.__class__.__name__)
        raise LinkEmailFailed(_("The e-mail could not be sent just now. Please copy the link instead.")) from None


def mark_link_opened(participant: Participant) -> None:
    """Record that the participant opened their personal link (once; from then on they count as
    enrolled, and a join cookie no longer brings them back)."""
    if participant.link_opened_at is None:
        now = timezone.now()
        with transaction.atomic():
            if Participant.objects.filter(pk=participant.pk, link_opened_at__isnull=True).update(link_opened_at=now):
                summaries.count_link_opened(participant.pk)  # from now on counted as enrolled
        participant.link_opened_at = now


def record_baseline(*, participant: Participant, answers: Mapping[str, int | None],
                    rng: random.Random | None = None) -> Participant:
    """Store the grouping answers, then assign the arm.  # atomic; answers already given are kept, never changed"""
    items = {item.code: item for item in selectors.list_grouping_items(participant.study)}
    errors: dict[str, list[str]] = {}
    for code in answers:
        if code not in items:
            errors.setdefault("__all__", []).append(_("%(code)s is not a baseline question.") % {"code": code})
    for code, item in items.items():
        value = answers.get(code, ...)
        if code in (participant.groups or {}):
            continue
        if value is ...:
            errors[code] = [_("Please answer this question.")]
        elif value is None:
            if not item.dont_know:
                errors[code] = [_("This question offers no \"don't know\".")]
        elif value not in {int(v) for v in item.scale_values()}:
            errors[code] = [_("Please choose one of the options.")]
    if errors:
        raise InvalidAnswers(errors)
    with transaction.atomic():
        locked = Participant.objects.select_for_update(of=("self",)).select_related("study").get(pk=participant.pk)
        if locked.withdrawn_at is not None:
            raise ParticipantWithdrawn(_("You have withdrawn from this study."))
        groups = dict(locked.groups or {})
        for code in items:
            groups.setdefault(code, answers.get(code))
        counted = summaries.strata_of(locked)  # the stratum counts follow the answers (and a screening)
        if locked.study.quotas or locked.study.enrol_cap is not None:
            Study.objects.select_for_update().filter(pk=locked.study_id).first()  # one baseline per study at a time
            full = enrolment.full_at_baseline(locked.study, groups, exclude_pk=locked.pk)
            if full is not None:
                locked.screened_out_at = timezone.now()
                locked.save(update_fields=["screened_out_at"])
                summaries.count_strata(counted, summaries.strata_of(locked), participant_id=locked.pk)
                return participant
        locked.groups = groups
        locked.save(update_fields=["groups"])
        summaries.count_strata(counted, summaries.strata_of(locked), participant_id=locked.pk)
        assign_arm(participant=locked, rng=rng)
    participant.refresh_from_db()
    return participant


def assign_arm(*, participant: Participant, rng: random.Random | None = None) -> Arm | None:
    """Give the participant the next arm of their stratum's permuted block.  # atomic; idempotent: a recorded arm is never changed"""
    rng = rng or _SYSTEM_RANDOM
    with transaction.atomic():
        participant = Participant.objects.select_for_update(of=("self",)).select_related("study").get(pk=participant.pk)
        if participant.arm_id is not None or participant.is_preview:
            return participant.arm
        study = participant.study
        weights = dict(study.arms.values_list("id", "allocation_weight"))
        if not weights:
            return None
        codes = [item.code for item in selectors.list_grouping_items(study)]
        stratum = randomization.stratum_key(participant.groups or {}, codes)
        arm_id = _next_slot(study=study, stratum=stratum, weights=weights, rng=rng)
        participant.arm_id = arm_id
        participant.assigned_at = timezone.now()
        with summaries.tracking([participant.pk]):  # the participant's counts move to the arm
            participant.save(update_fields=["arm", "assigned_at"])
        return participant.arm


def _next_slot(*, study: Study, stratum: str, weights: dict[int, int], rng: random.Random) -> int:
    for _attempt in range(5):
        block = (AllocationBlock.objects.select_for_update()
                 .filter(study=study, stratum=stratum).order_by("-number").first())
        if block is not None and block.used < len(block.sequence) and set(block.sequence) <= set(weights):
            arm_id = block.sequence[block.used]
            block.used += 1
            block.save(update_fields=["used"])
            return arm_id
        try:
            with transaction.atomic():
                sequence = randomization.permuted_block(weights, rng)
                AllocationBlock.objects.create(study=study, stratum=stratum,
                                               number=(block.number + 1) if block else 1, sequence=sequence)
        except IntegrityError:
            continue  # a concurrent join opened the block; take a slot from it
    raise RuntimeError(f"could not allocate a slot in stratum {stratum!r}")


# --- Answering a wave -------------------------------------------------------------------------------


def _user_agent_family(user_agent: str) -> str:
    for needle, family in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                           ("Chromium/", "Chrome"), ("Safari/", "Safari")):
        if needle in user_agent:
            return family
    return "Other" if user_agent else ""


def start_wave(*, participant: Participant, wave: Wave, user_agent: str = "", session_id: str = "",
               prolific: Mapping[str, str] | None = None, rng: random.Random | None = None,
               known_new: bool = False) -> Submission:
    """The participant's submission for `wave`, created with a random item order on first visit.  # idempotent: returns the existing one

    `prolific` holds the Prolific ids this visit arrived with (PROLIFIC_PID, STUDY_ID,
    SESSION_ID): each Prolific wave is a Prolific study of its own, so they are kept per wave;
    the first ones that arrive for a wave stay."""
    ids = {"external_session_id": session_id or (prolific or {}).get("SESSION_ID", ""),
           "external_study_id": (prolific or {}).get("STUDY_ID", ""),
           "external_id": (prolific or {}).get("PROLIFIC_PID", "")}
    existing = None if known_new else Submission.objects.filter(participant=participant, wave=wave).first()
    if existing is not None:
        missing = [name for name, value in ids.items() if value and not getattr(existing, name)]
        for name in missing:
            setattr(existing, name, ids[name])
        if missing:
            existing.save(update_fields=missing)
        return existing
    if participant.withdrawn_at is not None:
        raise ParticipantWithdrawn(_("You have withdrawn from this study."))
    if not selectors.wave_accepts_answers(participant=participant, wave=wave):
        raise WaveClosed(_("This wave is closed."))
    wave_items = selectors.list_wave_items(wave)
    shuffle = (rng or _SYSTEM_RANDOM).shuffle
    plan = []
    if participant.study.page_order:
        # Listed pages first, then the other questions; a group's members stay together, in order.
        order, plan = logic.plan_pages(participant.study.page_order, groups.in_order(wave_items),
                                       participant.study.items_per_page, shuffle,
                                       units=lambda codes: groups.units(codes, wave_items))
    else:
        # Random question order; a matrix's or multiple-choice question's items stay together, in order.
        order = groups.shuffle_units(wave_items, shuffle)
    submission = Submission(participant=participant, wave=wave, item_order=order, page_plan=plan,
                            user_agent_family=_user_agent_family(user_agent), **ids)
    count = summaries.started_statement(participant=participant, wave=wave)
    try:
        # The submission and its count are stored together: one statement on PostgreSQL (atomic
        # by itself: no transaction to open outside one); else in a transaction, and inside the
        # caller's a savepoint keeps it usable on a conflict.
        if fastsql.one_statement_together() and not transaction.get_connection().in_atomic_block:
            fastsql.insert(submission, together=[count] if count else [])
        else:
            with transaction.atomic():
                fastsql.insert(submission, together=[count] if count else [])
        return submission
    except IntegrityError:  # a second tab or a double click created it first
        return Submission.objects.get(participant=participant, wave=wave)


def acknowledge_intervention(*, participant: Participant, wave: Wave) -> Submission:
    """Record that the participant saw their arm's intervention for `wave`.  # atomic; idempotent"""
    with transaction.atomic():
        submission = _locked_submission(participant=participant, wave=wave)
        if not submission.saw_intervention:
            submission.saw_intervention = True
            submission.save(update_fields=["saw_intervention"])
        return submission


def _locked_submission(*, participant: Participant, wave: Wave) -> Submission:
    """Lock the participant's submission (created if missing) after checking they may answer."""
    submission = selectors.lock_submission(participant=participant, wave=wave)
    fresh = submission.participant if submission is not None else Participant.objects.get(pk=participant.pk)
    if fresh.withdrawn_at is not None:
        raise ParticipantWithdrawn(_("You have withdrawn from this study; no more answers are stored."))
    fresh.study = participant.study
    if submission is not None and submission.completed_at is not None:
        return submission
    if not selectors.wave_accepts_answers(participant=fresh, wave=wave):
        raise WaveClosed(_("This wave is closed; answers can no longer be stored."))
    if submission is None:
        start_wave(participant=fresh, wave=wave)
        submission = Submission.objects.select_for_update(of=("self",)).get(participant_id=participant.pk, wave=wave)
    return submission


def _check_answer(item: Item, answer: Answer) -> str | None:
    """Why `answer` cannot be stored for `item`, or None."""
    if answer.missing:
        if answer.missing == Response.Missing.DONT_KNOW and not item.dont_know:
            return _("This question offers no \"don't know\".")
        if answer.missing == Response.Missing.PREFER_NOT and not item.prefer_not_to_say:
            return _("This question offers no \"prefer not to say\".")
        if answer.missing == Response.Missing.SKIPPED and not item.is_optional:
            return _("Please answer this question.")
        if answer.missing == Response.Missing.NOT_SHOWN:
            return _("Unknown missing code.")  # only the server marks a question as not shown
        if answer.missing not in Response.Missing.values:
            return _("Unknown missing code.")
        return None
    if item.is_numeric:
        if answer.text:
            return _("Please give a number.")
        if answer.value is None:
            return _("Please answer this question.")
        try:
            item.validate_value(answer.value)
        except Exception:  # noqa: BLE001 - ValidationError; the message names internals
            return _("Please give a value from %(min)g to %(max)g in steps of %(step)g.") % {
                "min": item.scale_min, "max": item.scale_max, "step": item.step}
        return None
    if answer.value is not None:
        return _("Please answer in words.")
    if len(answer.text) > TEXT_MAX_LENGTH:
        return _("Please shorten your answer to at most %(limit)d characters (it has %(length)d).") % {
            "limit": TEXT_MAX_LENGTH, "length": len(answer.text)}
    return None


def submit_answers(*, participant: Participant, wave: Wave, page: int, answers: Mapping[str, Answer],
                   page_time_ms: int | None = None) -> Submission:
    """Store one page of answers and advance the resume point.  # atomic; safe to retry: a page already stored is not stored again"""
    with transaction.atomic():
        submission = _locked_submission(participant=participant, wave=wave)
        if submission.completed_at is not None or page < submission.page:
            return submission  # a double click or a retry: that page is stored already
        if page > submission.page:
            raise InvalidAnswers({"__all__": [_("This page is out of date. Please continue on the current page.")]})
        items = selectors.list_wave_items(wave)
        per_page = participant.study.items_per_page
        on_page = selectors.page_codes(submission, page, per_page, items)
        errors: dict[str, list[str]] = {}
        for code in answers:
            if code not in items:
                errors.setdefault("__all__", []).append(_("%(code)s is not a question of this wave.") % {"code": code})
            elif code not in on_page:
                errors.setdefault("__all__", []).append(_("%(code)s is not a question of this page.") % {"code": code})
        rows = []
        now = timezone.now()
        per_item_ms = None
        if page_time_ms is not None and on_page:
            per_item_ms = max(0, min(int(page_time_ms), 3_600_000)) // len(on_page)
        hidden = selectors.hidden_codes(participant, wave, [items[c] for c in on_page if c in items])
        for code in on_page:
            item = items.get(code)
            if item is None:
                continue  # removed from the wave since the order was drawn
            answer = answers.get(code)
            if code in hidden:  # its display condition does not hold: not shown, whatever was sent
                rows.append(Response(submission=submission, item=item, missing=Response.Missing.NOT_SHOWN,
                                     answered_at=now))
                continue
            if answer is None:
                answer = Answer(missing=Response.Missing.SKIPPED) if item.is_optional else Answer()
            problem = _check_answer(item, answer)
            if problem:
                errors[code] = [problem]
                continue
            rows.append(Response(submission=submission, item=item, value=answer.value, text=answer.text,
                                 missing=answer.missing, answered_at=now, response_time_ms=per_item_ms))
        shown = [items[c] for c in on_page if c in items and c not in hidden]
        for code, messages in groups.check_answers(shown, answers).items():
            errors.setdefault(code, messages)
        if errors:
            raise InvalidAnswers(errors)
        submission.page = page + 1
        if selectors.has_logic(participant.study, items.values()):
            # Conditions on later pages read this page's answers: stored first.
            fastsql.insert_many(rows, _RESPONSE_FIELDS)
            _skip_hidden_pages(participant, wave, submission, items, now)
            _save_page(participant, wave, submission, now, items)
        else:
            _save_page(participant, wave, submission, now, items, rows)
        return submission


def _skip_hidden_pages(participant: Participant, wave: Wave, submission: Submission, items: dict, now) -> None:
    """Move the resume point past the pages that are not shown (their page condition fails on the
    answers so far, or every question on them is hidden), storing their questions as not shown.
    No query when nothing of the wave has a condition."""
    if not selectors.has_logic(participant.study, items.values()):
        return
    per_page = participant.study.items_per_page
    pages = selectors.page_count(submission, per_page, items)
    answers = selectors.prior_answers(participant, wave)
    while submission.page < pages and selectors.page_hidden(participant, wave, submission, submission.page,
                                                               items, answers):
        codes = [c for c in selectors.page_codes(submission, submission.page, per_page, items) if c in items]
        fastsql.insert_many([Response(submission=submission, item=items[c], missing=Response.Missing.NOT_SHOWN,
                                      answered_at=now) for c in codes], _RESPONSE_FIELDS)
        answers.update(dict.fromkeys(codes))
        submission.page += 1


def skip_hidden_pages(*, participant: Participant, wave: Wave) -> Submission:
    """On showing a wave's current page: when it is not shown (its condition failed already, e.g.
    on the baseline), skip it and the hidden pages after it.  # atomic; idempotent"""
    with transaction.atomic():
        submission = _locked_submission(participant=participant, wave=wave)
        if submission.completed_at is not None:
            return submission
        start, items = submission.page, selectors.list_wave_items(wave)
        _skip_hidden_pages(participant, wave, submission, items, timezone.now())
        if submission.page != start:
            _save_page(participant, wave, submission, timezone.now(), items)
        return submission


def _save_page(participant: Participant, wave: Wave, submission: Submission, now, items: dict,
               rows: Sequence[Response] = ()) -> None:
    """Store `rows` (answers not stored yet) and the resume point; past the last page the wave is
    complete."""
    per_page = participant.study.items_per_page
    fields = ["page"]
    if submission.page >= selectors.page_count(submission, per_page, items):
        submission.completed_at = now
        submission.duration_seconds = round(max((now - submission.started_at).total_seconds(), 0.0), 1)
        fields += ["completed_at", "duration_seconds"]
    # The answers, the resume point and (last: the counts' row stays locked only until the commit)
    # the completion count: one statement on PostgreSQL.
    fastsql.execute_together([
        fastsql.insert_many_statement(list(rows), _RESPONSE_FIELDS),
        fastsql.update_fields_statement(submission, fields),
        summaries.completed_statement(participant=participant, wave=wave) if submission.completed_at else None,
    ])


# The answer-saving path runs on every page a participant sends; its INSERTs and UPDATE are written
# out once (`common.fastsql`) instead of compiled by the ORM per request (bench/submit.py). No
# signals are lost: bulk_create and save(update_fields) sent none that anything listens to, and
# nothing does.
_RESPONSE_FIELDS = ("submission", "item", "value", "text", "missing", "response_time_ms", "answered_at")


# --- Withdrawal ---------------------------------------------------------------------------------------


def withdraw(*, participant: Participant, delete_answers: bool) -> Participant:
    """Withdraw the participant; with `delete_answers`, delete every answer and grouping answer.  # atomic; idempotent, and a later call may still delete; sends answers_changed after commit"""
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        # Lock the submissions too, so an answer being stored right now commits before we delete.
        submissions = list(Submission.objects.select_for_update().filter(participant=locked).order_by("pk"))
        with summaries.tracking([locked.pk]):  # withdrawn, maybe without submissions now
            wave_ids = sorted({s.wave_id for s in submissions})
            changed = locked.withdrawn_at is None
            fields = []
            if changed:
                locked.withdrawn_at = timezone.now()
                fields.append("withdrawn_at")
            if delete_answers and (submissions or locked.groups):
                Response.objects.filter(submission__in=submissions).delete()
                Submission.objects.filter(pk__in=[s.pk for s in submissions]).delete()
                locked.groups = {}
                fields.append("groups")
                changed = True
            if fields:
                locked.save(update_fields=fields)
        # Contact data goes with the withdrawal; messages not yet sent are dropped.
        ParticipantContact.objects.filter(participant=locked).delete()
        Message.objects.filter(participant=locked, status__in=[Message.Status.PENDING, Message.Status.QUEUED]).update(
            status=Message.Status.SKIPPED, last_error="withdrawn")
        if changed and not locked.is_preview:
            study_id = locked.study_id
            transaction.on_commit(lambda: answers_changed.send(
                sender=Participant, study_id=study_id, wave_ids=wave_ids, deleted=delete_answers))
    participant.refresh_from_db()
    return participant


# --- Researcher preview -------------------------------------------------------------------------------


def start_preview(*, study: Study, wave: Wave, arm: Arm | None, language: str) -> tuple[Participant, str]:
    """A fresh preview participant who takes `wave` in `arm`, whatever the wave's state.  # atomic; never enters analysis or exports"""
    if wave.study_id != study.pk or (arm is not None and arm.study_id != study.pk):
        raise SurveyError(_("The wave or arm belongs to another study."))
    with transaction.atomic():
        consent = study.current_consent()
        now = timezone.now()
        participant = Participant.objects.create(
            study=study, is_preview=True, preview_wave=wave, arm=arm, language=language,
            consented_at=now if consent else None, consent_version=consent, assigned_at=now if arm else None,
        )
        _token, secret = ParticipantToken.issue(participant)
    return participant, secret

