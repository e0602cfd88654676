"""Participants, their personal links and the allocation blocks of randomization."""

import hashlib
import secrets
import string

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.design import Arm
from surveys.models.study import ConsentVersion, Study

# --- Participants -----------------------------------------------------------------------------------

_PUBLIC_ID_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "01OI")


def new_public_id() -> str:
    """A pseudonymous id for exports: 'P' + 10 characters (~49 bits), unrelated to any other id."""
    return "P" + "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(10))


class ParticipantQuerySet(models.QuerySet):
    def analysable(self) -> "ParticipantQuerySet":
        """Participants who enter analysis: not previews, not withdrawn, not excluded."""
        from surveys.models.answers import Exclusion  # answers.py imports this module

        active_exclusion = Exclusion.objects.filter(participant=OuterRef("pk"), lifted_at__isnull=True)
        return self.filter(is_preview=False, withdrawn_at__isnull=True).exclude(Exists(active_exclusion))

    def enrolled(self) -> "ParticipantQuerySet":
        """Participants who count as enrolled: not previews, and they opened their personal link
        (a join whose response never reached the browser does not count)."""
        return self.filter(is_preview=False, link_opened_at__isnull=False)


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    external_id = models.CharField(max_length=128, blank=True, help_text="e.g. PROLIFIC_PID; never exported by default.")
    external_study_id = models.CharField(max_length=128, blank=True, help_text="e.g. Prolific STUDY_ID.")
    arm = models.ForeignKey(Arm, on_delete=models.RESTRICT, null=True, blank=True, related_name="participants")
    language = models.CharField(max_length=8, default="en")
    groups = models.JSONField(default=dict, blank=True, help_text="Grouping answers: {item code: value}.")
    weight = models.FloatField(
        null=True, blank=True,
        help_text="Imported survey data: the respondent's weight (its meaning: Study.weight_kind).")
    joined_at = models.DateTimeField(default=timezone.now)
    consented_at = models.DateTimeField(null=True, blank=True)
    consent_version = models.ForeignKey(ConsentVersion, on_delete=models.RESTRICT, null=True, blank=True,
                                        related_name="participants")
    assigned_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Enrolment: a late arrival enrolled at a later wave; one turned away by a full quota.
    first_wave = models.PositiveIntegerField(
        null=True, blank=True, help_text="Late arrivals: the first wave they take (earlier waves are not theirs).")
    screened_out_at = models.DateTimeField(
        null=True, blank=True, help_text="Turned away at baseline because the quota of their answer was full.")
    is_preview = models.BooleanField(default=False, help_text="Researcher test runs; never analysed or exported.")
    link_opened_at = models.DateTimeField(
        null=True, blank=True, default=timezone.now,
        help_text="When the participant first opened their personal link. A web join leaves it empty until then: "
                  "such participants are not counted as enrolled.",
    )
    join_key = models.CharField(
        max_length=64, blank=True, default="", editable=False,
        help_text="SHA-256 of the joining browser's one-time join cookie: the same browser retrying a join "
                  "gets this participant back instead of a second enrolment.",
    )
    link_emails_sent = models.PositiveSmallIntegerField(
        default=0, help_text='Times the personal link was sent by "e-mail me this link" (rate-limited).')
    preview_wave = models.ForeignKey(
        "Wave", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Preview participants only: the wave the researcher takes, whatever its state.",
    )

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["study", "joined_at", "id"]
        constraints = [
            # A returning Prolific participant is the same participant, never a second one.
            models.UniqueConstraint(
                fields=["study", "external_id", "external_study_id"],
                condition=~Q(external_id=""),
                name="participant_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(consented_at__isnull=True) | Q(consent_version__isnull=False),
                name="participant_consent_has_version",
            ),
            models.CheckConstraint(condition=Q(preview_wave__isnull=True) | Q(is_preview=True),
                                   name="participant_preview_wave_only_for_previews"),
        ]
        indexes = [
            models.Index(fields=["study", "join_key"], condition=~Q(join_key=""), name="participant_join_key"),
            # The at-risk list walks the study's participants in joining order and stops at the
            # first it shows; the few who withdrew are found without reading the others.
            models.Index(fields=["study", "joined_at", "id"], name="participant_study_joined"),
            models.Index(fields=["study"], condition=Q(withdrawn_at__isnull=False), name="participant_withdrawn"),
            # The overview counts those turned away by a quota without reading the others.
            models.Index(fields=["study"], condition=Q(screened_out_at__isnull=False), name="participant_screened_out"),
        ]

    def __str__(self) -> str:
        return self.public_id

    def clean(self) -> None:
        if self.arm_id and self.study_id and self.arm.study_id != self.study_id:
            raise ValidationError({"arm": _("The arm belongs to another study.")})


def hash_secret(secret: str) -> str:
    # The secret carries >= 128 random bits, so a fast unsalted hash cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


class ParticipantToken(models.Model):
    """A personal link. The link carries the secret; the database keeps only its SHA-256."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A returning Prolific participant is recognised by PROLIFIC_PID and STUDY_ID alone, which
    # others may know; the fresh link it gets answers waves but never shows earlier answers.
    grants_data_access = models.BooleanField(
        default=True, help_text="May download the participant's earlier answers (false for links issued by Prolific id).",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Exact(Length("token_hash"), 64), name="token_hash_is_sha256"),
        ]

    def __str__(self) -> str:
        return f"token of {self.participant} ({'revoked' if self.revoked_at else 'active'})"

    @classmethod
    def issue(cls, participant: Participant, *, grants_data_access: bool = True) -> tuple["ParticipantToken", str]:
        """Create a token; returns it with the secret, which is never stored and cannot be recovered."""
        secret = secrets.token_urlsafe(24)  # 192 random bits
        token = cls.objects.create(participant=participant, token_hash=hash_secret(secret),
                                   grants_data_access=grants_data_access)
        return token, secret

    @classmethod
    def lookup(cls, secret: str) -> "ParticipantToken | None":
        """The active token for `secret`, or None (also for malformed secrets)."""
        if not secret or len(secret) > 128:
            return None
        return (cls.objects.select_related("participant", "participant__study")
                .filter(token_hash=hash_secret(secret), revoked_at__isnull=True).first())


class AllocationBlock(models.Model):
    """One permuted block of arm assignments for one stratum (blocked stratified randomization).

    `sequence` lists arm ids in random order, each arm as often as its allocation weight times
    the block's multiplier; participants of the stratum take the next unused slot. Kept as the
    audit trail of the allocation.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="allocation_blocks")
    stratum = models.CharField(max_length=255, help_text='Grouping answers, e.g. "side:1" ("all" without grouping items).')
    number = models.PositiveIntegerField()
    sequence = models.JSONField(help_text="Arm ids in allocation order.")
    used = models.PositiveIntegerField(default=0, help_text="Slots handed out so far.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "stratum", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "stratum", "number"], name="allocation_block_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} {self.stratum} block {self.number} ({self.used}/{len(self.sequence)})"


