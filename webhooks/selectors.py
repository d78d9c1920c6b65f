"""Reads for the webhook pages and API: each a queryset with what its list shows, joined."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from tenancy.models import Organization
from webhooks.models import WebhookDelivery, WebhookEndpoint

RECENT = 25


def webhook_endpoints_for_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    """Endpoints, newest first, with who registered them and their failed deliveries counted."""
    return (
        WebhookEndpoint.objects.for_org(organization)
        .select_related("created_by__user")
        .annotate(
            failed_count=Count(
                "deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)
            )
        )
        .order_by("-created_at", "-pk")
    )


def webhook_deliveries_for_list(
    *, organization: Organization, endpoint: WebhookEndpoint | None = None
) -> QuerySet[WebhookDelivery]:
    """Deliveries, newest first, with their endpoint (for its URL), optionally of one endpoint."""
    deliveries = WebhookDelivery.objects.for_org(organization).select_related("endpoint")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.order_by("-created_at", "-pk")


def webhook_recent_deliveries(*, organization: Organization) -> list[WebhookDelivery]:
    return list(webhook_deliveries_for_list(organization=organization)[:RECENT])
