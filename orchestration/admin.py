"""Django admin for orchestration (for Tandem's own staff; see ``tenancy.admin.TenantAdmin``)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from orchestration.coverage import coverage_criteria_validate
from orchestration.models import (
    CoverageModel,
    CoveragePlaybook,
    CoveragePoolSeat,
    DomainEventCursor,
    Enrollment,
    Nudge,
    OrchestratedEvent,
    Playbook,
    PlaybookStep,
    Task,
)
from orchestration.nudges import nudges_requeue_failed
from orchestration.playbooks import (
    enrollment_cancel,
    playbook_activate,
    playbook_deactivate,
    playbook_errors,
    step_values_clean,
)
from orchestration.tasks_services import task_owner_error
from tenancy.admin import TenantAdmin
from tenancy.models import Organization


@admin.register(Nudge)
class NudgeAdmin(TenantAdmin):
    """Nudges are planned by the services and sent by the dispatcher: the admin shows where each
    one is, with its error, and can put failed ones back in the queue."""

    list_display = [
        "subject",
        "organization",
        "channel",
        "kind",
        "status",
        "scheduled_for",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["subject", "to_email", "idempotency_key", "member__name"]
    list_select_related = ["organization", "member"]
    raw_id_fields = ["member", "seat", "event", "enrollment"]
    readonly_fields = [
        "status",
        "attempts",
        "last_error",
        "claimed_at",
        "claim_token",
        "sent_at",
        "idempotency_key",
        "created_at",
    ]
    date_hierarchy = "scheduled_for"
    actions = ["requeue_failed"]

    @admin.action(description="Send the selected failed nudges again")
    def requeue_failed(self, request, queryset) -> None:
        requeued = 0
        organization_ids = set(queryset.values_list("organization_id", flat=True))
        for organization in Organization.objects.filter(pk__in=organization_ids):
            ids = queryset.filter(organization=organization).values_list("pk", flat=True)
            requeued += nudges_requeue_failed(organization=organization, nudge_ids=list(ids))
        self.message_user(request, f"{requeued} failed nudge(s) scheduled again.", messages.INFO)


@admin.register(OrchestratedEvent)
class OrchestratedEventAdmin(TenantAdmin):
    """Events move through their lifecycle only through orchestration/events.py (guarded
    transitions that also cancel nudges), so the status and its timestamps are read-only here."""

    list_display = ["title", "member", "organization", "scheduled_for", "status", "confirmed_at"]
    list_filter = ["status"]
    search_fields = ["title", "member__name", "member__email"]
    list_select_related = ["organization", "member"]
    raw_id_fields = ["member", "enrollment", "step", "created_by"]
    readonly_fields = [
        "status",
        "announced_at",
        "happened_at",
        "confirmed_at",
        "closed_at",
        "created_at",
    ]
    date_hierarchy = "scheduled_for"


# --- coverage ---------------------------------------------------------------------------------
# Pools and playbook links are shown, not edited: coverage_model_update replaces them and checks
# that every pool seat can own accounts, which an inline form would not.


class CoverageModelForm(forms.ModelForm):
    class Meta:
        model = CoverageModel
        fields = [
            "organization",
            "name",
            "description",
            "priority",
            "criteria",
            "assignment_policy",
            "engagement_cadence_days",
            "is_active",
        ]

    def clean_criteria(self):
        """The same validation as the services, so the admin cannot store rules that would
        break matching."""
        try:
            return coverage_criteria_validate(self.cleaned_data.get("criteria"))
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["criteria"]) from None


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        # The parent model narrows it; the default manager would refuse outside a scope.
        return self.model.objects.unscoped().order_by("pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CoveragePoolSeatInline(_ReadOnlyInline):
    model = CoveragePoolSeat
    fields = readonly_fields = ["seat"]
    verbose_name_plural = "owner pool (in assignment order)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seat__user", "seat__organization")


class CoveragePlaybookInline(_ReadOnlyInline):
    model = CoveragePlaybook
    fields = readonly_fields = ["playbook"]
    verbose_name_plural = "playbooks members are enrolled in"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("playbook")


@admin.register(CoverageModel)
class CoverageModelAdmin(TenantAdmin):
    form = CoverageModelForm
    list_display = [
        "name",
        "organization",
        "priority",
        "assignment_policy",
        "engagement_cadence_days",
        "is_active",
        "updated_at",
    ]
    list_filter = ["is_active", "assignment_policy", "organization"]
    search_fields = ["name", "description", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["round_robin_position", "created_at", "updated_at"]
    inlines = [CoveragePoolSeatInline, CoveragePlaybookInline]


@admin.register(CoveragePoolSeat)
class CoveragePoolSeatAdmin(TenantAdmin):
    list_display = ["coverage_model", "seat", "organization"]
    list_filter = ["organization"]
    search_fields = ["coverage_model__name", "seat__user__email"]
    list_select_related = ["coverage_model", "seat__user", "seat__organization", "organization"]
    readonly_fields = ["coverage_model", "seat"]


@admin.register(CoveragePlaybook)
class CoveragePlaybookAdmin(TenantAdmin):
    list_display = ["coverage_model", "playbook", "organization"]
    list_filter = ["organization"]
    search_fields = ["coverage_model__name", "playbook__name"]
    list_select_related = ["coverage_model", "playbook", "organization"]
    readonly_fields = ["coverage_model", "playbook"]


# --- playbooks, enrolments, tasks ----------------------------------------------------------------
# Forms apply the services' rules (sandboxed templates, trigger settings, task owners), so the
# admin cannot store what the services would refuse. Switching a playbook on or off and cancelling
# an enrolment go through the services (they cancel nudges and events), as admin actions.


class PlaybookAdminForm(forms.ModelForm):
    class Meta:
        model = Playbook
        fields = ["name", "description", "trigger", "trigger_band", "trigger_days"]

    def clean(self):
        cleaned = super().clean()
        errors = playbook_errors(
            organization=self.instance.organization,
            playbook_pk=self.instance.pk,
            name=(cleaned.get("name") or "").strip(),
            trigger=cleaned.get("trigger"),
            trigger_band=cleaned.get("trigger_band") or "",
            trigger_days=cleaned.get("trigger_days"),
        )
        if errors:
            raise ValidationError(errors)
        return cleaned


STEP_FORM_FIELDS = [
    "offset_days",
    "action",
    "title",
    "message_template",
    "channel",
    "event_lead_days",
]


class PlaybookStepAdminForm(forms.ModelForm):
    class Meta:
        model = PlaybookStep
        fields = STEP_FORM_FIELDS

    def clean(self):
        cleaned = super().clean()
        values = step_values_clean(**{field: cleaned.get(field) for field in STEP_FORM_FIELDS})
        cleaned.update(values)
        return cleaned


class PlaybookStepInline(admin.StackedInline):
    """Steps are edited in place under the same rules; they are added, removed and reordered
    through the services (positions stay contiguous)."""

    model = PlaybookStep
    form = PlaybookStepAdminForm
    extra = 0
    can_delete = False
    readonly_fields = ["position"]
    fields = ["position", *STEP_FORM_FIELDS]

    def get_queryset(self, request):
        # The parent playbook narrows it; the default manager would refuse outside a scope.
        return self.model.objects.unscoped().order_by("position", "pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _by_organization(queryset):
    """Rows of an admin action grouped with their organization, for the services."""
    for row in queryset.select_related("organization"):
        yield row.organization, row


@admin.register(Playbook)
class PlaybookAdmin(TenantAdmin):
    form = PlaybookAdminForm
    list_display = ["name", "organization", "trigger", "trigger_band", "trigger_days", "is_active"]
    list_filter = ["trigger", "is_active", "organization"]
    search_fields = ["name", "description", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["is_active", "created_at"]
    inlines = [PlaybookStepInline]
    actions = ["switch_off", "switch_on"]

    @admin.action(description="Switch off (cancels their active enrolments)")
    def switch_off(self, request, queryset) -> None:
        for organization, playbook in _by_organization(queryset):
            playbook_deactivate(organization=organization, playbook=playbook)
        self.message_user(request, "Playbooks switched off.", messages.INFO)

    @admin.action(description="Switch on")
    def switch_on(self, request, queryset) -> None:
        for organization, playbook in _by_organization(queryset):
            playbook_activate(organization=organization, playbook=playbook)
        self.message_user(request, "Playbooks switched on.", messages.INFO)


@admin.register(PlaybookStep)
class PlaybookStepAdmin(TenantAdmin):
    form = PlaybookStepAdminForm
    list_display = ["playbook", "position", "title", "action", "offset_days", "organization"]
    list_filter = ["action", "organization"]
    search_fields = ["title", "playbook__name"]
    list_select_related = ["playbook", "organization"]
    readonly_fields = ["playbook", "position"]


@admin.register(Enrollment)
class EnrollmentAdmin(TenantAdmin):
    list_display = ["member", "playbook", "status", "enrolled_at", "ended_at", "organization"]
    list_filter = ["status", "organization"]
    search_fields = ["member__name", "member__email", "playbook__name", "reason"]
    list_select_related = ["member", "playbook", "organization"]
    raw_id_fields = ["member"]
    readonly_fields = ["playbook", "status", "enrolled_at", "ended_at"]
    date_hierarchy = "enrolled_at"
    actions = ["cancel"]

    @admin.action(description="Cancel (and cancel their pending nudges and events)")
    def cancel(self, request, queryset) -> None:
        for organization, enrollment in _by_organization(queryset):
            enrollment_cancel(organization=organization, enrollment=enrollment)
        self.message_user(request, "Enrolments cancelled.", messages.INFO)


class TaskAdminForm(forms.ModelForm):
    # Foreign keys are left to the admin, which builds their fields per request, inside the
    # row's organization scope (the default manager refuses a query at import time).
    class Meta:
        model = Task
        fields = ["title", "notes", "due_on", "done_at"]

    def clean(self):
        cleaned = super().clean()
        error = task_owner_error(cleaned.get("owner"))
        if error:
            self.add_error("owner", error)
        return cleaned


@admin.register(Task)
class TaskAdmin(TenantAdmin):
    form = TaskAdminForm
    list_display = ["title", "member", "owner", "due_on", "done_at", "organization"]
    list_filter = [("done_at", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["title", "member__name", "owner__user__email"]
    list_select_related = ["member", "owner__user", "organization"]
    fields = ["owner", "member", "title", "notes", "due_on", "done_at", "enrollment", "step"]
    raw_id_fields = ["member", "enrollment", "step"]
    readonly_fields = ["enrollment", "step", "created_at"]
    date_hierarchy = "due_on"


@admin.register(DomainEventCursor)
class DomainEventCursorAdmin(TenantAdmin):
    """Where each consumer stands in its organization's domain events; lowering
    ``last_event_id`` makes the consumer read those events again."""

    list_display = ["consumer", "last_event_id", "organization", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["consumer"]
    list_select_related = ["organization"]
    readonly_fields = ["consumer", "updated_at"]
