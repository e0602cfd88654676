"""Study design and data collection.

Study content that participants read (prompts, labels, consent, interventions) is stored per
language as a JSON object ``{"en": "...", "de": "..."}``; `Study.languages` lists the languages a
study offers, the first being its default. Invariants that one row can hold are database
constraints; the two that span tables (an answer lies on its item's scale, a scale is frozen once
answered) are enforced by triggers installed in migration 0002, and checked again in Python so
the error a researcher sees is readable.
"""

import hashlib
import math
import re
import secrets
import string
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: Prolific's completion link; a wave's completion code is appended.
PROLIFIC_COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc="

#: Item codes become variable names in SPSS/Stata/R exports: letter first, then letters,
#: digits or underscores, at most 32 characters (Stata's limit).
ITEM_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
SLUG_HELP = "Lower-case letters, digits and hyphens; used in URLs."


def validate_item_code(value: str) -> None:
    if not ITEM_CODE_RE.match(value or ""):
        raise ValidationError(
            _("%(value)r is not a valid variable name: start with a letter, then letters, digits "
              "or underscores, at most 32 characters."),
            params={"value": value},
        )


def validate_translations(value) -> None:
    """A translated text is a JSON object mapping language codes to non-empty strings."""
    if not isinstance(value, dict) or not value:
        raise ValidationError(_('Give the text per language, e.g. {"en": "...", "de": "..."}.'))
    for lang, text in value.items():
        if not isinstance(lang, str) or not isinstance(text, str) or not text.strip():
            raise ValidationError(_("Every language needs a non-empty text (%(lang)s)."), params={"lang": lang})


def translate(texts: dict | None, language: str, fallback: str | None = None) -> str:
    """The text in `language`, else in `fallback`, else in any language; '' when there is none."""
    if not texts:
        return ""
    for lang in (language, (language or "").split("-")[0], fallback):
        if lang and texts.get(lang):
            return texts[lang]
    return next(iter(texts.values()), "")


def default_languages() -> list[str]:
    return ["en"]


def default_reminder_delays() -> list[int]:
    return [24, 72]


# --- Study --------------------------------------------------------------------------------------


class StudyQuerySet(models.QuerySet):
    def for_user(self, user) -> "StudyQuerySet":
        """Studies `user` is a member of (every study for a superuser, none for anonymous)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user).distinct()


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        CLOSED = "closed", _("closed")

    slug = models.SlugField(max_length=64, unique=True, help_text=SLUG_HELP)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    languages = models.JSONField(
        default=default_languages,
        help_text='Language codes the study offers, default first, e.g. ["en", "de"].',
    )
    completion_url = models.URLField(
        blank=True, max_length=500,
        help_text="Where participants go after finishing a wave, e.g. a Prolific completion link.",
    )
    completion_text = models.JSONField(default=dict, blank=True, help_text="Thank-you text per language.")
    items_per_page = models.PositiveSmallIntegerField(
        default=5, blank=True,  # blank: left empty in a form, it keeps the default (see clean)
        help_text="How many items participants see on one page (answers are saved per page).",
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Days after the study closes that identifying data (e-mail, external ids) is kept.",
    )
    primary_outcome = models.CharField(
        max_length=64, blank=True,
        help_text="The pre-registered primary outcome (an index name); every other outcome is exploratory.",
    )
    # Scheduling and participant e-mail (issue 9; see docs/scheduling.md).
    collect_email = models.BooleanField(
        default=False,
        help_text="Ask on the consent page for an optional e-mail address for invitations and reminders.",
    )
    reminder_delays_hours = models.JSONField(
        default=default_reminder_delays, blank=True,
        help_text="Hours after a wave opens at which those who have not completed it are reminded, e.g. [24, 72].",
    )
    last_chance_hours = models.PositiveIntegerField(
        null=True, blank=True, default=24,
        help_text="Hours before a wave closes for the last-chance reminder (empty: none).",
    )
    retention_deletes_answers = models.BooleanField(
        default=False,
        help_text="When the retention period ends, delete the answers too (not only e-mail and external ids).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="studies")

    objects = StudyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["draft", "active", "closed"]), name="study_status_valid"),
            models.CheckConstraint(condition=Q(items_per_page__gte=1), name="study_items_per_page_positive"),
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else settings.LANGUAGE_CODE

    def clean(self) -> None:
        if self.items_per_page is None:
            self.items_per_page = self._meta.get_field("items_per_page").default
        valid = {code for code, _name in settings.LANGUAGES}
        if not isinstance(self.languages, list) or not self.languages:
            raise ValidationError({"languages": _('List at least one language code, e.g. ["en"].')})
        unknown = [lang for lang in self.languages if lang not in valid]
        if unknown:
            raise ValidationError(
                {"languages": _("Unsupported language(s) %(langs)s; supported: %(valid)s.")
                 % {"langs": ", ".join(map(str, unknown)), "valid": ", ".join(sorted(valid))}}
            )
        self.clean_schedule()

    def clean_schedule(self) -> None:
        """Reminder delays are a list of positive whole hours (called from clean)."""
        delays = self.reminder_delays_hours
        if delays in (None, ""):
            self.reminder_delays_hours = delays = []
        if (not isinstance(delays, list) or len(delays) > 10
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 24 * 365 for d in delays)):
            raise ValidationError({"reminder_delays_hours": _(
                "Give the reminder delays as a list of at most 10 whole hours, e.g. [24, 72].")})
        self.reminder_delays_hours = sorted(set(delays))

    def current_consent(self) -> "ConsentVersion | None":
        return self.consent_versions.order_by("-version").first()


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        ANALYST = "analyst", _("analyst")
        VIEWER = "viewer", _("viewer")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=["owner", "analyst", "viewer"]), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.study.slug}"


class ConsentVersion(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_versions")
    version = models.PositiveIntegerField()
    text = models.JSONField(validators=[validate_translations], help_text="Consent text per language.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="consent_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="consent_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} consent v{self.version}"


# --- Items, waves, arms ---------------------------------------------------------------------------


class Item(models.Model):
    class Kind(models.TextChoices):
        LIKERT = "likert", _("Likert scale")
        SLIDER = "slider", _("slider")
        CHOICE = "choice", _("single choice")
        TEXT = "text", _("free text")

    class Role(models.TextChoices):
        ATTITUDE = "attitude", _("attitude (asked in every wave)")
        GROUPING = "grouping", _("grouping (asked once at baseline)")
        ATTENTION = "attention", _("attention check")

    #: Fields that define the answer scale; frozen once an answer exists.
    SCALE_FIELDS = ("kind", "scale_min", "scale_max", "step", "reverse_coded", "dont_know")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=32, validators=[validate_item_code], help_text="Variable name in exports.")
    prompt = models.JSONField(validators=[validate_translations], help_text="Question text per language.")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.LIKERT)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ATTITUDE)
    scale_min = models.FloatField(null=True, blank=True, help_text="Lowest value (Likert/choice: 1).")
    scale_max = models.FloatField(null=True, blank=True, help_text="Highest value (Likert: k; choice: number of options).")
    step = models.FloatField(null=True, blank=True, help_text="Distance between values (Likert/choice: 1).")
    labels = models.JSONField(
        default=dict, blank=True,
        help_text='Value labels per language: {"en": {"1": "Strongly disagree", "7": "Strongly agree"}}. '
                  "Choice items need a label for every value.",
    )
    dont_know = models.BooleanField(default=False, help_text='Offer "don\'t know" (stored as a missing code).')
    expected_answer = models.FloatField(null=True, blank=True, help_text="Attention checks: the correct value.")
    reverse_coded = models.BooleanField(default=False, help_text="Higher values mean less of the construct.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="item_code_unique_in_study"),
            models.CheckConstraint(condition=Q(kind__in=["likert", "slider", "choice", "text"]), name="item_kind_valid"),
            models.CheckConstraint(condition=Q(role__in=["attitude", "grouping", "attention"]), name="item_role_valid"),
            # Text items have no scale; every other kind has min < max and a positive step.
            models.CheckConstraint(
                condition=(
                    Q(kind="text", scale_min__isnull=True, scale_max__isnull=True, step__isnull=True)
                    | (
                        ~Q(kind="text")
                        & Q(scale_min__isnull=False, scale_max__isnull=False, step__isnull=False, step__gt=0)
                        & Q(scale_max__gt=F("scale_min"))
                    )
                ),
                name="item_scale_bounds",
            ),
            # Likert and choice items count categories 1..k.
            models.CheckConstraint(
                condition=~Q(kind__in=["likert", "choice"]) | Q(scale_min=1, step=1),
                name="item_categorical_scale_starts_at_one",
            ),
            models.CheckConstraint(condition=~Q(role="attention") | Q(expected_answer__isnull=False),
                                   name="item_attention_has_expected_answer"),
            models.CheckConstraint(condition=~Q(role="grouping") | Q(kind="choice"), name="item_grouping_is_choice"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}.{self.code}"

    @property
    def is_numeric(self) -> bool:
        return self.kind != self.Kind.TEXT

    @property
    def k(self) -> int | None:
        """Number of scale points; sliders use (max - min) / step + 1."""
        if not self.is_numeric:
            return None
        return int(round((self.scale_max - self.scale_min) / self.step)) + 1

    def prompt_in(self, language: str) -> str:
        return translate(self.prompt, language, self.study.default_language)

    def value_labels(self, language: str) -> dict[str, str]:
        labels = self.labels or {}
        for lang in (language, self.study.default_language):
            if isinstance(labels.get(lang), dict):
                return labels[lang]
        return next((v for v in labels.values() if isinstance(v, dict)), {})

    def scale_values(self) -> list[float]:
        """Every value on the scale, lowest first."""
        return [self.scale_min + j * self.step for j in range(self.k or 0)]

    def validate_value(self, value: float) -> None:
        """Raise ValidationError unless `value` is a point of this item's scale."""
        if not self.is_numeric:
            raise ValidationError(_("%(code)s is a free-text item and takes no number.") % {"code": self.code})
        if value is None or not math.isfinite(value):
            raise ValidationError(_("%(code)s needs a number.") % {"code": self.code})
        position = (value - self.scale_min) / self.step
        if not (self.scale_min <= value <= self.scale_max) or abs(position - round(position)) > 1e-9:
            raise ValidationError(
                _("%(value)s is not on the scale of %(code)s (%(min)g to %(max)g in steps of %(step)g).")
                % {"value": value, "code": self.code, "min": self.scale_min, "max": self.scale_max, "step": self.step}
            )

    def has_answers(self) -> bool:
        return self.pk is not None and self.responses.exists()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == self.Kind.TEXT:
            if any(v is not None for v in (self.scale_min, self.scale_max, self.step)):
                errors["kind"] = _("Free-text items have no scale: leave min, max and step empty.")
        else:
            if self.kind in (self.Kind.LIKERT, self.Kind.CHOICE):
                self.scale_min = 1 if self.scale_min is None else self.scale_min
                self.step = 1 if self.step is None else self.step
                if self.scale_min != 1 or self.step != 1:
                    errors["scale_min"] = _("Likert and choice items count 1..k: min 1, step 1.")
            if self.scale_min is None or self.scale_max is None or not self.step:
                errors["scale_max"] = _("Give the scale's min, max and step.")
            elif self.scale_max <= self.scale_min or self.step <= 0:
                errors["scale_max"] = _("The maximum must be above the minimum, and the step positive.")
            else:
                points = (self.scale_max - self.scale_min) / self.step
                if abs(points - round(points)) > 1e-9:
                    errors["step"] = _("(max - min) must be a whole number of steps.")
                elif round(points) + 1 > 1001:
                    errors["step"] = _("At most 1001 scale points.")
        if self.role == self.Role.GROUPING and self.kind != self.Kind.CHOICE:
            errors["role"] = _("A grouping item must be a choice item.")
        if self.role == self.Role.ATTENTION and self.expected_answer is None:
            errors["expected_answer"] = _("An attention check needs the expected answer.")
        if self.kind == self.Kind.CHOICE and self.scale_max and not errors:
            expected = {str(v) for v in range(1, int(self.scale_max) + 1)}
            for lang, labels in (self.labels or {}).items():
                if not isinstance(labels, dict) or set(labels) != expected:
                    errors["labels"] = _("Choice items need a label for every value 1..%(k)s (%(lang)s).") % {
                        "k": int(self.scale_max), "lang": lang}
        if self.pk and not errors and self.scale_changed() and self.has_answers():
            errors["kind"] = _("This item has answers; its scale is frozen. Create a new item instead.")
        if errors:
            raise ValidationError(errors)

    def scale_changed(self) -> bool:
        if self.pk is None:
            return False
        stored = type(self).objects.filter(pk=self.pk).values(*self.SCALE_FIELDS).first()
        return stored is not None and any(stored[f] != getattr(self, f) for f in self.SCALE_FIELDS)


class WaveQuerySet(models.QuerySet):
    def open(self, now=None) -> "WaveQuerySet":
        """Waves that accept answers now: state open and within their window."""
        now = now or timezone.now()
        return self.filter(state=Wave.State.OPEN, opens_at__lte=now, closes_at__gt=now)


class Wave(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField()
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    items = models.ManyToManyField(Item, related_name="waves", blank=True,
                                   help_text="The attitude and attention items this wave asks.")
    # Prolific (issue 9): where a participant goes after completing this wave.
    completion_code = models.CharField(
        max_length=64, blank=True,
        help_text="Prolific completion code of this wave; finishing redirects to Prolific with it.",
    )
    completion_url = models.URLField(
        blank=True, max_length=500,
        help_text="Where participants go after completing this wave (overrides the code and the study's URL).",
    )

    objects = WaveQuerySet.as_manager()

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="wave_number_unique_in_study"),
            models.CheckConstraint(condition=Q(number__gte=1), name="wave_number_positive"),
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="wave_closes_after_opening"),
            models.CheckConstraint(condition=Q(state__in=["scheduled", "open", "closed"]), name="wave_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} wave {self.number}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("A wave must close after it opens.")})

    def redirect_url(self) -> str:
        """Where a participant goes after completing this wave: the wave's URL, else Prolific's
        completion link for its code, else the study's completion URL ('' = stay on our page)."""
        if self.completion_url:
            return self.completion_url
        if self.completion_code:
            return PROLIFIC_COMPLETION_URL + quote(self.completion_code)
        return self.study.completion_url


class Arm(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="arms")
    name = models.SlugField(max_length=64, help_text="Short name, used in group keys (arm:<name>) and exports.")
    allocation_weight = models.PositiveIntegerField(default=1, help_text="Relative share of participants.")
    is_control = models.BooleanField(default=False)

    class Meta:
        ordering = ["study", "-is_control", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="arm_name_unique_in_study"),
            models.UniqueConstraint(fields=["study"], condition=Q(is_control=True), name="arm_one_control_per_study"),
            models.CheckConstraint(condition=Q(allocation_weight__gte=1), name="arm_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.name}"


class Intervention(models.Model):
    """What one arm is shown at one wave, before the items."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="interventions")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="interventions")
    title = models.JSONField(default=dict, blank=True, help_text="Heading per language.")
    content = models.JSONField(validators=[validate_translations], help_text="Text per language (plain text or simple HTML).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "arm"], name="intervention_unique_per_wave_arm")]

    def __str__(self) -> str:
        return f"{self.arm} at wave {self.wave.number}"

    def clean(self) -> None:
        if self.wave_id and self.arm_id and self.wave.study_id != self.arm.study_id:
            raise ValidationError(_("The arm and the wave belong to different studies."))


# --- Participants -----------------------------------------------------------------------------------

_PUBLIC_ID_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "01OI")


def new_public_id() -> str:
    """A pseudonymous id for exports: 'P' + 10 characters (~49 bits), unrelated to any other id."""
    return "P" + "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(10))


class ParticipantQuerySet(models.QuerySet):
    def analysable(self) -> "ParticipantQuerySet":
        """Participants who enter analysis: not previews, not withdrawn, not excluded."""
        active_exclusion = Exclusion.objects.filter(participant=OuterRef("pk"), lifted_at__isnull=True)
        return self.filter(is_preview=False, withdrawn_at__isnull=True).exclude(Exists(active_exclusion))


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    external_id = models.CharField(max_length=128, blank=True, help_text="e.g. PROLIFIC_PID; never exported by default.")
    external_study_id = models.CharField(max_length=128, blank=True, help_text="e.g. Prolific STUDY_ID.")
    arm = models.ForeignKey(Arm, on_delete=models.RESTRICT, null=True, blank=True, related_name="participants")
    language = models.CharField(max_length=8, default="en")
    groups = models.JSONField(default=dict, blank=True, help_text="Grouping answers: {item code: value}.")
    joined_at = models.DateTimeField(default=timezone.now)
    consented_at = models.DateTimeField(null=True, blank=True)
    consent_version = models.ForeignKey(ConsentVersion, on_delete=models.RESTRICT, null=True, blank=True,
                                        related_name="participants")
    assigned_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    is_preview = models.BooleanField(default=False, help_text="Researcher test runs; never analysed or exported.")
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


# --- Participant contact, messages, retention (issue 9) --------------------------------------------


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
    saw_intervention = models.BooleanField(default=False)
    user_agent_family = models.CharField(max_length=32, blank=True)
    external_session_id = models.CharField(max_length=128, blank=True, help_text="e.g. Prolific SESSION_ID.")

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
        DONT_KNOW = "dont_know", _("don't know")
        SKIPPED = "skipped", _("skipped")

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
                    | Q(value__isnull=True, text="") & Q(missing__in=["dont_know", "skipped"])
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


# --- API access -------------------------------------------------------------------------------------

#: Personal API tokens start with this, so a leaked one is recognisable (e.g. by secret scanners).
API_TOKEN_PREFIX = "dsg_"


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A researcher's personal API token. The secret is shown once; the database keeps its SHA-256.

    A token acts as its user: the user's role in each study decides what it may read and write.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'R on my laptop'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The first characters of the secret, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Exact(Length("token_hash"), 64), name="apitoken_hash_is_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…, {'revoked' if self.revoked_at else 'active'})"

    @classmethod
    def issue(cls, user, *, name: str) -> tuple["ApiToken", str]:
        """Create a token; returns it with the secret, which is never stored and cannot be recovered."""
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
        token = cls.objects.create(user=user, name=name, token_hash=hash_secret(secret),
                                   hint=secret[: len(API_TOKEN_PREFIX) + 6])
        return token, secret

    @classmethod
    def lookup(cls, secret: str) -> "ApiToken | None":
        """The token for `secret` (revoked ones too, so the caller can say so), or None."""
        if not secret or len(secret) > 128:
            return None
        return cls.objects.select_related("user").filter(token_hash=hash_secret(secret)).first()


class ExportAudit(models.Model):
    """One export or codebook download: who, when, what (the audit log of data leaving the platform)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="export_audits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="exports",
                              help_text="Empty for a browser session.")
    created_at = models.DateTimeField(default=timezone.now)
    what = models.CharField(max_length=16, help_text="data or codebook.")
    format = models.CharField(max_length=16)
    shape = models.CharField(max_length=8)
    parameters = models.JSONField(default=dict, blank=True, help_text="Filters and options of the request.")
    excluded_included = models.BooleanField(default=False)
    external_ids_included = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "created_at"], name="exportaudit_study_time")]

    def __str__(self) -> str:
        return f"{self.username} exported {self.what} of {self.study.slug} as {self.format} ({self.created_at:%Y-%m-%d %H:%M})"
