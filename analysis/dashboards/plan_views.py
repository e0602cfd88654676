"""The analysis plan page: any member reads it; an owner declares primary outcomes and contrasts
while the study is a draft (`common.access.may_edit_plan`); launch freezes it."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from analysis.planning import PlanError, plan_of, save_plan
from analysis.stats import glossary
from analysis.stats.plan import ALL_GROUPS, PLANNABLE, POOLED_ITEM, Plan, PlannedOutcome
from common import access
from surveys.models import Arm, Item, Study

ROWS = 6


class PlanForm(forms.Form):
    contrasts = forms.MultipleChoiceField(
        label="Contrasts (each against control)", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every intervention arm against control.")
    notes = forms.CharField(label="Notes (hypotheses, direction expected)", required=False, max_length=4000,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, items: list[str], arms: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contrasts"].choices = [(a, a) for a in arms]
        outcome_choices = [("", "—")] + [(o, glossary.label(o)) for o in PLANNABLE]
        item_choices = [(POOLED_ITEM, "all items pooled")] + [(code, code) for code in items]
        for row in range(1, ROWS + 1):
            self.fields[f"outcome_{row}"] = forms.ChoiceField(label=f"Primary outcome {row}", required=False,
                                                              choices=outcome_choices)
            self.fields[f"item_{row}"] = forms.ChoiceField(label=f"Item {row}", required=False, choices=item_choices)
            self.fields[f"group_{row}"] = forms.CharField(
                label=f"Group {row}", required=False, max_length=200, initial=ALL_GROUPS,
                help_text="all, or a group key such as side:1 (within-group estimates)")

    def rows(self):
        return [(self[f"outcome_{r}"], self[f"item_{r}"], self[f"group_{r}"]) for r in range(1, ROWS + 1)]

    def plan(self) -> Plan:
        data = self.cleaned_data
        outcomes = tuple(PlannedOutcome(data[f"outcome_{r}"], data[f"item_{r}"] or POOLED_ITEM,
                                        (data[f"group_{r}"] or ALL_GROUPS).strip())
                         for r in range(1, ROWS + 1) if data.get(f"outcome_{r}"))
        return Plan(outcomes=outcomes, contrasts=tuple(data["contrasts"]), notes=data["notes"])


def _initial(plan: Plan) -> dict:
    initial = {"contrasts": list(plan.contrasts), "notes": plan.notes}
    for row, outcome in enumerate(plan.outcomes[:ROWS], start=1):
        initial.update({f"outcome_{row}": outcome.outcome, f"item_{row}": outcome.item, f"group_{row}": outcome.group})
    return initial


@login_required
def study_plan(request, slug: str):
    study = access.get_member_study(request.user, slug)
    record = plan_of(study=study)
    plan = record.plan() if record else Plan()
    items = list(Item.objects.filter(study=study, role=Item.Role.ATTITUDE).order_by("order", "id")
                 .values_list("code", flat=True))
    arms = list(Arm.objects.filter(study=study, is_control=False).values_list("name", flat=True))
    editable = study.status == Study.Status.DRAFT and not (record and record.is_frozen)
    may_edit = access.may_edit_plan(request.user, study)
    status, error = 200, None
    if request.method == "POST":
        access.may_edit_plan.require(request.user, study)
        form = PlanForm(request.POST, items=items, arms=arms)
        if form.is_valid():
            try:
                save_plan(study=study, plan=form.plan(), by=request.user)
            except PlanError as exc:
                error, status = str(exc), 400
            else:
                messages.success(request, "Analysis plan saved; it will be frozen when the study launches.")
                return redirect("study-plan", slug=study.slug)
        else:
            status = 400
    else:
        form = PlanForm(initial=_initial(plan), items=items, arms=arms)
    return render(request, "analysis/plan.html", {
        "study": study, "page": "plan", "record": record, "plan": plan, "form": form, "error": error,
        "can_edit": editable and may_edit, "editable": editable,
    }, status=status)
