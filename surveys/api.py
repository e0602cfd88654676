"""REST API of the study design and the collected data: studies, items, waves, arms,
participants and answers. Who may read and write what is decided in `common.access` (see its
roles table); the plumbing every endpoint shares is in `common.api`.
"""

from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, viewsets
from rest_framework.permissions import SAFE_METHODS

from common import access, group_keys
from common.api import (
    ApiMixin,
    IdCursorPagination,
    IntegerFilter,
    StudyListApi,
    StudyScopedMixin,
    parse_bool,
)
from surveys import serializers
from surveys.models import Arm, DesignChange, Exclusion, Item, Participant, Response, Study, Wave
from surveys.spec.service import logging_design_changes

# --- Studies, items, waves, arms --------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Your studies"),
    create=extend_schema(summary="Create a study (you become its owner)"),
    retrieve=extend_schema(summary="One study"),
    update=extend_schema(summary="Edit a study (owners)"),
    partial_update=extend_schema(summary="Edit a study (owners)"),
)
class StudyViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = serializers.StudySerializer
    lookup_field = "slug"
    queryset = Study.objects.none()

    def get_queryset(self):
        return access.studies_for(self.request.user).order_by("slug")

    def get_object(self):
        roles = access.may_see_study if self.request.method in SAFE_METHODS else access.may_edit_design
        return access.get_member_study(self.request.user, self.kwargs["slug"], roles=roles)

    def perform_update(self, serializer):
        with logging_design_changes(serializer.instance, user=self.request.user, source=DesignChange.Source.API):
            super().perform_update(serializer)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "list":
            context["roles"] = access.roles_by_study(self.request.user)
        return context


class StudyChildViewSet(StudyScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(study=self.study)

    def perform_create(self, serializer):
        with logging_design_changes(self.study, user=self.request.user, source=DesignChange.Source.API):
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with logging_design_changes(self.study, user=self.request.user, source=DesignChange.Source.API):
            super().perform_update(serializer)

    def get_object(self):
        obj = self.get_queryset().filter(**{self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}).first()
        if obj is None:
            raise exceptions.NotFound(f"No {self.model._meta.verbose_name} {self.kwargs[self.lookup_field]!r} in this study.")
        return obj


@extend_schema_view(
    list=extend_schema(summary="Items of a study"),
    create=extend_schema(summary="Add an item (owners)"),
    retrieve=extend_schema(summary="One item"),
    update=extend_schema(summary="Edit an item (owners; the scale is frozen once answered)"),
    partial_update=extend_schema(summary="Edit an item (owners; the scale is frozen once answered)"),
)
class ItemViewSet(StudyChildViewSet):
    model = Item
    serializer_class = serializers.ItemSerializer
    lookup_field = "code"

    def get_queryset(self):
        return super().get_queryset().order_by("order", "id")


@extend_schema_view(
    list=extend_schema(summary="Waves of a study"),
    create=extend_schema(summary="Add a wave (owners)"),
    retrieve=extend_schema(summary="One wave"),
    update=extend_schema(summary="Edit a wave (owners)"),
    partial_update=extend_schema(summary="Edit a wave (owners)"),
)
class WaveViewSet(StudyChildViewSet):
    model = Wave
    serializer_class = serializers.WaveSerializer
    lookup_field = "number"

    def get_queryset(self):
        return super().get_queryset().order_by("number").prefetch_related("items")


@extend_schema_view(
    list=extend_schema(summary="Arms of a study"),
    create=extend_schema(summary="Add an arm (owners)"),
    retrieve=extend_schema(summary="One arm"),
    update=extend_schema(summary="Edit an arm (owners)"),
    partial_update=extend_schema(summary="Edit an arm (owners)"),
)
class ArmViewSet(StudyChildViewSet):
    model = Arm
    serializer_class = serializers.ArmSerializer
    lookup_field = "name"


# --- Participants and responses ------------------------------------------------------------------


def group_q(key: str, study: Study, prefix: str = "") -> Q:
    """The filter for a group key: `all`, `arm:<name>` or `<grouping code>:<value>`."""
    key = (key or "").strip()
    if not key:
        return Q()
    try:
        group = group_keys.parse(key, pairs=False)
    except ValueError as error:
        raise exceptions.ValidationError({"group": [str(error)]}) from None
    if group.is_all:
        return Q()
    code, value = group.column, group.value
    if code == group_keys.ARM:
        return Q(**{f"{prefix}arm__name": value})
    if not Item.objects.filter(study=study, role=Item.Role.GROUPING, code=code).exists():
        raise exceptions.ValidationError({"group": [f"{code!r} is not a grouping item."]})
    lookup = f"{prefix}groups__{code}"
    options = Q()
    for stored in group_keys.stored_values(value):
        options |= Q(**{lookup: stored})
    return options


class ParticipantFilter(filters.FilterSet):
    arm = filters.CharFilter(field_name="arm__name", help_text="Arm name.")
    status = filters.ChoiceFilter(choices=[("active", "active"), ("withdrawn", "withdrawn"), ("excluded", "excluded")])
    group = filters.CharFilter(method="filter_group", help_text="all, arm:<name> or <grouping code>:<value>.")

    class Meta:
        model = Participant
        fields = ["arm", "status", "group"]

    def filter_group(self, queryset, name, value):
        return queryset.filter(group_q(value, self.request.parser_context["view"].study))


def participants_with_status(study: Study):
    excluded = Exclusion.objects.filter(participant=OuterRef("pk"), lifted_at__isnull=True)

    return (Participant.objects.filter(study=study, is_preview=False)
            .annotate(is_excluded=Exists(excluded), arm_name=F("arm__name"))
            .annotate(status=Case(When(withdrawn_at__isnull=False, then=Value("withdrawn")),
                                  When(is_excluded=True, then=Value("excluded")),
                                  default=Value("active"), output_field=CharField())))


@extend_schema_view(list=extend_schema(
    summary="Participants (owners and analysts); previews never appear",
    parameters=[OpenApiParameter("include_external_id", bool, description="Owners only: add external_id.")],
))
class ParticipantListApi(StudyListApi):
    read_roles = access.may_read_participant_data
    serializer_class = serializers.ParticipantSerializer
    filterset_class = ParticipantFilter
    queryset = Participant.objects.none()

    def rows(self, study):
        return participants_with_status(study).order_by("joined_at", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["include_external_id"] = self.option("include_external_id", needs=access.may_see_external_ids)
        return context


class ResponseFilter(filters.FilterSet):
    wave = IntegerFilter(field_name="submission__wave__number", help_text="Wave number.")
    item = filters.CharFilter(field_name="item__code", help_text="Item code.")
    arm = filters.CharFilter(field_name="submission__participant__arm__name", help_text="Arm name.")
    group = filters.CharFilter(method="filter_group", help_text="all, arm:<name> or <grouping code>:<value>.")

    class Meta:
        model = Response
        fields = ["wave", "item", "arm", "group"]

    def filter_group(self, queryset, name, value):
        return queryset.filter(group_q(value, self.request.parser_context["view"].study,
                                       prefix="submission__participant__"))


def response_rows(study: Study, *, include_excluded: bool):
    """Answers of a study in long format (dicts); previews never, excluded and withdrawn
    participants only when asked for."""
    participants = Participant.objects.filter(study=study, is_preview=False)
    if not include_excluded:
        participants = participants.analysable()
    return (Response.objects.filter(submission__participant__in=participants, submission__wave__study=study)
            .values("id", "value", "text", "missing", "answered_at", "response_time_ms",
                    participant=F("submission__participant__public_id"), wave=F("submission__wave__number"),
                    arm=F("submission__participant__arm__name"), groups=F("submission__participant__groups"),
                    item_code=F("item__code")))


@extend_schema_view(list=extend_schema(
    summary="Answers in long format (owners and analysts), cursor paginated",
    parameters=[OpenApiParameter("include_excluded", bool, description="Add excluded and withdrawn participants.")],
))
class ResponseListApi(StudyListApi):
    read_roles = access.may_read_participant_data
    serializer_class = serializers.ResponseRowSerializer
    pagination_class = IdCursorPagination
    filterset_class = ResponseFilter
    queryset = Response.objects.none()

    def rows(self, study):
        return response_rows(study, include_excluded=parse_bool(self.request, "include_excluded"))
