"""Django admin for Tandem's staff: every organization's milestones and commitments.

See ``tenancy.admin.TenantAdmin`` for how rows are read and edited. New rows come through
``milestones.services``, which apply the rules (a strategic definition counts from a goal's
start, a seat owns only our side). Members, goals and context events are picked by id.
"""

from __future__ import annotations

from django.contrib import admin

from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from tenancy.admin import TenantAdmin


@admin.register(MilestoneDefinition)
class MilestoneDefinitionAdmin(TenantAdmin):
    list_display = [
        "name",
        "organization",
        "type",
        "anchor",
        "expected_after_days",
        "match_event_name",
        "match_min_value",
        "is_active",
    ]
    list_filter = ["type", "anchor", "is_active", "organization"]
    search_fields = ["name", "match_event_name", "organization__name"]
    list_select_related = ["organization"]


@admin.register(ProgressMilestone)
class ProgressMilestoneAdmin(TenantAdmin):
    list_display = [
        "name",
        "member",
        "organization",
        "type",
        "due_on",
        "achieved_at",
        "achieved_via",
    ]
    list_filter = ["type", "achieved_via", "organization"]
    search_fields = ["name", "member__name", "member__email"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member", "goal", "context_event"]
    date_hierarchy = "due_on"
    readonly_fields = ["created_at"]


@admin.register(Commitment)
class CommitmentAdmin(TenantAdmin):
    list_display = ["description", "party", "member", "organization", "due_on", "done_at"]
    list_filter = ["party", "organization"]
    search_fields = ["description", "owner_name", "member__name"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["goal", "member"]
    readonly_fields = ["created_at"]
