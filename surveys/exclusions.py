"""Excluding participants from analysis: a researcher's decision about the data (for example after
the data-quality screens), recorded with its reason, who and when. Excluded participants stay in
the study and its exports (on request, marked); `Participant.objects.analysable()` leaves them out.
"""

from __future__ import annotations

from django.db import transaction

from surveys import summaries
from surveys.models import Exclusion, Participant, Submission
from surveys.signals import answers_changed


def exclude_participants(*, study_id: int, public_ids: list[str], reason: str, by=None) -> list[Exclusion]:
    """Exclude the listed participants of a study from analysis.  # atomic; unknown ids raise ValueError and store nothing; participants already excluded are left as they are; sends answers_changed after commit when someone was excluded. Returns the new exclusions."""
    reason = (reason or "").strip()
    wanted = sorted(set(public_ids))
    if not wanted:
        raise ValueError("Choose at least one participant to exclude.")
    if not reason:
        raise ValueError("Give a reason for the exclusion.")
    if len(reason) > Exclusion._meta.get_field("reason").max_length:
        raise ValueError("The reason is too long (at most 200 characters).")
    with transaction.atomic():
        found = {p.public_id: p for p in Participant.objects.select_for_update()
                 .filter(study_id=study_id, public_id__in=wanted, is_preview=False)}
        unknown = [pid for pid in wanted if pid not in found]
        if unknown:
            raise ValueError(f"Not participants of this study: {', '.join(unknown[:10])}.")
        already = set(Exclusion.objects.filter(participant__in=found.values(), lifted_at__isnull=True)
                      .values_list("participant__public_id", flat=True))
        with summaries.tracking(p.pk for p in found.values()):
            created = Exclusion.objects.bulk_create([
                Exclusion(participant=found[pid], reason=reason, excluded_by=by) for pid in wanted if pid not in already
            ])
        if created:
            # Results of every wave with answers name the exclusions they applied: all are stale.
            wave_ids = sorted(set(Submission.objects.filter(wave__study_id=study_id).values_list("wave_id", flat=True)))
            transaction.on_commit(lambda: answers_changed.send(
                sender=Exclusion, study_id=study_id, wave_ids=wave_ids, deleted=False))
    return created
