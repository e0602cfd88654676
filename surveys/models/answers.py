"""Answers: submissions (participant x wave), responses (one per item) and exclusions."""


from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys import kinds
from surveys.models.design import Item, Wave
from surveys.models.participants import Participant

# --- Answers ---------------------------------------------------------------------------------------


class Submission(models.Model):
    """One participant's visit to one wave."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="submissions")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="submissions")
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    item_order = models.JSONField(default=list, blank=True, help_text="Item codes in the order shown.")
    page = models.PositiveIntegerField(default=0, help_text="Next page to show (resume point).")
    page_plan = models.JSONField(default=list, blank=True,
                                 help_text="[[page name, number of items], ...] in the order shown; empty: "
                                           "item_order in pages of the study's items_per_page.")
    saw_intervention = models.BooleanField(default=False)
    user_agent_family = models.CharField(max_length=32, blank=True)
    external_session_id = models.CharField(max_length=128, blank=True, help_text="e.g. Prolific SESSION_ID.")
    # Each Prolific wave is a Prolific study of its own: the ids it arrived with for this wave.
    external_study_id = models.CharField(max_length=128, blank=True, help_text="e.g. Prolific STUDY_ID of this wave.")
    external_id = models.CharField(max_length=128, blank=True, help_text="e.g. PROLIFIC_PID as it arrived for this wave.")

    class Meta:
        ordering = ["wave", "participant"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave"], name="submission_one_per_participant_wave"),
            models.CheckConstraint(condition=Q(completed_at__isnull=True) | Q(completed_at__gte=F("started_at")),
                                   name="submission_completes_after_start"),
            models.CheckConstraint(condition=Q(duration_seconds__isnull=True) | Q(duration_seconds__gte=0),
                                   name="submission_duration_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} at {self.wave}"


class Response(models.Model):
    """One answer: a number on the item's scale, a text, or a missing code (never a scale value)."""

    class Missing(models.TextChoices):
        DONT_KNOW = kinds.MISSING_DONT_KNOW, _("don't know")
        SKIPPED = kinds.MISSING_SKIPPED, _("skipped")
        PREFER_NOT = kinds.MISSING_PREFER_NOT, _("prefer not to say")
        NOT_SHOWN = kinds.MISSING_NOT_SHOWN, _("not shown")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="responses")
    item = models.ForeignKey(Item, on_delete=models.RESTRICT, related_name="responses")
    value = models.FloatField(null=True, blank=True)
    text = models.TextField(blank=True)
    missing = models.CharField(max_length=10, choices=Missing.choices, blank=True)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["submission", "item"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "item"], name="response_one_per_submission_item"),
            # Exactly one of: a value, a text, a missing code.
            models.CheckConstraint(
                condition=(
                    Q(value__isnull=False, text="", missing="")
                    | Q(value__isnull=True, missing="") & ~Q(text="")
                    | Q(value__isnull=True, text="") & Q(missing__in=kinds.MISSING_CODES)
                ),
                name="response_exactly_one_kind_of_answer",
            ),
        ]
        indexes = [models.Index(fields=["item", "value"], name="response_item_value")]

    def __str__(self) -> str:
        shown = self.value if self.value is not None else (self.missing or self.text[:20])
        return f"{self.item.code}={shown}"

    def clean(self) -> None:
        if self.item_id is None:
            return
        if self.missing:
            if self.missing == self.Missing.DONT_KNOW and not self.item.dont_know:
                raise ValidationError({"missing": _("%(code)s offers no \"don't know\".") % {"code": self.item.code}})
            if self.missing == self.Missing.PREFER_NOT and not self.item.prefer_not_to_say:
                raise ValidationError({"missing": _("%(code)s offers no \"prefer not to say\".") % {
                    "code": self.item.code}})
        elif self.item.is_numeric:
            self.item.validate_value(self.value)
        elif self.value is not None:
            raise ValidationError({"value": _("%(code)s is a free-text item.") % {"code": self.item.code}})


class Exclusion(models.Model):
    """A researcher's decision to leave a participant out of analysis and exports."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="exclusions")
    reason = models.CharField(max_length=200)
    excluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant"], condition=Q(lifted_at__isnull=True),
                                    name="exclusion_one_active_per_participant"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} excluded: {self.reason}"


