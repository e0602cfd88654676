"""The data-quality screens, stored by the workers with each wave's indices so that the quality
page reads a few rows whatever the number of participants: per wave and speeder threshold the
summary of `analysis.stats.quality.summarize_flags` (`WaveQuality`), the flagged submissions
(`FlaggedSubmission`) and, per flagged participant, what `flagged_participants` lists
(`ParticipantQuality`). Computed from the wave's `SubmissionQuality` rows of participants who
have not withdrawn, exactly as the page computed them before (tests/analysis/test_quality_store.py
compares the two)."""

import threading
from collections import defaultdict

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Count

from analysis.models import (
    AnalysisRun,
    FlaggedParticipantCount,
    FlaggedSubmission,
    ParticipantQuality,
    SubmissionQuality,
    WaveQuality,
)
from analysis.stats.quality import (
    FLAGS,
    SUBMISSION_COLUMNS,
    QualityRules,
    flag_submissions,
    summarize_flags,
)
from common import fastsql
from surveys.models import Participant, Wave

#: The speeder thresholds the quality page offers (share of the wave's median time), as codes.
SPEEDER_SHARES = ("0.25", "0.33", "0.5")
_LOOSEST = max(SPEEDER_SHARES, key=float)


def wave_submissions_frame(*, wave_id: int) -> pd.DataFrame:
    """The wave's `SubmissionQuality` rows of participants who have not withdrawn, as
    `flag_submissions` takes them (`participant` is the database id)."""
    rows = (SubmissionQuality.objects.filter(wave_id=wave_id, participant__withdrawn_at__isnull=True).order_by()
            .values_list("participant_id", "wave__number", "duration_seconds", "likert_answered", "likert_min",
                         "likert_max", "attention_answered", "attention_failed"))
    frame = pd.DataFrame(fastsql.float_matrix(rows, len(SUBMISSION_COLUMNS)), columns=list(SUBMISSION_COLUMNS))
    return frame.astype({"participant": np.int64, "wave": int, "likert_answered": int, "attention_answered": int,
                         "attention_failed": int})


def store_wave_quality(*, run: AnalysisRun, wave: Wave) -> None:
    """Replace the wave's stored quality flags and update the flagged participants it touches.
    Call after the wave's `SubmissionQuality` rows are stored, in the same transaction."""
    frame = wave_submissions_frame(wave_id=wave.pk)
    before = set(FlaggedSubmission.objects.filter(wave=wave).values_list("participant_id", flat=True))
    WaveQuality.objects.filter(wave=wave).delete()
    FlaggedSubmission.objects.filter(wave=wave).delete()
    summaries = []
    for share in SPEEDER_SHARES:
        flags = flag_submissions(frame, QualityRules(speeder_share=float(share)))
        # A wave without submissions still gets its rows: they say its quality was stored.
        for row in summarize_flags(flags).to_dict("records") or [
                {"submissions": 0, "completed": 0, "median_duration": None, **dict.fromkeys((*FLAGS, "flagged"), 0)}]:
            median = row["median_duration"]
            summaries.append(WaveQuality(
                study_id=wave.study_id, wave=wave, speeder_share=share, submissions=int(row["submissions"]),
                completed=int(row["completed"]), median_duration=None if pd.isna(median) else float(median),
                run=run, **{name: int(row[name]) for name in (*FLAGS, "flagged")}))
        if share == _LOOSEST:
            hit = flags[flags["flagged"]]
            flagged = [FlaggedSubmission(
                study_id=wave.study_id, wave=wave, participant_id=int(participant), attention=bool(attention),
                straightlining=bool(straight), duration_seconds=None if pd.isna(duration) else float(duration),
                median_duration=None if pd.isna(median) else float(median), run=run)
                for participant, attention, straight, duration, median in hit[
                    ["participant", "attention", "straightlining", "duration_seconds", "median_duration"]
                ].itertuples(index=False)]
    WaveQuality.objects.bulk_create(summaries)
    FlaggedSubmission.objects.bulk_create(flagged, batch_size=5000)
    update_participant_quality(study_id=wave.study_id,
                               participant_ids=before | {row.participant_id for row in flagged})


def _speeder(duration: float | None, median: float | None, share: str) -> bool:
    # As flag_submissions: duration < share * median, False when either is missing.
    return duration is not None and median is not None and duration < float(share) * median


def update_participant_quality(*, study_id: int, participant_ids: set[int]) -> None:
    """Recompute the `ParticipantQuality` rows of these participants from their flagged
    submissions in every wave."""
    ids = sorted(participant_ids)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        ParticipantQuality.objects.filter(participant_id__in=chunk).delete()
        public = dict(Participant.objects.filter(pk__in=chunk).values_list("pk", "public_id"))
        found: dict[tuple[int, str], dict] = {}
        rows = (FlaggedSubmission.objects.filter(participant_id__in=chunk).order_by("participant_id", "wave__number")
                .values_list("participant_id", "wave__number", "attention", "straightlining", "duration_seconds",
                             "median_duration"))
        for participant, number, attention, straight, duration, median in rows:
            for share in SPEEDER_SHARES:
                marks = {"attention": attention, "speeder": _speeder(duration, median, share),
                         "straightlining": straight}
                if not any(marks.values()):
                    continue
                entry = found.setdefault((participant, share), defaultdict(list))
                entry["flagged_waves"].append(number)
                for flag, marked in marks.items():
                    if marked:
                        entry[flag].append(number)
        ParticipantQuality.objects.bulk_create([
            ParticipantQuality(study_id=study_id, participant_id=participant, public_id=public[participant],
                               speeder_share=share, flagged_waves=len(entry["flagged_waves"]),
                               **{flag: " ".join(map(str, entry[flag])) for flag in FLAGS})
            for (participant, share), entry in found.items() if participant in public
        ], batch_size=5000)
    recount_flagged(study_id=study_id)


def recount_flagged(*, study_id: int) -> None:
    """Store how many `ParticipantQuality` rows the study has per speeder threshold (one grouped
    count, in the worker: the page then reads one row)."""
    counts = dict(ParticipantQuality.objects.filter(study_id=study_id).order_by().values("speeder_share")
                  .annotate(n=Count("id")).values_list("speeder_share", "n"))
    FlaggedParticipantCount.objects.bulk_create(
        [FlaggedParticipantCount(study_id=study_id, speeder_share=share, participants=counts.get(share, 0))
         for share in sorted({*SPEEDER_SHARES, *counts})],
        update_conflicts=True, unique_fields=["study", "speeder_share"], update_fields=["participants"])


_pending = threading.local()


def recount_flagged_on_commit(study_id: int) -> None:
    """Participants of `study_id` were deleted (and their `ParticipantQuality` rows with them):
    recount once after the transaction commits, however many were deleted."""
    pending = _pending.__dict__.setdefault("studies", set())
    if study_id in pending:
        return
    pending.add(study_id)

    def recount() -> None:
        pending.discard(study_id)
        if FlaggedParticipantCount.objects.filter(study_id=study_id).exists():
            recount_flagged(study_id=study_id)

    transaction.on_commit(recount)
