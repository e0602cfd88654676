"""Participant contact, message templates and messages, and recorded data deletions."""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.design import Wave
from surveys.models.participants import Participant
from surveys.models.study import Study

# --- Participant contact, messages, retention --------------------------------------------------


class ParticipantContact(models.Model):
    """A participant's e-mail address, kept apart from the answers: never exported, deleted when
    the participant withdraws or unsubscribes and when the study's retention period ends."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="contact")
    email = models.EmailField(max_length=254)
    consented_at = models.DateTimeField(default=timezone.now, help_text="When the participant agreed to e-mails.")

    class Meta:
        ordering = ["participant"]

    def __str__(self) -> str:
        return f"contact of {self.participant}"


MESSAGE_KINDS = ["invitation", *[f"reminder{i}" for i in range(1, 11)], "last_chance"]


class MessageTemplate(models.Model):
    """A study's own wording of one kind of message in one language (else the built-in text).

    Subject and body are Django template text with the variables ``study``, ``wave``, ``link``,
    ``unsubscribe_link``, ``closes_at`` and ``reminder`` (the reminder's number)."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("invitation")
        REMINDER = "reminder", _("reminder")
        LAST_CHANCE = "last_chance", _("last-chance reminder")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="message_templates")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    language = models.CharField(max_length=8)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Must contain {{ link }} and {{ unsubscribe_link }}.")

    class Meta:
        ordering = ["study", "kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["study", "kind", "language"], name="message_template_unique"),
            models.CheckConstraint(condition=Q(kind__in=["invitation", "reminder", "last_chance"]),
                                   name="message_template_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} {self.kind} ({self.language})"

    def clean(self) -> None:
        from django.template import Template, TemplateSyntaxError

        errors = {}
        if self.study_id and self.language not in (self.study.languages or []):
            errors["language"] = _("The study does not offer this language (%(langs)s).") % {
                "langs": ", ".join(self.study.languages or [])}
        for field in ("subject", "body"):
            try:
                Template(getattr(self, field) or "")
            except TemplateSyntaxError as error:
                errors[field] = _("Template error: %(error)s") % {"error": error}
        for variable in ("link", "unsubscribe_link"):
            if not re.search(r"{{\s*" + variable + r"\s*}}", self.body or ""):
                errors.setdefault("body", _("The text must contain {{ link }} and {{ unsubscribe_link }}."))
        if errors:
            raise ValidationError(errors)


class Message(models.Model):
    """One e-mail to one participant about one wave: one row per (participant, wave, kind), so a
    message is planned once however often the schedule runs, and claimed before it is sent.

    pending -> queued (in a batch task) -> sending (claimed by a worker) -> sent; a failed send
    goes back to pending with a later `next_attempt_at` until `given_up`; `skipped` when the
    participant completed, withdrew or unsubscribed first; `interrupted` when a worker died
    between claiming and recording (never sent again: it may have gone out)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        GIVEN_UP = "given_up", _("given up")
        SKIPPED = "skipped", _("skipped")
        INTERRUPTED = "interrupted", _("interrupted")

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="messages")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=12)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["wave", "participant", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave", "kind"], name="message_one_per_participant_wave_kind"),
            models.CheckConstraint(condition=Q(kind__in=MESSAGE_KINDS), name="message_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "queued", "sending", "sent", "given_up", "skipped", "interrupted"]),
                name="message_status_valid"),
            models.CheckConstraint(condition=~Q(status="sent") | Q(sent_at__isnull=False), name="message_sent_has_time"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="message_status_due")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.participant} for {self.wave} ({self.status})"

    @property
    def template_kind(self) -> str:
        return "reminder" if self.kind.startswith("reminder") else self.kind


class DataDeletion(models.Model):
    """The record of identifying data deleted when a study's retention period ended."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="data_deletions")
    ran_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="End of the retention period.")
    contacts_deleted = models.PositiveIntegerField(default=0)
    external_ids_cleared = models.PositiveIntegerField(default=0)
    participants_answers_deleted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"{self.study.slug}: identifying data deleted {self.ran_at:%Y-%m-%d}"


