"""Django admin for Tandem's operators: engagement and context rows of every organization
(see tenancy.admin.TenantAdmin for how rows are read and edited)."""

from __future__ import annotations

from django.contrib import admin

from engagement.models import ContextEvent, Engagement
from tenancy.admin import TenantAdmin


@admin.register(Engagement)
class EngagementAdmin(TenantAdmin):
    list_display = ["occurred_at", "member", "type", "direction", "seat", "organization"]
    list_filter = ["direction", "type", "organization"]
    search_fields = ["member__name", "summary"]
    list_select_related = ["member", "seat__user", "organization"]
    raw_id_fields = ["member", "goal", "seat"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["group_key", "created_at"]


@admin.register(ContextEvent)
class ContextEventAdmin(TenantAdmin):
    list_display = ["occurred_at", "name", "kind", "value", "member", "source", "organization"]
    list_filter = ["kind", "source", "organization"]
    search_fields = ["name", "external_id"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["recorded_at"]
