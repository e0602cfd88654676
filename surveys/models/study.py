"""Studies, their members and consent texts."""


from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common import access
from common.sanitize import sanitize_translations
from surveys.models.base import (
    SLUG_HELP,
    default_languages,
    default_reminder_delays,
    validate_translations,
)


def _in_language(texts, language: str) -> str:
    if not isinstance(texts, dict) or not language:
        return ""
    text = texts.get(language) or texts.get(language.split("-")[0])
    return text if isinstance(text, str) else ""


# --- Study --------------------------------------------------------------------------------------


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        CLOSED = "closed", _("closed")

    slug = models.SlugField(max_length=64, unique=True, help_text=SLUG_HELP)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Every language's title and description (the columns above hold the default language's).
    title_i18n = models.JSONField(default=dict, blank=True, help_text="Title per language.")
    description_i18n = models.JSONField(default=dict, blank=True, help_text="Description per language.")
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
    page_order = models.JSONField(
        default=list, blank=True,
        help_text='Pages in order: [{"name": "intro", "items": ["q1", "q2"], "show_if": {...}}]; a wave shows the '
                  "listed pages holding its items, then its other items in each participant's random order.")
    retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Days after the study closes that identifying data (e-mail, external ids) is kept.",
    )
    primary_outcome = models.CharField(
        max_length=64, blank=True,
        help_text="The pre-registered primary outcome (an index name); every other outcome is exploratory.",
    )
    # Scheduling and participant e-mail (see docs/scheduling.md).
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
    class Design(models.TextChoices):
        PANEL = "panel", "panel (the same people in every wave)"
        CROSS_SECTION = "cross_section", "repeated cross-sections (new people each period)"

    class WeightKind(models.TextChoices):
        NONE = "", "no weights"
        FREQUENCY = "frequency", "frequency weights (whole numbers of identical respondents)"
        SAMPLING = "sampling", "sampling weights (inverse selection probabilities)"

    design = models.CharField(
        max_length=16, choices=Design.choices, default=Design.PANEL,
        help_text="Repeated cross-sections: waves are periods (Wave.period) with new respondents each; "
                  "panel effect estimators do not apply.")
    weight_kind = models.CharField(
        max_length=10, choices=WeightKind.choices, default=WeightKind.NONE, blank=True,
        help_text="What Participant.weight means; empty: unweighted.")
    # Enrolment (see docs/enrolment.md and surveys/enrolment.py): empty fields mean no limit.
    enrol_opens_at = models.DateTimeField(null=True, blank=True, help_text="Newcomers may join from (empty: any time).")
    enrol_closes_at = models.DateTimeField(null=True, blank=True, help_text="Newcomers may join until.")
    enrol_closes_at_wave = models.PositiveIntegerField(
        null=True, blank=True, help_text="Enrolment closes when this wave opens (instead of, or before, a date).")
    late_arrivals = models.CharField(
        max_length=10, default="refuse", blank=True, choices=[("refuse", _("refuse")), ("next_wave", _("enrol at the next wave"))],
        help_text="After enrolment closes: refuse newcomers, or let them join at the next wave (baseline first).")
    enrol_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Most participants overall (empty: no cap).")
    quotas = models.JSONField(
        default=dict, blank=True,
        help_text='Most participants per grouping answer: {"side": {"1": 500, "2": 500}}.')
    quota_full_code = models.CharField(
        max_length=64, blank=True,
        help_text="Prolific code for those turned away by a full quota or cap (e.g. a screen-out code).")
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="studies")

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["draft", "active", "closed"]), name="study_status_valid"),
            models.CheckConstraint(condition=Q(items_per_page__gte=1), name="study_items_per_page_positive"),
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    def save(self, *args, **kwargs):
        self.completion_text = sanitize_translations(self.completion_text)  # shown to participants
        super().save(*args, **kwargs)

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else settings.LANGUAGE_CODE

    def title_in(self, language: str) -> str:
        """The title in `language` (or its base language), else the default language's column."""
        return _in_language(self.title_i18n, language) or self.title

    def description_in(self, language: str) -> str:
        return _in_language(self.description_i18n, language) or self.description

    def clean(self) -> None:
        if self.items_per_page is None:
            self.items_per_page = self._meta.get_field("items_per_page").default
        if not self.late_arrivals:  # left empty in a form: the default, refuse
            self.late_arrivals = "refuse"
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
    """A user's role in a study; what each role may do is decided in `common.access`."""

    Role = access.Role

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

    def save(self, *args, **kwargs):
        self.text = sanitize_translations(self.text)  # shown to participants (and sanitized again on render)
        super().save(*args, **kwargs)


