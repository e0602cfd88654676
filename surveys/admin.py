"""Admin for building a study without code: a study page with inlines for members, consent,
items, waves and arms; waves with their interventions. Who may see and change what is decided
in `common.access`: staff who are not superusers see only the studies they are members of (in
lists, drop-downs and filters), and only a study's owners change its design."""

from contextlib import ExitStack

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import Count, Q

from common import access
from surveys import summaries
from surveys.models import (
    AllocationBlock,
    Arm,
    ConsentVersion,
    DataDeletion,
    DesignChange,
    Exclusion,
    ExportAudit,
    Intervention,
    Item,
    Membership,
    Message,
    MessageTemplate,
    Participant,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
)
from surveys.spec.service import (
    diff_specs,
    export_spec,
    is_launched,
    log_changes,
    logging_design_changes,
)


def study_rows(model, user, roles: access.Roles = access.may_see_study):
    """Rows of `model` (a study, or a row with a `study`) in the user's studies with `roles`;
    None for a model that belongs to no study."""
    if model is Study:
        return access.limit_to_studies(Study.objects.all(), user, path="", roles=roles)
    if any(field.name == "study" for field in model._meta.fields):
        return access.limit_to_studies(model._default_manager.all(), user, roles=roles)
    return None


def scoped_choices(db_field, request, kwargs: dict, roles: access.Roles) -> dict:
    """A form field's choices limited to the user's studies with `roles` (see `study_rows`)."""
    rows = study_rows(db_field.related_model, request.user, roles=roles)
    if rows is not None and "queryset" not in kwargs:
        kwargs["queryset"] = rows
    return kwargs


class MemberStudyListFilter(admin.RelatedFieldListFilter):
    """A filter by a study (or a row of one) that offers only the user's studies."""

    def field_choices(self, field, request, model_admin):
        rows = study_rows(field.related_model, request.user)
        if rows is None:
            return super().field_choices(field, request, model_admin)
        return [(row.pk, str(row)) for row in rows]


class PanelCountsAdmin:
    """Edits and deletions of participants, submissions and exclusions in the admin keep the
    panel counts and the stratum counts (`surveys.summaries`) exact, like every other write."""

    def _counted(self, obj) -> set[int]:
        if isinstance(obj, Participant):
            return {obj.pk} if obj.pk else set()
        ids = {obj.participant_id} if obj.participant_id else set()
        if obj.pk:
            ids |= set(type(obj).objects.filter(pk=obj.pk).values_list("participant_id", flat=True))
        return ids

    def save_model(self, request, obj, form, change):
        with summaries.tracking(self._counted(obj)):  # a new participant: counted by summaries.participant_saved
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with summaries.tracking(self._counted(obj)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        ids = set(queryset.values_list("pk" if queryset.model is Participant else "participant_id", flat=True))
        with summaries.tracking(ids):
            super().delete_queryset(request, queryset)


class StudyScopedAdmin(admin.ModelAdmin):
    """Rows, choices and permissions follow study membership, not Django's model permissions:
    any member may look; `edit` (a capability of `common.access`) decides who may add, change
    and delete, and which studies the forms offer."""

    study_path = "study"  # how to get from a row to its study ("" = the row is the study)
    see = access.may_see_study  # who may list and look at the rows
    edit = access.may_edit_design

    def study_of(self, obj):
        for part in filter(None, self.study_path.split("__")):
            obj = getattr(obj, part)
        return obj

    def get_queryset(self, request):
        return access.limit_to_studies(super().get_queryset(request), request.user, path=self.study_path,
                                       roles=self.see)

    def get_list_filter(self, request):
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry):
        if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation:
            return entry, MemberStudyListFilter
        return entry

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **scoped_choices(db_field, request, kwargs, self.edit))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **scoped_choices(db_field, request, kwargs, self.edit))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        if obj is None:
            return self.see is access.may_see_study or access.studies_for(request.user, roles=self.see).exists()
        return self.see(request.user, self.study_of(obj))

    def may_edit(self, request, obj=None) -> bool:
        """The user may change `obj`'s study; without obj: some study (the forms offer only those)."""
        if not self.has_module_permission(request):
            return False
        if obj is None:
            return access.studies_for(request.user, roles=self.edit).exists()
        return self.edit(request.user, self.study_of(obj))

    def has_add_permission(self, request, obj=None):
        return self.may_edit(request)

    def has_change_permission(self, request, obj=None):
        return self.may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.may_edit(request, obj)


class StudyInlineMixin:
    """Inline rows of a study page (obj is the parent study or wave): members may look, owners may
    edit; on the page of a new study, its creator (who will own it) fills them in."""

    def _study(self, obj):
        return getattr(obj, "study", obj)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return request.user.is_staff
        return access.may_see_study(request.user, self._study(obj))

    def has_add_permission(self, request, obj=None):
        if obj is None:
            return request.user.is_staff
        return access.may_edit_design(request.user, self._study(obj))

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = scoped_choices(db_field, request, kwargs, access.may_edit_design)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(StudyScopedAdmin):
    """Rows written by the platform, never by hand: shown, not added or changed (members who may
    edit the study may still delete them)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordAdmin(ReadOnlyAdmin):
    """A record that must outlive mistakes (randomization, deletions, audit): not deleted either."""

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(StudyInlineMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class ConsentVersionInline(StudyInlineMixin, admin.StackedInline):
    model = ConsentVersion
    extra = 0


class ItemInline(StudyInlineMixin, admin.TabularInline):
    model = Item
    extra = 0
    fields = ["order", "code", "prompt", "kind", "role", "scale_min", "scale_max", "step", "dont_know",
              "reverse_coded", "expected_answer"]
    show_change_link = True


class WaveInline(StudyInlineMixin, admin.TabularInline):
    model = Wave
    extra = 0
    fields = ["number", "opens_at", "closes_at", "state"]
    show_change_link = True


class ArmInline(StudyInlineMixin, admin.TabularInline):
    model = Arm
    extra = 0



class DesignLogAdmin(StudyScopedAdmin):
    """Design edits made here join a launched study's design change log, as the builder's do:
    the design before the save (with its inlines and many-to-many fields) against after."""

    def _study_of(self, obj) -> Study | None:
        return obj if isinstance(obj, Study) else getattr(obj, "study", None)

    def save_model(self, request, obj, form, change):
        study = self._study_of(obj) if change or not isinstance(obj, Study) else None
        request._design_before = (study, export_spec(study)) if study is not None and is_launched(study) else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_design_before", None)
        if before is not None:
            study, spec = before
            changes = diff_specs(spec, export_spec(Study.objects.get(pk=study.pk)))
            if changes:
                log_changes(study=study, changes=changes, user=request.user, source=DesignChange.Source.ADMIN)

    def delete_model(self, request, obj):
        study = self._study_of(obj)
        if study is None or isinstance(obj, Study):
            return super().delete_model(request, obj)
        with logging_design_changes(study, user=request.user, source=DesignChange.Source.ADMIN):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        studies = {study.pk: study for study in map(self._study_of, queryset) if study is not None}
        with ExitStack() as stack:
            for study in studies.values() if queryset.model is not Study else ():
                stack.enter_context(logging_design_changes(study, user=request.user, source=DesignChange.Source.ADMIN))
            super().delete_queryset(request, queryset)


@admin.register(Study)
class StudyAdmin(DesignLogAdmin):
    study_path = ""

    list_display = ["slug", "title", "status", "participant_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "title"]
    prepopulated_fields = {"slug": ["title"]}
    # Set by `import_responses` (repeated cross-sections and their weights), never by hand.
    readonly_fields = ["design", "weight_kind"]
    inlines = [MembershipInline, ConsentVersionInline, ArmInline, ItemInline, WaveInline]

    def get_queryset(self, request):
        # Enrolled: not previews, and they opened their personal link (as the dashboards count).
        enrolled = Q(participants__is_preview=False, participants__link_opened_at__isnull=False)
        return super().get_queryset(request).annotate(_participants=Count("participants", filter=enrolled,
                                                                          distinct=True))

    @admin.display(description="enrolled", ordering="_participants")
    def participant_count(self, study):
        return study._participants

    def has_add_permission(self, request, obj=None):
        return self.has_module_permission(request)  # any researcher may start a study and owns it

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and access.member_role(request.user, obj) is None:
            # Whoever creates a study owns it; otherwise they could not see it afterwards.
            Membership.objects.get_or_create(study=obj, user=request.user, defaults={"role": access.Role.OWNER})


@admin.register(Item)
class ItemAdmin(DesignLogAdmin):
    list_display = ["code", "study", "kind", "role", "group", "scale_min", "scale_max", "step", "order"]
    list_filter = ["study", "kind", "role"]
    search_fields = ["code"]


class InterventionInline(StudyInlineMixin, admin.StackedInline):
    model = Intervention
    extra = 0


@admin.register(Wave)
class WaveAdmin(DesignLogAdmin):
    list_display = ["__str__", "number", "opens_at", "closes_at", "state"]
    list_filter = ["study", "state"]
    filter_horizontal = ["items"]
    inlines = [InterventionInline]
    actions = ["close_now"]

    @admin.action(description="Close the selected waves now (queues their analysis)")
    def close_now(self, request, queryset):
        from surveys.scheduling import close_wave

        allowed = [wave.pk for wave in queryset if self.may_edit(request, wave)]
        closed = sum(close_wave(wave_id=wave_id) for wave_id in allowed)
        self.message_user(request, f"{closed} wave(s) closed.")


@admin.register(Arm)
class ArmAdmin(DesignLogAdmin):
    list_display = ["name", "study", "allocation_weight", "is_control"]
    list_filter = ["study"]


@admin.register(Participant)
class ParticipantAdmin(PanelCountsAdmin, StudyScopedAdmin):
    see = access.may_read_participant_data  # participant-level rows: not for viewers
    # Pseudonymous by default: the external id is not listed or searchable here.
    list_display = ["public_id", "study", "arm", "language", "joined_at", "consented_at", "withdrawn_at", "is_preview"]
    list_filter = ["study", "arm", "is_preview"]
    search_fields = ["public_id"]
    readonly_fields = ["public_id", "joined_at"]
    exclude = ["external_id", "external_study_id"]


@admin.register(ParticipantToken)
class ParticipantTokenAdmin(StudyScopedAdmin):
    study_path = "participant__study"
    see = access.may_read_participant_data  # participant-level rows: not for viewers
    list_display = ["participant", "created_at", "revoked_at"]
    readonly_fields = ["participant", "token_hash", "created_at"]

    def has_add_permission(self, request):
        return False  # tokens are issued by the participant flow, which shows the secret once


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0
    readonly_fields = ["item", "value", "text", "missing", "response_time_ms", "answered_at"]
    can_delete = False


@admin.register(Submission)
class SubmissionAdmin(PanelCountsAdmin, StudyScopedAdmin):
    study_path = "wave__study"
    see = access.may_read_participant_data  # participant-level rows: not for viewers
    list_display = ["participant", "wave", "started_at", "completed_at", "duration_seconds"]
    list_filter = ["wave__study", "wave__number"]
    readonly_fields = ["participant", "wave", "started_at"]
    inlines = [ResponseInline]


@admin.register(Exclusion)
class ExclusionAdmin(PanelCountsAdmin, StudyScopedAdmin):
    study_path = "participant__study"
    see = access.may_read_participant_data  # participant-level rows: not for viewers
    edit = access.may_exclude
    list_display = ["participant", "reason", "excluded_by", "created_at", "lifted_at"]
    raw_id_fields = ["participant"]
    readonly_fields = ["excluded_by"]  # whoever saves it

    def save_model(self, request, obj, form, change):
        if not change:
            obj.excluded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AllocationBlock)
class AllocationBlockAdmin(RecordAdmin):
    """The randomization record: read-only, written only by enrollment."""

    list_display = ["study", "stratum", "number", "used", "created_at"]
    list_filter = ["study"]
    readonly_fields = ["study", "stratum", "number", "sequence", "used", "created_at"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(DesignLogAdmin):
    """A study's own wording of invitations and reminders per language (else the built-in text)."""

    list_display = ["study", "kind", "language", "subject"]
    list_filter = ["study", "kind", "language"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """The record of invitations and reminders: read-only (e-mail addresses are not shown)."""

    study_path = "wave__study"
    see = access.may_read_participant_data
    list_display = ["participant", "wave", "kind", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["wave__study", "kind", "status"]
    readonly_fields = ["participant", "wave", "kind", "status", "attempts", "created_at", "next_attempt_at",
                       "queued_at", "claimed_at", "sent_at", "last_error"]


@admin.register(DataDeletion)
class DataDeletionAdmin(RecordAdmin):
    """The record of retention deletions: read-only."""

    list_display = ["study", "ran_at", "due_at", "contacts_deleted", "external_ids_cleared",
                    "participants_answers_deleted"]
    readonly_fields = list_display


@admin.register(ExportAudit)
class ExportAuditAdmin(RecordAdmin):
    """The audit log of exports through the API (who, when, what): read-only."""

    list_display = ["created_at", "study", "username", "what", "format", "shape", "excluded_included",
                    "external_ids_included"]
    list_filter = ["study", "what", "format"]
    readonly_fields = [*list_display, "user", "token", "parameters"]
