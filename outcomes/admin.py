"""Django admin for desired outcomes, for Tandem's own staff.

``tenancy.admin.TenantAdmin`` lists every organization through the unscoped manager and edits
one row inside its own organization's scope. Rows that link to other tenant rows are created by
the services, which apply the domain's rules; here the links the services derive (a goal's
member, the goal a pivot superseded, the goal of a reading) are shown, not edited, so the admin
cannot break a rule the services keep.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
    ScoringConfiguration,
    SuccessGapRun,
    SuccessGapSnapshot,
)
from tenancy.admin import TenantAdmin


class ConditionInline(admin.TabularInline):
    """A goal's conditions, edited with the goal. New ones come through ``condition_add``,
    which checks them and re-judges the goal."""

    model = Condition
    extra = 0
    fields = [
        "description",
        "kind",
        "metric_name",
        "comparison",
        "threshold",
        "observed_value",
        "state",
        "evidence",
        "assessed_on",
    ]

    def get_queryset(self, request):
        # The parent goal narrows it; the default manager would refuse outside a scope.
        return self.model.objects.unscoped().order_by("pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DesiredOutcome)
class DesiredOutcomeAdmin(TenantAdmin):
    list_display = ["title", "member", "organization", "is_active", "created_at"]
    list_filter = ["is_active", "organization"]
    search_fields = ["title", "member__name", "member__email"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        # Its goals and experience carry the same member: moving it would split them.
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "member"] if obj is not None else readonly


@admin.register(Goal)
class GoalAdmin(TenantAdmin):
    list_display = [
        "objective",
        "member",
        "organization",
        "status",
        "starts_on",
        "due_on",
        "objective_reached_on",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["objective", "member__name", "desired_outcome__title"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member", "desired_outcome", "supersedes"]
    readonly_fields = [
        "member",
        "desired_outcome",
        "supersedes",
        "status_changed_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "due_on"
    inlines = [ConditionInline]


@admin.register(GoalMetricReading)
class GoalMetricReadingAdmin(TenantAdmin):
    list_display = ["goal", "value", "recorded_at", "source", "organization"]
    list_filter = ["source", "organization"]
    search_fields = ["goal__objective", "goal__member__name"]
    list_select_related = ["goal", "organization"]
    raw_id_fields = ["goal"]
    readonly_fields = ["goal"]
    date_hierarchy = "recorded_at"


@admin.register(Condition)
class ConditionAdmin(TenantAdmin):
    list_display = ["description", "goal", "kind", "state", "assessed_on", "organization"]
    list_filter = ["kind", "state", "organization"]
    search_fields = ["description", "goal__objective", "goal__member__name"]
    list_select_related = ["goal", "organization"]
    raw_id_fields = ["goal"]
    readonly_fields = ["goal"]


class AppropriateExperienceForm(forms.ModelForm):
    """The admin builds the fields (inside the row's organization scope) from this base."""

    def clean(self):
        """The element may serve one of its own member's desired outcomes, as the services
        require; the scope already keeps other organizations' outcomes out."""
        cleaned = super().clean()
        outcome = cleaned.get("desired_outcome")
        if outcome is not None and outcome.member_id != self.instance.member_id:
            self.add_error("desired_outcome", "This desired outcome belongs to another member.")
        return cleaned


@admin.register(AppropriateExperience)
class AppropriateExperienceAdmin(TenantAdmin):
    form = AppropriateExperienceForm
    list_display = [
        "description",
        "member",
        "engagement_type",
        "cadence_days",
        "channel",
        "required",
        "is_active",
        "organization",
    ]
    list_filter = ["engagement_type", "channel", "required", "is_active", "organization"]
    search_fields = ["description", "member__name"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member", "desired_outcome"]
    readonly_fields = ["member", "created_at"]


@admin.register(ScoringConfiguration)
class ScoringConfigurationAdmin(TenantAdmin):
    list_display = ["organization", "pace_weight", "conditions_weight", "updated_at"]
    list_select_related = ["organization"]
    search_fields = ["organization__name"]


@admin.register(SuccessGapRun)
class SuccessGapRunAdmin(TenantAdmin):
    """Computed by the engine: read-only here."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["pk", "organization", "as_of", "computed_at", "members_scored", "finished_at"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    date_hierarchy = "computed_at"


@admin.register(SuccessGapSnapshot)
class SuccessGapSnapshotAdmin(TenantAdmin):
    """Computed by the engine: read-only here."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["member", "computed_at", "functional", "outcome", "gap", "band"]
    list_filter = ["band", "organization"]
    search_fields = ["member__name"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member", "run"]
    date_hierarchy = "computed_at"
