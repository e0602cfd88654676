"""The analysis plan's life: declared while the study is a draft, frozen (hash and time) when it
launches, read by the effects pipeline, the effects page, the exports and the report.

`save_plan(*, study, plan, by) -> AnalysisPlan  # atomic; refuses a frozen plan or a launched study`
`freeze_plan(*, study) -> AnalysisPlan | None  # idempotent; called when the study leaves draft`
"""

from django.db import transaction
from django.utils import timezone

from analysis.models import AnalysisPlan
from analysis.stats.plan import Plan
from surveys.models import Arm, Item, Study


class PlanError(ValueError):
    """The plan cannot be saved: frozen, launched study, or it does not fit the study."""


def plan_of(*, study: Study) -> AnalysisPlan | None:
    return AnalysisPlan.objects.filter(study=study).first()


def frozen_plan(*, study: Study) -> Plan | None:
    """The plan the effects are split by: frozen, or declared on a study that has launched
    (frozen on the way; a status changed by a bulk update sends no signal)."""
    record = plan_of(study=study)
    if record is None:
        return None
    if not record.is_frozen and study.status != Study.Status.DRAFT:
        record = freeze_plan(study=study)
    return record.plan() if record is not None and record.is_frozen else None


def plan_problems(*, study: Study, plan: Plan) -> list[str]:
    items = list(Item.objects.filter(study=study, role=Item.Role.ATTITUDE).values_list("code", flat=True))
    arms = list(Arm.objects.filter(study=study).values_list("name", "is_control"))
    control = next((name for name, is_control in arms if is_control), None)
    return plan.problems(items=items, arms=[name for name, _c in arms], control=control)


def save_plan(*, study: Study, plan: Plan, by=None) -> AnalysisPlan:
    """Store `plan` as the study's analysis plan; PlanError when it is frozen, the study has
    launched, or the plan names outcomes, items or arms the study does not have."""
    problems = plan_problems(study=study, plan=plan)
    if problems:
        raise PlanError("; ".join(problems))
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        record, _created = AnalysisPlan.objects.get_or_create(study=locked)
        if record.is_frozen or locked.status != Study.Status.DRAFT:
            raise PlanError(f"The analysis plan was frozen when the study launched"
                            f"{f' ({record.frozen_at:%Y-%m-%d %H:%M} UTC)' if record.frozen_at else ''}; "
                            "it cannot change.")
        record.content, record.updated_by = plan.to_dict(), by
        record.save()
    return record


def freeze_plan(*, study: Study) -> AnalysisPlan | None:
    """Freeze the study's plan with its SHA-256 and the time; a frozen plan stays as it is."""
    with transaction.atomic():
        record = AnalysisPlan.objects.select_for_update().filter(study=study).first()
        if record is None or record.is_frozen:
            return record
        record.frozen_hash = Plan.from_dict(record.content).fingerprint()
        record.frozen_at = timezone.now()
        record.save(update_fields=["frozen_hash", "frozen_at"])
    return record
