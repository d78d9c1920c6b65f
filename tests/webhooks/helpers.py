"""Small builders shared by the webhook tests."""

from __future__ import annotations

from tenancy.models import DomainEvent, Organization
from webhooks.fanout import webhook_deliveries_fan_out
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create

ALL_KINDS = list(DomainEvent.Kind.values)


def endpoint(
    organization: Organization, url: str, kinds: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoint_create(
        organization=organization, url=url, event_types=kinds or ALL_KINDS
    )


def domain_event(organization: Organization, kind: str = "member.band_changed", **payload):
    return DomainEvent.objects.for_org(organization).create(
        organization=organization,
        kind=kind,
        subject_id=payload.get("member_id", 1),
        payload=payload or {"member_id": 1, "from": "on_track", "to": "at_risk"},
    )


def deliveries(organization: Organization) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.for_org(organization).order_by("pk"))


def fanned(organization: Organization) -> list[WebhookDelivery]:
    webhook_deliveries_fan_out(organization=organization)
    return deliveries(organization)
