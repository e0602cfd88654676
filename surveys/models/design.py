"""A study's design: items, waves, arms and interventions."""

import math
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.sanitize import sanitize_translations
from surveys import kinds
from surveys.models.base import (
    PROLIFIC_COMPLETION_URL,
    translate,
    validate_item_code,
    validate_translations,
)
from surveys.models.study import Study

# --- Items, waves, arms ---------------------------------------------------------------------------


def _kind_in(values: list[str]) -> Q:
    # One kind as `kind=`, several as `kind__in=`: the constraints read as they always did.
    return Q(kind=values[0]) if len(values) == 1 else Q(kind__in=values)


class Item(models.Model):
    #: LIKERT, SLIDER, CHOICE, TEXT: made from the registry of kinds (surveys/kinds.py).
    Kind = models.TextChoices("Kind", kinds.choices(), module=__name__, qualname="Item.Kind")

    class Role(models.TextChoices):
        ATTITUDE = "attitude", _("attitude (asked in every wave)")
        GROUPING = "grouping", _("grouping (asked once at baseline)")
        ATTENTION = "attention", _("attention check")

    #: Fields that define the answer scale; frozen once an answer exists.
    SCALE_FIELDS = ("kind", "scale_min", "scale_max", "step", "reverse_coded", "dont_know", "prefer_not_to_say")

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
    prefer_not_to_say = models.BooleanField(
        default=False, help_text='Offer "prefer not to say" (stored as a missing code, never a scale value).')
    optional = models.BooleanField(
        default=False, help_text="May be left unanswered (stored as skipped). Free-text items are always optional.")
    unit = models.JSONField(default=dict, blank=True, help_text='Numeric entry: the unit per language, e.g. {"en": "years"}.')
    show_if = models.JSONField(
        default=dict, blank=True,
        help_text='Display logic: shown only when this condition on earlier answers holds, e.g. '
                  '{"item": "side", "op": "==", "value": 1} (see surveys/logic.py). Empty: always shown.')
    group = models.CharField(
        max_length=32, blank=True, default="",
        help_text="The matrix or multiple-choice question this item is part of (its code; surveys/groups.py). "
                  "Empty: a question of its own.")
    stem = models.JSONField(
        default=dict, blank=True,
        help_text="Items of a group: the group's question per language (the same on every item of the group).")
    none_option = models.BooleanField(
        default=False, help_text='Options of a multiple-choice question: offer an exclusive "none of these" '
                                 "(stored as 0 on every option).")
    expected_answer = models.FloatField(null=True, blank=True, help_text="Attention checks: the correct value.")
    reverse_coded = models.BooleanField(default=False, help_text="Higher values mean less of the construct.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="item_code_unique_in_study"),
            models.CheckConstraint(condition=Q(kind__in=kinds.values()), name="item_kind_valid"),
            models.CheckConstraint(condition=Q(role__in=["attitude", "grouping", "attention"]), name="item_role_valid"),
            # Kinds without a scale (text) have none; every other kind has min < max and a positive step.
            models.CheckConstraint(
                condition=(
                    _kind_in(kinds.values(scale=kinds.NO_SCALE))
                    & Q(scale_min__isnull=True, scale_max__isnull=True, step__isnull=True)
                    | (
                        ~_kind_in(kinds.values(scale=kinds.NO_SCALE))
                        & Q(scale_min__isnull=False, scale_max__isnull=False, step__isnull=False, step__gt=0)
                        & Q(scale_max__gt=F("scale_min"))
                    )
                ),
                name="item_scale_bounds",
            ),
            # Likert and choice items count categories 1..k.
            models.CheckConstraint(
                condition=~_kind_in(kinds.values(scale=kinds.CATEGORIES)) | Q(scale_min=1, step=1),
                name="item_categorical_scale_starts_at_one",
            ),
            models.CheckConstraint(condition=~Q(role="attention") | Q(expected_answer__isnull=False),
                                   name="item_attention_has_expected_answer"),
            models.CheckConstraint(condition=~Q(role="grouping") | _kind_in(kinds.values(grouping=True)),
                                   name="item_grouping_is_choice"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}.{self.code}"

    @property
    def is_numeric(self) -> bool:
        """Answers are numbers on the item's scale (its kind says so)."""
        return kinds.kind_of(self.kind).numeric

    @property
    def is_optional(self) -> bool:
        """May be left unanswered: marked optional, or free text."""
        return self.optional or kinds.kind_of(self.kind).free_text

    def unit_in(self, language: str) -> str:
        return translate(self.unit, language, self.study.default_language) if self.unit else ""

    @property
    def k(self) -> int | None:
        """Number of scale points; sliders use (max - min) / step + 1."""
        return kinds.kind_of(self.kind).scale.k(self)

    def prompt_in(self, language: str) -> str:
        return translate(self.prompt, language, self.study.default_language)

    def question_in(self, language: str) -> str:
        """The prompt as a question of its own: a matrix statement or option after its group's question."""
        prompt = self.prompt_in(language)
        if self.group and self.stem:
            return f"{translate(self.stem, language, self.study.default_language)} {prompt}"
        return prompt

    def value_labels(self, language: str) -> dict[str, str]:
        fixed = kinds.kind_of(self.kind).fixed_labels
        if fixed:
            return dict(fixed)
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
        kind = kinds.BY_VALUE.get(self.kind)  # an unknown kind is the field's own error
        errors: dict[str, str] = kind.scale.clean(self) if kind else {}
        if self.role == self.Role.GROUPING and kind and not kind.grouping:
            errors["role"] = _("A grouping item must be a choice item.")
        if self.role == self.Role.GROUPING and self.optional:
            errors["optional"] = _("A grouping item decides the participant's stratum: it cannot be optional.")
        if self.unit and kind and kind.value != "number":
            errors["unit"] = _("Only numeric entry items have a unit.")
        errors.update(self._group_errors(kind))
        # The spec's validator checks every condition against the whole file before it is applied;
        # mid-apply the database holds a mix of the old and the new design.
        if self.show_if and not getattr(self, "checked_by_spec", False):
            errors.update(self._logic_errors())
        if self.role == self.Role.ATTENTION and self.expected_answer is None:
            errors["expected_answer"] = _("An attention check needs the expected answer.")
        if kind and kind.labels_every_value and self.scale_max and not errors:
            expected = {str(v) for v in range(1, int(self.scale_max) + 1)}
            for lang, labels in (self.labels or {}).items():
                if not isinstance(labels, dict) or set(labels) != expected:
                    errors["labels"] = _("Choice items need a label for every value 1..%(k)s (%(lang)s).") % {
                        "k": int(self.scale_max), "lang": lang}
        if self.pk and not errors and self.scale_changed() and self.has_answers():
            errors["kind"] = _("This item has answers; its scale is frozen. Create a new item instead.")
        if errors:
            raise ValidationError(errors)

    def _group_errors(self, kind) -> dict[str, str]:
        """Items of a matrix (Likert statements) or multiple-choice question (options)."""
        from surveys import groups

        if kind is None:
            return {}
        if kind.group_only and not self.group:
            return {"group": _("An option belongs to a multiple-choice question: give its group.")}
        if not self.group:
            if self.stem or self.none_option:
                return {"group": _("Only items of a matrix or multiple-choice question have a stem or "
                                   "\"none of these\".")}
            return {}
        if self.group == self.code:
            return {"group": _("A group's code must differ from the codes of its items.")}
        if self.role != self.Role.ATTITUDE:
            return {"role": _("Statements and options of a matrix or multiple-choice question are attitude items.")}
        if kind.value not in groups.MEMBER_KINDS:
            return {"kind": _("A matrix has Likert statements and a multiple-choice question has options.")}
        if self.none_option and not kind.group_only:
            return {"none_option": _("Only multiple-choice questions offer \"none of these\".")}
        return {}

    def _logic_errors(self) -> dict[str, str]:
        """Display-logic problems against the study's other items (surveys/logic.py)."""
        from surveys import logic

        if self.role == self.Role.GROUPING:
            return {"show_if": _("Grouping items are always shown (they decide the stratum).")}
        others = {i.code: i for i in Item.objects.filter(study_id=self.study_id).exclude(pk=self.pk)}
        points = {code: (set(i.scale_values()) if kinds.kind_of(i).scale.listed else None)
                  for code, i in others.items()}
        problems = logic.check(self.show_if, code=self.code, points=points)
        conditions = {code: i.show_if for code, i in others.items()} | {self.code: self.show_if}
        cycle = next(iter(logic.cycles(conditions)), None)
        if cycle:
            problems.append(("show_if", "a cycle: " + " -> ".join(cycle)))
        if self.pk is not None and not problems:
            order = Study.objects.filter(pk=self.study_id).values_list("page_order", flat=True).first() or []
            for wave in Wave.objects.filter(items=self).prefetch_related("items").order_by("number"):
                asked = [i.code for i in wave.items.all()]
                places = logic.positions(order, asked)
                problems += [("show_if", message) for message in logic.order_problems(
                    self.show_if, wave=wave.number, asked=asked, places=places, own=places.get(self.code),
                    code=self.code)]
        return {"show_if": "; ".join(f"{path}: {message}" for path, message in problems)} if problems else {}

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
    period = models.CharField(
        max_length=32, blank=True,
        help_text="Repeated cross-sections: the period this wave is (a year such as 1974, YYYY-MM or a date); "
                  "opens_at is its start, so trends keep irregular spacing.")
    items = models.ManyToManyField(Item, related_name="waves", blank=True,
                                   help_text="The attitude and attention items this wave asks.")
    # Prolific: each wave may be its own Prolific study; its STUDY_ID recognises returning participants.
    prolific_study_id = models.CharField(
        max_length=128, blank=True,
        help_text="Prolific STUDY_ID of this wave's Prolific study (each wave its own); a participant "
                  "arriving with it and a known PROLIFIC_PID is recognised as returning.")
    # Prolific: where a participant goes after completing this wave.
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

    def save(self, *args, **kwargs):
        # Researcher-written HTML reaches participants: kept to the allow-list (and again on render).
        self.content = sanitize_translations(self.content)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.wave_id and self.arm_id and self.wave.study_id != self.arm.study_id:
            raise ValidationError(_("The arm and the wave belong to different studies."))


