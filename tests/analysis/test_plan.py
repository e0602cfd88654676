"""The analysis plan: owners declare it while the study is a draft, launch freezes it (hash and
time), and the effects split planned (Holm across the plan) from exploratory estimates."""

import pytest

from analysis.models import AnalysisPlan, EffectEstimate
from analysis.planning import PlanError, freeze_plan, frozen_plan, save_plan
from analysis.stats.plan import Plan, PlannedOutcome
from surveys.models import Membership, Study
from tests.factories import ArmFactory, ItemFactory, MembershipFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(db):
    study = StudyFactory(slug="planned", status=Study.Status.DRAFT)
    ItemFactory(study=study, code="q1")
    ArmFactory(study=study, name="control", is_control=True)
    ArmFactory(study=study, name="t1")
    return study


PLAN = Plan(outcomes=(PlannedOutcome("mad_pairwise"), PlannedOutcome("value", item="q1")), contrasts=("t1",))


def test_launch_freezes_the_plan_with_its_hash_and_time(draft):
    record = save_plan(study=draft, plan=PLAN)
    assert not record.is_frozen and record.frozen_hash == ""
    draft.status = Study.Status.ACTIVE
    draft.save()
    record.refresh_from_db()
    assert record.is_frozen and record.frozen_hash == PLAN.fingerprint()
    assert record.to_dict()["hash"] == PLAN.fingerprint() and record.to_dict()["outcomes"][1]["item"] == "q1"
    with pytest.raises(PlanError, match="frozen"):
        save_plan(study=draft, plan=Plan())
    frozen_at = record.frozen_at
    assert freeze_plan(study=draft).frozen_at == frozen_at  # freezing twice changes nothing


def test_a_plan_that_does_not_fit_the_study_is_refused_and_nothing_is_stored(draft):
    with pytest.raises(PlanError, match="unknown arm 'nope'"):
        save_plan(study=draft, plan=Plan(outcomes=(PlannedOutcome("mean"),), contrasts=("nope",)))
    assert not AnalysisPlan.objects.exists()


def test_a_plan_of_a_study_launched_by_a_bulk_update_is_frozen_when_read(draft):
    save_plan(study=draft, plan=PLAN)
    Study.objects.filter(pk=draft.pk).update(status=Study.Status.ACTIVE)  # no signal
    draft.refresh_from_db()
    assert frozen_plan(study=draft) == PLAN
    assert AnalysisPlan.objects.get().frozen_hash == PLAN.fingerprint()


def test_owners_write_the_plan_others_read_it(client, draft):
    owner = MembershipFactory(study=draft).user
    analyst = MembershipFactory(study=draft, role=Membership.Role.ANALYST).user
    form = {"outcome_1": "mad_pairwise", "item_1": "pooled", "group_1": "all", "contrasts": ["t1"], "notes": "x"}
    client.force_login(analyst)
    assert client.get("/studies/planned/plan/").status_code == 200
    assert client.post("/studies/planned/plan/", form).status_code == 403
    assert not AnalysisPlan.objects.exists()
    client.force_login(owner)
    response = client.post("/studies/planned/plan/", form)
    assert response.status_code == 302
    assert AnalysisPlan.objects.get().plan() == Plan(outcomes=(PlannedOutcome("mad_pairwise"),), contrasts=("t1",),
                                                   notes="x")
    bad = client.post("/studies/planned/plan/", {**form, "outcome_1": "value"})  # answers are never pooled
    assert bad.status_code == 400 and b"never pooled" in bad.content
    draft.status = Study.Status.ACTIVE
    draft.save()
    page = client.get("/studies/planned/plan/").content.decode()
    assert "Frozen" in page and AnalysisPlan.objects.get().frozen_hash in page and "plan-form" not in page
    assert client.post("/studies/planned/plan/", form).status_code == 400


def test_the_effects_pipeline_marks_the_planned_rows_and_adjusts_across_them(demo_study):
    from analysis.pipeline.effects import compute_study_effects

    AnalysisPlan.objects.create(study=demo_study, content=Plan(outcomes=(
        PlannedOutcome("mad_pairwise"), PlannedOutcome("value", item="threat"))).to_dict())
    compute_study_effects(study_id=demo_study.pk)
    planned = EffectEstimate.objects.filter(study=demo_study, is_primary=True)
    assert sorted(planned.values_list("outcome", "item__code", "method", "wave", "sample", "group")) == [
        ("mad_pairwise", None, "did_bootstrap", None, "all", "all"), ("value", "threat", "twfe", None, "all", "all")]
    p = sorted(planned.values_list("p_value", flat=True))
    # Holm over the two planned p-values: min(1, 2 p_(1)), then max(that, p_(2))
    expected = sorted([min(1.0, 2 * p[0]), max(min(1.0, 2 * p[0]), p[1])])
    assert sorted(planned.values_list("p_plan_holm", flat=True)) == pytest.approx(expected)
    assert not EffectEstimate.objects.filter(study=demo_study, is_primary=False, p_plan_holm__isnull=False).exists()
    assert AnalysisPlan.objects.get().is_frozen  # the demo study is active: the plan froze
