"""Django admin for Tandem's staff: endpoints and deliveries, read across organizations.
Endpoints are registered on the organization's settings pages (or the API), never here."""

from django.contrib import admin

from tenancy.admin import TenantAdmin
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantAdmin):
    list_display = ["url", "organization", "is_active", "created_at"]
    list_filter = ["is_active", "organization"]
    search_fields = ["url", "organization__name"]
    list_select_related = ["organization"]
    raw_id_fields = ["created_by"]
    exclude = ["secret"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantAdmin):
    list_display = ["created_at", "event_kind", "status", "last_status_code", "organization"]
    list_filter = ["status", "event_kind", "organization"]
    list_select_related = ["organization"]
    raw_id_fields = ["endpoint", "replay_of"]
    readonly_fields = [
        "endpoint",
        "domain_event_id",
        "event_kind",
        "payload",
        "attempts",
        "claim_token",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "replay_of",
        "created_at",
        "updated_at",
    ]


@admin.register(WebhookCursor)
class WebhookCursorAdmin(TenantAdmin):
    list_display = ["organization", "last_event_id", "horizon_event_id", "updated_at"]
    list_select_related = ["organization"]
