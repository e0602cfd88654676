"""Serializers of the study-design and data endpoints of the REST API (docs/contracts.md).

Writes go through the models' own validation (`full_clean`: `clean()`, field validators and
constraints), so the API refuses what the admin refuses, e.g. a scale edit once answers exist.
"""

import copy
import math

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from rest_framework import serializers

from common import access
from surveys.models import Arm, Item, Membership, Study, Wave


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        detail = {("non_field_errors" if key == "__all__" else key): messages
                  for key, messages in exc.message_dict.items()}
        return serializers.ValidationError(detail)
    return serializers.ValidationError({"non_field_errors": exc.messages})


class FiniteFloatField(serializers.FloatField):
    """A float that reads NaN and infinities as null, so JSON stays valid."""

    def to_representation(self, value):
        if value is None:
            return None
        value = float(value)
        return value if math.isfinite(value) else None


class ModelCleanSerializer(serializers.ModelSerializer):
    """Validates a write by building the instance and calling its `full_clean()`; saves that
    instance (plus many-to-many fields) in one transaction, mapping database refusals to 400."""

    m2m_fields: tuple[str, ...] = ()

    def build_standard_field(self, field_name, model_field):
        # SQLite stores any integer; PostgreSQL refuses one outside the column's range with a
        # DataError. Bound integers here so both answer 400.
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.IntegerField):
            small = isinstance(model_field, models.SmallIntegerField | models.PositiveSmallIntegerField)
            big = isinstance(model_field, models.BigIntegerField | models.PositiveBigIntegerField)
            bound = 32767 if small else (2**63 - 1 if big else 2**31 - 1)
            field_kwargs["max_value"] = min(field_kwargs.get("max_value") or bound, bound)
        return field_class, field_kwargs

    def _parent(self) -> dict:
        return {}

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model(**self._parent())
        for field, value in attrs.items():
            if field not in self.m2m_fields:
                setattr(instance, field, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            # A value of the right JSON type but the wrong shape deep inside (e.g. a list where
            # the model expects text): refuse it rather than fail.
            raise serializers.ValidationError({"non_field_errors": [f"Invalid value: {exc}"]}) from None
        self._cleaned = instance
        return attrs

    def _save(self, validated_data):
        instance = self._cleaned
        try:
            with transaction.atomic():
                instance.save()
                for field in self.m2m_fields:
                    if field in validated_data:
                        getattr(instance, field).set(validated_data[field])
        except IntegrityError as exc:
            # A database trigger or constraint (e.g. the frozen scale) refused the write.
            raise serializers.ValidationError({"non_field_errors": [f"The database refused this change: {exc}".strip()]}) from None
        return instance

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        saved = self._save(validated_data)
        instance.__dict__.update(saved.__dict__)
        return instance


def _texts_per_language(value, name: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise serializers.ValidationError(f'Give {name} as texts per language, e.g. {{"en": "..."}}.')
    return value


class StudySerializer(ModelCleanSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this study.")

    class Meta:
        model = Study
        fields = ["slug", "title", "description", "status", "languages", "completion_url", "completion_text",
                  "items_per_page", "retention_days", "primary_outcome", "created_at", "role"]
        read_only_fields = ["created_at"]

    def get_role(self, study) -> str | None:
        roles = self.context.get("roles") or {}  # the list's roles, read at once
        if study.pk in roles:
            return roles[study.pk]
        return access.member_role(self.context["request"].user, study)

    def validate_languages(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise serializers.ValidationError('Give a list of language codes, e.g. ["en", "de"].')
        return value

    def validate_completion_text(self, value):
        return _texts_per_language(value, "completion_text")

    def validate_slug(self, value):
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("A study's slug cannot change: it is part of its URLs.")
        return value

    def create(self, validated_data):
        with transaction.atomic():
            study = super().create(validated_data)
            Membership.objects.create(study=study, user=self.context["request"].user, role=Membership.Role.OWNER)
        return study


class StudyChildSerializer(ModelCleanSerializer):
    """Items, waves and arms: the study comes from the URL, never from the body."""

    def _parent(self) -> dict:
        return {"study": self.context["study"]}


class ItemSerializer(StudyChildSerializer):
    k = serializers.IntegerField(read_only=True, allow_null=True, help_text="Number of scale points.")
    has_answers = serializers.SerializerMethodField(help_text="True once answers exist: the scale is frozen.")
    waves = serializers.SerializerMethodField(help_text="Numbers of the waves that ask this item.")

    class Meta:
        model = Item
        fields = ["code", "prompt", "kind", "role", "scale_min", "scale_max", "step", "k", "labels", "dont_know",
                  "expected_answer", "reverse_coded", "order", "waves", "has_answers", "group", "stem", "none_option"]
        # A matrix's or multiple-choice question's items are written through the study spec.
        read_only_fields = ["group", "stem", "none_option"]

    def validate_labels(self, value):
        if value in (None, ""):
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(lang, str) and isinstance(labels, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
            for lang, labels in value.items()
        ):
            raise serializers.ValidationError('Give value labels per language: {"en": {"1": "Strongly disagree"}}.')
        return value

    def get_has_answers(self, item) -> bool:
        return item.has_answers()

    def get_waves(self, item) -> list[int]:
        return sorted(item.waves.values_list("number", flat=True))


class WaveSerializer(StudyChildSerializer):
    m2m_fields = ("items",)
    items = serializers.SlugRelatedField(slug_field="code", many=True, required=False, queryset=Item.objects.none(),
                                         help_text="Codes of the items this wave asks.")

    class Meta:
        model = Wave
        fields = ["number", "opens_at", "closes_at", "state", "items"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        study = self.context.get("study")
        if study is not None:
            self.fields["items"].child_relation.queryset = Item.objects.filter(study=study)


class ArmSerializer(StudyChildSerializer):
    class Meta:
        model = Arm
        fields = ["name", "allocation_weight", "is_control"]


class ParticipantSerializer(serializers.Serializer):
    """A participant as researchers see it: pseudonymous id, never the link token."""

    id = serializers.CharField(source="public_id", help_text="Pseudonymous id, as in exports.")
    arm = serializers.CharField(source="arm_name", allow_null=True)
    status = serializers.ChoiceField(choices=["active", "withdrawn", "excluded"])
    groups = serializers.DictField(help_text="Grouping answers: {item code: value}.")
    language = serializers.CharField()
    joined_at = serializers.DateTimeField()
    consented_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    external_id = serializers.CharField(required=False, help_text="Only with ?include_external_id=true (owners).")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("include_external_id"):
            data.pop("external_id", None)
        return data


class ResponseRowSerializer(serializers.Serializer):
    """One answer in long format."""

    participant = serializers.CharField(help_text="Pseudonymous participant id.")
    wave = serializers.IntegerField()
    item = serializers.CharField(source="item_code", help_text="Item code.")
    value = FiniteFloatField(allow_null=True, help_text="The answer on the item's scale (null for text or a missing code).")
    text = serializers.CharField(allow_blank=True)
    missing = serializers.CharField(allow_blank=True, help_text="dont_know, skipped or empty.")
    answered_at = serializers.DateTimeField()
    response_time_ms = serializers.IntegerField(allow_null=True)
    arm = serializers.CharField(allow_null=True)
    groups = serializers.DictField()
