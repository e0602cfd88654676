"""Participant e-mail: rendering invitations and reminders, and sending them in batches.

A `Message` row exists once per (participant, wave, kind) (planned by `surveys.scheduling`). A
batch task claims its rows (queued -> sending) before sending, so a second delivery of the same
task, a second worker or a retry finds them claimed and sends nothing; a failed send goes back to
pending with a later `next_attempt_at` (doubling) and its error, until `MESSAGE_MAX_ATTEMPTS`.
Each message carries a fresh personal link (a new `ParticipantToken`) and an unsubscribe link.
E-mail addresses are read from `ParticipantContact` at send time and never stored elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import connection as database
from django.db import transaction
from django.db.models import F
from django.template import Context, Template, engines
from django.template.loader import get_template
from django.urls import reverse
from django.utils import formats, timezone, translation

from surveys import summaries
from surveys.models import (
    Message,
    MessageTemplate,
    ParticipantContact,
    ParticipantToken,
    Submission,
    Wave,
    hash_secret,
)

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "surveys.unsubscribe"
#: Longest error text kept on a message row.
ERROR_MAX_LENGTH = 1000


# --- Links ----------------------------------------------------------------------------------------


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(participant_id: int) -> str:
    """A signed, unguessable token naming the participant whose e-mails stop (no expiry: a link
    in an old e-mail must still work)."""
    return signing.dumps(participant_id, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> int | None:
    """The participant id of a valid unsubscribe token, else None."""
    if not token or len(token) > 200:
        return None
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


# --- Rendering ------------------------------------------------------------------------------------


@dataclass
class _Texts:
    """Subject and body templates of one (study, kind, language), compiled once per batch."""

    subject: object
    body: object
    builtin: bool


#: Stand-ins for the per-message links while a text is rendered once per (wave, kind, language).
_LINK = "\ue000link\ue000"
_UNSUBSCRIBE = "\ue000unsubscribe\ue000"


@dataclass
class Renderer:
    """Renders messages; caches templates and study overrides across one batch."""

    _cache: dict = field(default_factory=dict)
    _rendered: dict = field(default_factory=dict)

    def texts(self, *, study_id: int, kind: str, language: str) -> _Texts:
        key = (study_id, kind, language)
        if key not in self._cache:
            override = MessageTemplate.objects.filter(study_id=study_id, kind=kind, language=language).first()
            if override is not None:
                engine = engines["django"].engine
                self._cache[key] = _Texts(Template(override.subject, engine=engine),
                                          Template(override.body, engine=engine), builtin=False)
            else:
                self._cache[key] = _Texts(get_template(f"surveys/email/{kind}_subject.txt"),
                                          get_template(f"surveys/email/{kind}_body.txt"), builtin=True)
        return self._cache[key]

    def render(self, *, study, wave: Wave, kind: str, language: str, link: str,
               unsubscribe_link: str) -> tuple[str, str]:
        """(subject, body) of one message in `language` (the study's default if it does not offer it).

        Only the two links differ between the recipients of one (wave, kind, language): the text
        is rendered once with markers in their place, and each message replaces the markers."""
        if language not in (study.languages or []):
            language = study.default_language
        key = (wave.pk, kind, language)
        if key not in self._rendered:
            self._rendered[key] = self._render_once(study=study, wave=wave, kind=kind, language=language)
        subject, body = self._rendered[key]
        return subject, body.replace(_LINK, link).replace(_UNSUBSCRIBE, unsubscribe_link)

    def _render_once(self, *, study, wave: Wave, kind: str, language: str) -> tuple[str, str]:
        template_kind = "reminder" if kind.startswith("reminder") else kind
        texts = self.texts(study_id=study.pk, kind=template_kind, language=language)
        with translation.override(language):
            context = {
                "study": study.title, "wave": wave.number, "link": _LINK, "unsubscribe_link": _UNSUBSCRIBE,
                "closes_at": formats.date_format(timezone.localtime(wave.closes_at), "DATETIME_FORMAT"),
                "reminder": int(kind[len("reminder"):]) if kind.startswith("reminder") else 0,
            }
            if texts.builtin:
                subject, body = texts.subject.render(context), texts.body.render(context)
            else:
                subject = texts.subject.render(Context(context, autoescape=False))
                body = texts.body.render(Context(context, autoescape=False))
        subject = " ".join(subject.replace(_LINK, "").replace(_UNSUBSCRIBE, "").split())
        return subject, body.strip() + "\n"


def preview_message(*, study, kind: str, language: str) -> tuple[str, str]:
    """Subject and body of `kind` with placeholder links, for researchers checking a template."""
    wave = study.waves.order_by("number").first() or Wave(pk=0, number=1, closes_at=timezone.now())
    return Renderer().render(study=study, wave=wave, kind="reminder1" if kind == "reminder" else kind,
                             language=language, link=absolute_url("/p/<personal-link>/"),
                             unsubscribe_link=absolute_url("/u/<unsubscribe>/"))


# --- Sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    sent: int
    failed: int
    skipped: int
    claimed: int


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after `attempts` failed sends: base, 2 x base, 4 x base, ..."""
    return dt.timedelta(seconds=settings.MESSAGE_RETRY_SECONDS * 2 ** max(attempts - 1, 0))


def claim_messages(*, message_ids: list[int], now: dt.datetime) -> list[int]:
    """Mark the queued rows among `message_ids` as sending; returns those this caller owns.  # atomic; a row is claimed by one caller only"""
    with transaction.atomic():
        # Wait for row locks rather than skip them: a concurrent schedule run may hold a lock on a
        # queued row for a moment (PostgreSQL keeps the lock of a row it locked and then rejected
        # on re-check). After the wait the status is read again, so a row another claim took
        # (now sending) is not returned. Locks are taken in id order: no deadlock between claims.
        ids = list(Message.objects.select_for_update()
                   .filter(pk__in=message_ids, status=Message.Status.QUEUED).order_by("pk")
                   .values_list("pk", flat=True))
        claim = {"status": Message.Status.SENDING, "claimed_at": now, "attempts": F("attempts") + 1}
        if database.vendor == "postgresql":
            Message.objects.filter(pk__in=ids).update(**claim)  # locked above: ours
        else:
            # Without row locks (SQLite) each row is taken by its own conditional update, so a
            # concurrent claim that got there first leaves it out.
            ids = [pk for pk in ids if Message.objects.filter(pk=pk, status=Message.Status.QUEUED).update(**claim)]
    return ids


@dataclass(frozen=True)
class _Outgoing:
    """What sending one claimed message needs (plain values: a batch builds no model per row)."""

    pk: int
    participant_id: int
    kind: str
    attempts: int
    language: str
    withdrawn: bool
    wave: Wave
    study: object


def _load_outgoing(ids: list[int]) -> list[_Outgoing]:
    rows = list(Message.objects.filter(pk__in=ids).order_by("pk").values_list(
        "pk", "participant_id", "wave_id", "kind", "attempts", "participant__language", "participant__withdrawn_at"))
    waves = {w.pk: w for w in Wave.objects.filter(pk__in={row[2] for row in rows}).select_related("study")}
    return [_Outgoing(pk=pk, participant_id=pid, kind=kind, attempts=attempts, language=language,
                      withdrawn=withdrawn_at is not None, wave=waves[wave_id], study=waves[wave_id].study)
            for pk, pid, wave_id, kind, attempts, language, withdrawn_at in rows]


def _skip_reason(message: _Outgoing, *, contacts: dict, completed: set, now: dt.datetime) -> str:
    if message.withdrawn:
        return "withdrawn"
    if message.participant_id not in contacts:
        return "no e-mail address (unsubscribed or deleted)"
    wave = message.wave
    if wave.state != Wave.State.OPEN or now >= wave.closes_at or message.study.status != "active":
        return "wave not open"
    if (message.participant_id, wave.pk) in completed:
        return "wave completed"
    return ""


def send_message_batch(*, message_ids: list[int], now: dt.datetime | None = None) -> BatchResult:
    """Claim, render and send one batch of messages, and record each outcome.  # safe to run twice: claimed rows are never sent again"""
    now = now or timezone.now()
    ids = claim_messages(message_ids=message_ids, now=now)
    if not ids:
        return BatchResult(sent=0, failed=0, skipped=0, claimed=0)
    messages = _load_outgoing(ids)
    participant_ids = {m.participant_id for m in messages}
    contacts = dict(ParticipantContact.objects.filter(participant_id__in=participant_ids)
                    .values_list("participant_id", "email"))
    completed = set(Submission.objects.filter(
        participant_id__in=participant_ids, wave_id__in={m.wave.pk for m in messages}, completed_at__isnull=False,
    ).values_list("participant_id", "wave_id"))

    skipped: dict[str, list[int]] = {}
    sendable: list[_Outgoing] = []
    for message in messages:
        reason = _skip_reason(message, contacts=contacts, completed=completed, now=now)
        if reason:
            skipped.setdefault(reason, []).append(message.pk)
        else:
            sendable.append(message)
    for reason, skipped_ids in skipped.items():
        Message.objects.filter(pk__in=skipped_ids).update(status=Message.Status.SKIPPED, last_error=reason)

    # A fresh personal link per message. E-mail addresses are unverified, so these links answer
    # waves but do not download earlier answers.
    secrets_by_message = {m.pk: secrets.token_urlsafe(24) for m in sendable}
    tokens = ParticipantToken.objects.bulk_create([
        ParticipantToken(participant_id=m.participant_id, token_hash=hash_secret(secrets_by_message[m.pk]),
                         grants_data_access=False)
        for m in sendable
    ])
    token_by_message = {m.pk: token for m, token in zip(sendable, tokens, strict=True)}

    renderer = Renderer()
    sent_ids: list[int] = []
    failures: list[tuple[_Outgoing, str]] = []
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as error:  # noqa: BLE001 - any backend error: every message of the batch is retried
        failures = [(m, _error_text(error)) for m in sendable]
        sendable = []
    # The URL patterns once; each message fills in its secret and token.
    link_url = absolute_url(reverse("surveys:participant", args=["SECRET"])).replace("SECRET", "{}")
    unsubscribe_url = absolute_url(reverse("surveys:unsubscribe", args=["TOKEN"])).replace("TOKEN", "{}")
    for message in sendable:
        link = link_url.format(secrets_by_message[message.pk])
        unsubscribe_link = unsubscribe_url.format(unsubscribe_token(message.participant_id))
        try:
            subject, body = renderer.render(study=message.study, wave=message.wave, kind=message.kind,
                                            language=message.language, link=link, unsubscribe_link=unsubscribe_link)
            email = EmailMessage(subject=subject, body=body, to=[contacts[message.participant_id]],
                                 headers={"List-Unsubscribe": f"<{unsubscribe_link}>",
                                          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                          "X-Disagreement-Message": str(message.pk)},
                                 connection=connection)
            email.send(fail_silently=False)
        except Exception as error:  # noqa: BLE001 - SMTP and provider errors are many types; each is recorded
            failures.append((message, _error_text(error)))
            _reopen(connection)
        else:
            sent_ids.append(message.pk)
    try:
        connection.close()
    except Exception:  # noqa: BLE001
        logger.warning("closing the e-mail connection failed", exc_info=True)

    if sent_ids:
        sent = set(sent_ids)
        with summaries.tracking(m.participant_id for m in messages if m.pk in sent):  # invited, reminded
            Message.objects.filter(pk__in=sent_ids).update(status=Message.Status.SENT, sent_at=timezone.now(),
                                                           last_error="")
    for message, error in failures:
        _record_failure(message, error=error, now=now)
        token = token_by_message.get(message.pk)
        if token is not None:  # the link never reached anyone
            ParticipantToken.objects.filter(pk=token.pk).update(revoked_at=now)
    return BatchResult(sent=len(sent_ids), failed=len(failures), skipped=sum(map(len, skipped.values())),
                       claimed=len(ids))


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


def _reopen(connection) -> None:
    """After a failed send the SMTP session may be broken: start a fresh one for the next message."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001
        pass
    try:
        connection.open()
    except Exception:  # noqa: BLE001 - the next send raises and is recorded
        logger.warning("reopening the e-mail connection failed", exc_info=True)


def _record_failure(message: _Outgoing, *, error: str, now: dt.datetime) -> None:
    attempts = message.attempts  # loaded after the claim counted this attempt
    if attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        update = {"status": Message.Status.GIVEN_UP}
    else:
        update = {"status": Message.Status.PENDING, "next_attempt_at": now + retry_delay(attempts)}
    logger.warning("sending message %s failed (attempt %s): %s", message.pk, attempts, error)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(last_error=error, **update)


# --- Unsubscribing --------------------------------------------------------------------------------


def unsubscribe(*, participant_id: int) -> bool:
    """Delete the participant's e-mail address and drop their unsent messages.  # atomic; idempotent; True when an address was deleted"""
    with transaction.atomic():
        deleted = ParticipantContact.objects.filter(participant_id=participant_id).delete()[0]
        Message.objects.filter(participant_id=participant_id,
                               status__in=[Message.Status.PENDING, Message.Status.QUEUED]).update(
            status=Message.Status.SKIPPED, last_error="unsubscribed")
    return bool(deleted)
