"""Counts that grow with the participants, kept up to date by the write path so that no page
counts raw rows: `PanelCount` holds, per study, wave and arm, the enrolment, invitation, start
and completion counts the overview and attrition pages show; `StratumCount` holds, per study and
grouping answer, the enrolled participants the quotas count. `surveys.summaries` maintains and
reads them."""

from django.db import models

from surveys.models.study import Study

#: The fields of `PanelCount` that are counts (each a sum over participants).
STUDY_COUNTS = ("joined", "consented", "active", "analysable")
WAVE_COUNTS = ("enrolled", "invited", "reminded", "started", "completed", "current", "current_completed")
COUNTS = (*STUDY_COUNTS, *WAVE_COUNTS)


class PanelCount(models.Model):
    """Non-preview participants of one arm, counted for the study as a whole (`wave_key` 0:
    `joined`, `consented`, `active` = not withdrawn, of the enrolled ones: who opened their link,
    `Participant.objects.enrolled()`; `analysable` = `Participant.objects.analysable()`)
    or for one wave (`wave_key` = the wave's id: `enrolled` = joined before it closed and not
    withdrawn before it opened, `invited` / `reminded` = sent an invitation / a reminder for it,
    `started` / `completed` = has a (completed) submission, `current` = not withdrawn and joined
    before it closed (enrolled ones), `current_completed` = of those, completed it). `arm_key` is the arm's id,
    0 for participants without an arm. A wave's row records the wave times its enrolment counts
    were made for (`opens_at`, `closes_at`); `surveys.summaries` recounts the wave when they
    change. Every count equals the raw aggregation at all times (tests/surveys/test_summaries.py)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    wave_key = models.PositiveBigIntegerField(default=0, help_text="The wave's id; 0 = the study as a whole.")
    arm_key = models.PositiveBigIntegerField(default=0, help_text="The arm's id; 0 = no arm.")
    counted = models.BooleanField(default=False, help_text="The study's row of no arm: its counts start from the "
                                  "study's creation or a recount (older studies are counted from raw rows).")
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    joined = models.IntegerField(default=0)
    consented = models.IntegerField(default=0)
    active = models.IntegerField(default=0)
    analysable = models.IntegerField(default=0)
    enrolled = models.IntegerField(default=0)
    invited = models.IntegerField(default=0)
    reminded = models.IntegerField(default=0)
    started = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    current = models.IntegerField(default=0)
    current_completed = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "wave_key", "arm_key"], name="panelcount_unique")]

    def __str__(self) -> str:
        return f"counts of study {self.study_id}, wave {self.wave_key}, arm {self.arm_key}"


class StratumCount(models.Model):
    """Participants of one study who count against its cap and quotas
    (`surveys.enrolment.enrolled`: not previews, link opened, not withdrawn, not screened out)
    and whose grouping answer `code` is `value`: the value in canonical form
    (`surveys.summaries.stratum_value`: a number as ``1`` or ``1.5``, JSON otherwise, e.g.
    ``null``). Every grouping answer is counted, whether a quota uses it or not, so a quota added
    later needs no recount. Equals the raw aggregation at all times (tests/surveys/test_summaries.py)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    code = models.TextField(help_text="The grouping item's code (a key of `Participant.groups`).")
    value = models.TextField(help_text="The answer, canonical: 1, 1.5, null, JSON for anything else.")
    enrolled = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "code", "value"], name="stratumcount_unique")]

    def __str__(self) -> str:
        return f"enrolled of study {self.study_id} with {self.code} = {self.value}"
