"""Stored results of computations, with their history and provenance."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from surveys.models import Arm, Item, Study, Wave

ACTIVE_STATUSES = ("queued", "running")


class AnalysisRun(models.Model):
    """One computation: a history row, never overwritten."""

    class Kind(models.TextChoices):
        INDICES = "indices", _("indices")
        EFFECTS = "effects", _("effects")
        REPORT = "report", _("study report")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped (inputs unchanged)")
        FAILED = "failed", _("failed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="analysis_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, null=True, blank=True, related_name="analysis_runs",
                             help_text="Empty for study-wide kinds (effects).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    fingerprint = models.CharField(max_length=64, blank=True, help_text="Hash of the inputs; unchanged inputs are skipped.")
    parameters = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0)
    code_version = models.CharField(max_length=64, blank=True)
    exclusions_applied = models.JSONField(default=list, blank=True, help_text="Public ids of excluded participants.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True,
                                         help_text="When its task was last handed to the broker (empty: never).")
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="Last sign of life of the worker computing it.")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            # One active run per (study, kind, wave); NULL waves need their own constraint.
            models.UniqueConstraint(fields=["study", "kind", "wave"], condition=Q(status__in=ACTIVE_STATUSES),
                                    name="analysisrun_one_active_per_wave"),
            models.UniqueConstraint(fields=["study", "kind"],
                                    condition=Q(status__in=ACTIVE_STATUSES, wave__isnull=True),
                                    name="analysisrun_one_active_per_study_kind"),
            models.CheckConstraint(condition=Q(kind__in=["indices", "effects", "report"]), name="analysisrun_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=["queued", "running", "done", "skipped", "failed"]),
                                   name="analysisrun_status_valid"),
            models.CheckConstraint(condition=~Q(kind="indices") | Q(wave__isnull=False),
                                   name="analysisrun_indices_have_wave"),
        ]

    def __str__(self) -> str:
        where = f" wave {self.wave.number}" if self.wave_id else ""
        return f"{self.kind} of {self.study.slug}{where}: {self.status}"


class IndexResult(models.Model):
    """One index value for a (study, wave, item, group). `item` empty = pooled over attitude items."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="index_results")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="index_results")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, null=True, blank=True, related_name="index_results")
    group = models.CharField(max_length=200, default="all")
    index = models.CharField(max_length=32)
    value = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    n = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="index_results")

    class Meta:
        ordering = ["study", "wave", "item", "group", "index"]
        constraints = [
            models.UniqueConstraint(fields=["study", "wave", "item", "group", "index"], condition=Q(item__isnull=False),
                                    name="indexresult_unique_per_item"),
            models.UniqueConstraint(fields=["study", "wave", "group", "index"], condition=Q(item__isnull=True),
                                    name="indexresult_unique_pooled"),
            models.CheckConstraint(
                condition=Q(ci_low__isnull=True) | Q(ci_high__isnull=True) | Q(ci_low__lte=models.F("ci_high")),
                name="indexresult_ci_ordered",
            ),
        ]
        indexes = [models.Index(fields=["study", "index", "group"], name="indexresult_lookup")]

    def __str__(self) -> str:
        return f"{self.index}[{self.group}] = {self.value}"


class EffectEstimate(models.Model):
    """An intervention effect of one arm against control. `wave` empty = pooled over post waves."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="effect_estimates")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="effect_estimates")
    outcome = models.CharField(max_length=32, help_text="value, extremity, distance_other_group or an index name.")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, null=True, blank=True, related_name="effect_estimates")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, null=True, blank=True, related_name="effect_estimates")
    method = models.CharField(max_length=32)
    group = models.CharField(max_length=200, default="all", help_text="all, or the pair key of a between-group index.")
    sample = models.CharField(max_length=16, default="all", help_text="all, or balanced (answered every wave).")
    estimate = models.FloatField(null=True, blank=True)
    se = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    p_holm = models.FloatField(null=True, blank=True)
    p_ri = models.FloatField(null=True, blank=True, help_text="Randomization-inference p-value.")
    n = models.PositiveIntegerField(default=0)
    attrition_warning = models.BooleanField(default=False)
    is_primary = models.BooleanField(default=False, help_text="Planned: an outcome and contrast of the frozen "
                                                               "analysis plan (else the study's primary outcome).")
    p_plan_holm = models.FloatField(null=True, blank=True,
                                    help_text="Holm-adjusted p-value across the planned estimates only.")
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="effect_estimates")

    class Meta:
        ordering = ["study", "outcome", "arm", "wave"]
        constraints = [
            models.CheckConstraint(condition=Q(se__isnull=True) | Q(se__gte=0), name="effect_se_nonnegative"),
            models.CheckConstraint(
                condition=(Q(p_value__isnull=True) | Q(p_value__gte=0, p_value__lte=1))
                & (Q(p_holm__isnull=True) | Q(p_holm__gte=0, p_holm__lte=1)),
                name="effect_p_values_are_probabilities",
            ),
        ]
        indexes = [
            # The effects page: which items and groups have estimates (one DISTINCT, index only),
            # and the estimates of one item.
            models.Index(fields=["study", "item", "group"], name="effect_study_item_group"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.arm.name}: {self.estimate}"


# --- Analysis plan and report ----------------------------------------------------------------


class AnalysisPlan(models.Model):
    """A study's analysis plan (`analysis.stats.plan.Plan` as a dict): declared by an owner while
    the study is a draft, frozen with its hash and time when the study launches."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="analysis_plan")
    content = models.JSONField(default=dict, blank=True, help_text="outcomes, contrasts and notes.")
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the plan frozen at launch.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(frozen_at__isnull=True) | ~Q(frozen_hash=""),
                                              name="analysisplan_frozen_has_hash")]

    def __str__(self) -> str:
        state = f"frozen {self.frozen_at:%Y-%m-%d}" if self.frozen_at else "draft"
        return f"analysis plan of {self.study.slug} ({state})"

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    def to_dict(self) -> dict:
        return {**self.plan().to_dict(), "frozen_at": self.frozen_at.isoformat() if self.frozen_at else None,
                "hash": self.frozen_hash or None}

    def plan(self):
        from analysis.stats.plan import Plan

        return Plan.from_dict(self.content)


class StudyReport(models.Model):
    """A study report built by a worker from stored results: one self-contained HTML file."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    run = models.OneToOneField(AnalysisRun, on_delete=models.CASCADE, related_name="report")
    html = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"report of {self.study.slug} ({self.created_at:%Y-%m-%d %H:%M})"


# --- Text series ----------------------------------------------------------------------------


class TimeSeries(models.Model):
    """A series imported into a study: a text corpus scored per period (its lexicon negativity),
    or an outcome series (period, value) to relate it to. Only the per-period results are kept,
    with the file's SHA-256 for provenance; the texts themselves are not stored."""

    class Kind(models.TextChoices):
        CORPUS = "corpus", _("text corpus (negativity per period)")
        OUTCOME = "outcome", _("outcome series")

    class Period(models.TextChoices):
        YEAR = "year", _("year")
        MONTH = "month", _("month")
        WEEK = "week", _("week")
        DAY = "day", _("day")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="time_series")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    period = models.CharField(max_length=8, choices=Period.choices)
    lexicon = models.CharField(max_length=200, blank=True, help_text="Corpora: the lexicon that scored the texts.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Pipeline settings, bootstrap, seed, notes.")
    source_name = models.CharField(max_length=255, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    texts = models.PositiveIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    scored = models.PositiveBigIntegerField(default=0)
    not_found = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "name"]
        verbose_name_plural = "time series"
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="timeseries_name_unique_in_study"),
            models.CheckConstraint(condition=Q(kind__in=["corpus", "outcome"]), name="timeseries_kind_valid"),
            models.CheckConstraint(condition=Q(period__in=["year", "month", "week", "day"]),
                                   name="timeseries_period_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}: {self.name} ({self.kind}, per {self.period})"


class TimeSeriesPoint(models.Model):
    """One period (and group) of a series. Corpora: ``value`` is ``text_negativity`` with its
    bootstrap interval, ``value_mean`` ``text_negativity_mean``; outcomes: only ``value``."""

    series = models.ForeignKey(TimeSeries, on_delete=models.CASCADE, related_name="points")
    period = models.CharField(max_length=10, help_text="2021, 2021-03 or an ISO date.")
    starts_on = models.DateField(help_text="First day of the period (for ordering and plotting).")
    group = models.CharField(max_length=200, default="all")
    value = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    value_mean = models.FloatField(null=True, blank=True)
    mean_ci_low = models.FloatField(null=True, blank=True)
    mean_ci_high = models.FloatField(null=True, blank=True)
    positivity = models.FloatField(null=True, blank=True)
    texts = models.PositiveIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    scored = models.PositiveBigIntegerField(default=0)
    not_found = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["series", "starts_on", "group"]
        constraints = [
            models.UniqueConstraint(fields=["series", "period", "group"], name="timeseriespoint_unique"),
            models.CheckConstraint(
                condition=Q(ci_low__isnull=True) | Q(ci_high__isnull=True) | Q(ci_low__lte=models.F("ci_high")),
                name="timeseriespoint_ci_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.series.name} {self.period} [{self.group}] = {self.value}"


# --- dashboard caches -----------------------------------------------------------------------------


class WaveAnswerCount(models.Model):
    """How many analysable participants gave `value` to `item` in `wave`, per group key
    (`all`, `arm:<name>`, `<grouping code>:<value>`). Written with the wave's indices, in the same
    transaction, so the distributions page reads a few hundred rows instead of the answers."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    grouping = models.CharField(max_length=100, help_text="all, arm, or a grouping item's code.")
    group = models.CharField(max_length=200)
    value = models.FloatField()
    count = models.PositiveIntegerField()
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "item", "group", "value"],
                                               name="waveanswercount_unique")]
        indexes = [models.Index(fields=["study", "item", "grouping"], name="waveanswercount_lookup")]

    def __str__(self) -> str:
        return f"{self.item_id}[{self.group}] = {self.value}: {self.count}"


class SubmissionQuality(models.Model):
    """What the data-quality screens need of one submission (non-preview participants, excluded
    ones included so the page can show them): written with the wave's indices."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="+")
    submission = models.OneToOneField("surveys.Submission", on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey("surveys.Participant", on_delete=models.CASCADE, related_name="+")
    duration_seconds = models.FloatField(null=True, blank=True, help_text="Empty unless completed.")
    likert_answered = models.PositiveIntegerField(default=0)
    likert_min = models.FloatField(null=True, blank=True)
    likert_max = models.FloatField(null=True, blank=True)
    attention_answered = models.PositiveIntegerField(default=0)
    attention_failed = models.PositiveIntegerField(default=0)
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["study", "wave"], name="submissionquality_lookup")]

    def __str__(self) -> str:
        return f"quality of submission {self.submission_id}"


# --- data-quality flags, stored by the workers ------------------------------------------------------


class WaveQuality(models.Model):
    """The quality screens' summary of one wave under one speeder threshold (`speeder_share`, a
    code of `analysis.pipeline.quality_store.SPEEDER_SHARES`): what
    `analysis.stats.quality.summarize_flags` gives for the wave's submissions of participants who
    had not withdrawn. Written with the wave's indices (`analysis.pipeline.quality_store`)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="+")
    speeder_share = models.CharField(max_length=8)
    submissions = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    median_duration = models.FloatField(null=True, blank=True)
    attention = models.PositiveIntegerField(default=0)
    speeder = models.PositiveIntegerField(default=0)
    straightlining = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "speeder_share"], name="wavequality_unique")]
        indexes = [models.Index(fields=["study", "speeder_share"], name="wavequality_lookup")]

    def __str__(self) -> str:
        return f"quality of wave {self.wave_id} at {self.speeder_share}: {self.flagged} flagged"


class FlaggedSubmission(models.Model):
    """A submission flagged by a screen under the loosest speeder threshold (speeders under a
    stricter one are a subset): its flags, and its duration and the wave's median so that a
    stricter threshold is applied exactly as `flag_submissions` does."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey("surveys.Participant", on_delete=models.CASCADE, related_name="+")
    attention = models.BooleanField(default=False)
    straightlining = models.BooleanField(default=False)
    duration_seconds = models.FloatField(null=True, blank=True)
    median_duration = models.FloatField(null=True, blank=True)
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "participant"], name="flaggedsubmission_unique")]
        indexes = [models.Index(fields=["participant"], name="flaggedsubmission_participant")]

    def __str__(self) -> str:
        return f"flags of participant {self.participant_id} in wave {self.wave_id}"


class ParticipantQuality(models.Model):
    """One flagged participant under one speeder threshold, for the quality page's list (most
    flagged first): how many of their submissions are flagged and the wave numbers of each flag
    (space-separated), as `analysis.stats.quality.flagged_participants` gives them."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey("surveys.Participant", on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=16)
    speeder_share = models.CharField(max_length=8)
    flagged_waves = models.PositiveIntegerField()
    attention = models.TextField(blank=True)
    speeder = models.TextField(blank=True)
    straightlining = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "speeder_share"],
                                               name="participantquality_unique")]
        indexes = [models.Index(fields=["study", "speeder_share", "-flagged_waves", "public_id"],
                                name="participantquality_order")]

    def __str__(self) -> str:
        return f"{self.public_id} at {self.speeder_share}: {self.flagged_waves} flagged waves"


class FlaggedParticipantCount(models.Model):
    """How many `ParticipantQuality` rows a study has under one speeder threshold: the quality
    page's count of flagged participants without counting tens of thousands of rows per request.
    Recounted by the workers with the rows (`analysis.pipeline.quality_store.recount_flagged`)
    and after participants are deleted (their rows go with them); equal to the raw count at all
    times (tests/analysis/test_quality_store.py)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    speeder_share = models.CharField(max_length=8)
    participants = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "speeder_share"], name="flaggedcount_unique")]

    def __str__(self) -> str:
        return f"{self.participants} flagged at {self.speeder_share}"
