"""Effects are estimated and stored after the indices of a post-intervention wave."""

import pytest

from analysis.models import AnalysisRun, EffectEstimate
from analysis.pipeline import effects, inputs

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(demo_study):
    return demo_study


def test_seed_demo_stores_effects_of_the_intervention_arm(demo):
    assert inputs.intervention_wave_of(study_id=demo.pk) == 3
    run = AnalysisRun.objects.filter(study=demo, kind="effects", status="done").get()
    assert run.parameters["rows"] == EffectEstimate.objects.filter(study=demo).count() > 0
    pooled = EffectEstimate.objects.get(study=demo, arm__name="intervention", outcome="value", item__code="threat",
                                        wave__isnull=True, method="twfe")
    assert pooled.ci_low <= pooled.estimate <= pooled.ci_high and 0 <= pooled.p_holm <= 1
    # one estimate per post wave (durability) for an index, a pooled one, and a placebo check
    # per pre wave: against the mean of the two pre waves, so the two placebos cancel
    per_wave = EffectEstimate.objects.filter(study=demo, outcome="mad_pairwise", item__code="threat",
                                             method="did_bootstrap", sample="all", group="all")
    assert sorted(per_wave.exclude(wave__isnull=True).values_list("wave__number", flat=True)) == [1, 2, 3, 4, 5]
    placebo = dict(per_wave.filter(wave__number__lt=3).values_list("wave__number", "estimate"))
    assert placebo[1] == pytest.approx(-placebo[2], abs=1e-12)
    pooled_placebo = EffectEstimate.objects.filter(study=demo, outcome="mad_pairwise", item__isnull=True,
                                                   method="did_bootstrap", sample="all", group="all",
                                                   wave__number__lt=3)
    assert pooled_placebo.count() == 2  # the pooled-index event study has its placebo points too
    assert per_wave.filter(wave__isnull=True).count() == 1
    # within each group, pooled over items, and the across-item indices
    groups = set(EffectEstimate.objects.filter(study=demo, outcome="mad_pairwise", item__code="threat",
                                               method="did_bootstrap", sample="all").values_list("group", flat=True))
    assert groups == {"all", "side:1", "side:2"}
    for outcome, group in (("mad_pairwise", "all"), ("constraint", "all"), ("constraint", "side:1"),
                           ("alignment", "side:1|side:2")):
        rows = EffectEstimate.objects.filter(study=demo, outcome=outcome, item__isnull=True, group=group,
                                             method="did_bootstrap", sample="all", arm__name="intervention")
        assert rows.count() == 6, (outcome, group)  # placebo waves 1, 2, waves 3, 4, 5 and pooled
        assert all(row.ci_low <= row.estimate <= row.ci_high for row in rows), (outcome, group)
    primary = EffectEstimate.objects.filter(study=demo, is_primary=True)
    assert set(primary.values_list("outcome", flat=True)) == {"mad_pairwise"}


def test_rerunning_effects_on_unchanged_answers_is_skipped(demo):
    before = list(EffectEstimate.objects.filter(study=demo).order_by("pk").values_list("estimate", "ci_low"))
    run = effects.compute_study_effects(study_id=demo.pk)
    assert run.status == "skipped"
    assert list(EffectEstimate.objects.filter(study=demo).order_by("pk").values_list("estimate", "ci_low")) == before


def test_the_study_answers_are_every_waves_answers_in_compact_columns(demo):
    import pandas as pd

    study_inputs = inputs.read_study_inputs(study=demo)
    compact = study_inputs.answers
    waves = [inputs.wave_answers_frame(study_id=demo.pk, wave_id=wave.pk, items=study_inputs.items,
                                       wave_number=wave.number) for wave in study_inputs.waves]
    expected = pd.concat(waves, ignore_index=True)
    assert list(compact.columns) == list(expected.columns) and len(compact) == len(expected) > 0
    for column in ("participant", "item", "arm", *study_inputs.items.grouping):
        assert isinstance(compact[column].dtype, pd.CategoricalDtype)
        assert compact[column].astype(object).where(compact[column].notna(), None).tolist() == \
            expected[column].astype(object).where(expected[column].notna(), None).tolist()
    assert compact["wave"].tolist() == expected["wave"].tolist()
    assert compact["value"].to_numpy().tobytes() == expected["value"].to_numpy().tobytes()
