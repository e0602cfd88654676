"""Admin for building a study without code: a study page with inlines for members, consent,
items, waves and arms; waves with their interventions. Staff who are not superusers see only the
studies they are members of, and only owners may change a study's design."""

from django.contrib import admin
from django.db.models import Count

from surveys.models import (
    AllocationBlock,
    Arm,
    ConsentVersion,
    DataDeletion,
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


def member_studies(request):
    return Study.objects.for_user(request.user)


class StudyScopedAdmin(admin.ModelAdmin):
    """Rows, choices and permissions follow study membership, not Django's model permissions:
    any member may look; the roles in `edit_roles` may add, change and delete."""

    study_path = "study"  # how to get from a row to its study ("" = the row is the study)
    edit_roles = (Membership.Role.OWNER,)

    def study_of(self, obj):
        for part in filter(None, self.study_path.split("__")):
            obj = getattr(obj, part)
        return obj

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        key = f"{self.study_path}__in" if self.study_path else "pk__in"
        return qs.filter(**{key: member_studies(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study" and not request.user.is_superuser:
            kwargs["queryset"] = member_studies(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        if request.user.is_superuser or obj is None:
            return True
        return Membership.objects.filter(user=request.user, study=self.study_of(obj)).exists()

    def may_edit(self, request, obj=None) -> bool:
        if not self.has_module_permission(request):
            return False
        if request.user.is_superuser:
            return True
        memberships = Membership.objects.filter(user=request.user, role__in=self.edit_roles)
        if obj is not None:
            memberships = memberships.filter(study=self.study_of(obj))
        return memberships.exists()

    def has_add_permission(self, request, obj=None):
        return self.may_edit(request)

    def has_change_permission(self, request, obj=None):
        return self.may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.may_edit(request, obj)


class StudyInlineMixin:
    """Inline rows of a study page: members may look, owners may edit (obj is the parent study
    or wave)."""

    def _study(self, obj):
        return getattr(obj, "study", obj)

    def _role_ok(self, request, obj, roles) -> bool:
        if request.user.is_superuser:
            return True
        if not request.user.is_staff:
            return False
        memberships = Membership.objects.filter(user=request.user)
        if roles:
            memberships = memberships.filter(role__in=roles)
        if obj is not None:
            memberships = memberships.filter(study=self._study(obj))
        return memberships.exists()

    def has_view_permission(self, request, obj=None):
        return self._role_ok(request, obj, ())

    def has_add_permission(self, request, obj=None):
        # A new study (obj None) is being created by whoever will own it.
        return obj is None and request.user.is_staff or self._role_ok(request, obj, [Membership.Role.OWNER])

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


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


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin):
    study_path = ""

    list_display = ["slug", "title", "status", "participant_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "title"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MembershipInline, ConsentVersionInline, ArmInline, ItemInline, WaveInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_participants=Count("participants", distinct=True))

    @admin.display(description="participants", ordering="_participants")
    def participant_count(self, study):
        return study._participants

    def has_add_permission(self, request, obj=None):
        return self.has_module_permission(request)  # any researcher may start a study and owns it

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            # Whoever creates a study owns it; otherwise they could not see it afterwards.
            Membership.objects.get_or_create(study=obj, user=request.user, defaults={"role": Membership.Role.OWNER})


@admin.register(Item)
class ItemAdmin(StudyScopedAdmin):
    list_display = ["code", "study", "kind", "role", "scale_min", "scale_max", "step", "order"]
    list_filter = ["study", "kind", "role"]
    search_fields = ["code"]


class InterventionInline(StudyInlineMixin, admin.StackedInline):
    model = Intervention
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "arm" and not request.user.is_superuser:
            kwargs["queryset"] = Arm.objects.filter(study__in=member_studies(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Wave)
class WaveAdmin(StudyScopedAdmin):
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

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "items" and not request.user.is_superuser:
            kwargs["queryset"] = Item.objects.filter(study__in=member_studies(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Arm)
class ArmAdmin(StudyScopedAdmin):
    list_display = ["name", "study", "allocation_weight", "is_control"]
    list_filter = ["study"]


@admin.register(Participant)
class ParticipantAdmin(StudyScopedAdmin):
    # Pseudonymous by default: the external id is not listed or searchable here.
    list_display = ["public_id", "study", "arm", "language", "joined_at", "consented_at", "withdrawn_at", "is_preview"]
    list_filter = ["study", "arm", "is_preview"]
    search_fields = ["public_id"]
    readonly_fields = ["public_id", "joined_at"]
    exclude = ["external_id", "external_study_id"]


@admin.register(ParticipantToken)
class ParticipantTokenAdmin(StudyScopedAdmin):
    study_path = "participant__study"
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
class SubmissionAdmin(StudyScopedAdmin):
    study_path = "wave__study"
    list_display = ["participant", "wave", "started_at", "completed_at", "duration_seconds"]
    list_filter = ["wave__study", "wave__number"]
    readonly_fields = ["participant", "wave", "started_at"]
    inlines = [ResponseInline]


@admin.register(Exclusion)
class ExclusionAdmin(StudyScopedAdmin):
    study_path = "participant__study"
    edit_roles = (Membership.Role.OWNER, Membership.Role.ANALYST)
    list_display = ["participant", "reason", "excluded_by", "created_at", "lifted_at"]
    raw_id_fields = ["participant"]

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
class MessageTemplateAdmin(StudyScopedAdmin):
    """A study's own wording of invitations and reminders per language (else the built-in text)."""

    list_display = ["study", "kind", "language", "subject"]
    list_filter = ["study", "kind", "language"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """The record of invitations and reminders: read-only (e-mail addresses are not shown)."""

    study_path = "wave__study"
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
