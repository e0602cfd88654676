"""Serializers of the results endpoints (indices, effects) of the REST API."""

from rest_framework import serializers

from analysis.models import EffectEstimate, IndexResult
from surveys.serializers import FiniteFloatField


class IndexResultSerializer(serializers.ModelSerializer):
    wave = serializers.IntegerField(source="wave.number", help_text="Wave number.")
    item = serializers.CharField(source="item.code", allow_null=True, default=None,
                                 help_text="Item code; null = pooled over attitude items.")
    value = FiniteFloatField(allow_null=True)
    ci_low = FiniteFloatField(allow_null=True)
    ci_high = FiniteFloatField(allow_null=True)
    run = serializers.IntegerField(source="run_id", help_text="The analysis run that computed this row.")

    class Meta:
        model = IndexResult
        fields = ["wave", "item", "group", "index", "value", "ci_low", "ci_high", "n", "computed_at", "run"]


class EffectEstimateSerializer(serializers.ModelSerializer):
    arm = serializers.CharField(source="arm.name")
    item = serializers.CharField(source="item.code", allow_null=True, default=None)
    wave = serializers.IntegerField(source="wave.number", allow_null=True, default=None,
                                    help_text="Wave number; null = pooled over the waves after the intervention.")
    estimate = FiniteFloatField(allow_null=True)
    se = FiniteFloatField(allow_null=True)
    ci_low = FiniteFloatField(allow_null=True)
    ci_high = FiniteFloatField(allow_null=True)
    p_value = FiniteFloatField(allow_null=True)
    p_holm = FiniteFloatField(allow_null=True)
    p_ri = FiniteFloatField(allow_null=True)
    primary = serializers.BooleanField(source="is_primary")
    analysis = serializers.SerializerMethodField(
        help_text="planned (an outcome and contrast of the analysis plan frozen at launch, or the study's primary "
                  "outcome) or exploratory.")
    p_plan_holm = FiniteFloatField(allow_null=True, help_text="Holm-adjusted p-value across the planned estimates "
                                                              "only; null for exploratory estimates.")
    run = serializers.IntegerField(source="run_id")

    class Meta:
        model = EffectEstimate
        fields = ["arm", "outcome", "item", "wave", "method", "group", "sample", "estimate", "se", "ci_low",
                  "ci_high", "p_value", "p_holm", "p_ri", "n", "attrition_warning", "primary", "analysis",
                  "p_plan_holm", "run"]

    def get_analysis(self, estimate) -> str:
        return "planned" if estimate.is_primary else "exploratory"


class RecomputeRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    wave = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()


class RecomputeSerializer(serializers.Serializer):
    study = serializers.CharField()
    run_ids = serializers.ListField(child=serializers.IntegerField())
    runs = RecomputeRunSerializer(many=True)
