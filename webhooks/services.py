"""Writes for webhooks: registering endpoints, rotating secrets, switching them off, replays.

The pages and the API call these; every rule (URL safety, known event types) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webhooks.signing import new_secret
from webhooks.urlcheck import MAX_URL_LENGTH, safe_target

DESCRIPTION_LENGTH = 200
DEACTIVATED = "The endpoint was switched off before this was delivered."


def _event_types(values: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(values or []))
    unknown = [value for value in chosen if value not in EVENT_TYPES.values]
    if unknown:
        raise ValidationError({"event_types": [f"Unknown event type: {', '.join(unknown)}."]})
    if not chosen:
        raise ValidationError({"event_types": ["Choose at least one event type."]})
    # Stored in the order of the list of kinds, whatever order they came in.
    return [kind for kind in EVENT_TYPES.values if kind in chosen]


def _clean(url: str, description: str) -> tuple[str, str]:
    url = (url or "").strip()
    safe_target(url)  # raises on url: shape, scheme, and every address the host resolves to
    description = (description or "").strip()
    if len(description) > DESCRIPTION_LENGTH:
        raise ValidationError(
            {"description": [f"Keep the description under {DESCRIPTION_LENGTH} characters."]}
        )
    return url[:MAX_URL_LENGTH], description


@transaction.atomic
def webhook_endpoint_create(
    *,
    organization: Organization,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    created_by: Seat | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (to show once)."""
    if created_by is not None:
        require_same_organization(organization, created_by=created_by)
    kinds = _event_types(event_types)
    url, description = _clean(url, description)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.for_org(organization).create(
        organization=organization,
        url=url,
        description=description,
        event_types=kinds,
        secret=secret,
        created_by=created_by,
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    organization: Organization,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change what an endpoint receives or where; deliveries already made keep their payload."""
    require_same_organization(organization, endpoint=endpoint)
    if event_types is not None:
        endpoint.event_types = _event_types(event_types)
    new_url, new_description = _clean(
        endpoint.url if url is None else url,
        endpoint.description if description is None else description,
    )
    endpoint.url, endpoint.description = new_url, new_description
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, organization: Organization, endpoint: WebhookEndpoint) -> str:
    """A new secret, at once: deliveries signed from now on use it (the old one stops)."""
    require_same_organization(organization, endpoint=endpoint)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint.secret


@transaction.atomic
def webhook_endpoint_set_active(
    *, organization: Organization, endpoint: WebhookEndpoint, active: bool
) -> WebhookEndpoint:
    """Switch an endpoint on or off. Switching off fails what it still had to receive: an
    endpoint switched back on later gets the events from then on, not a backlog."""
    require_same_organization(organization, endpoint=endpoint)
    if endpoint.is_active == active:
        return endpoint
    endpoint.is_active = active
    endpoint.save(update_fields=["is_active", "updated_at"])
    if not active:
        WebhookDelivery.objects.for_org(organization).filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING
        ).update(
            status=WebhookDelivery.Status.FAILED,
            next_attempt_at=None,
            claim_token="",
            last_error=DEACTIVATED,
            updated_at=timezone.now(),
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, organization: Organization, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery history."""
    require_same_organization(organization, endpoint=endpoint)
    WebhookDelivery.objects.for_org(organization).filter(endpoint=endpoint).delete()
    WebhookEndpoint.objects.for_org(organization).filter(pk=endpoint.pk).delete()


@transaction.atomic
def webhook_delivery_replay(
    *, organization: Organization, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send a delivery's payload again, as a new delivery due now (new timestamp, new
    signature, its own attempts); the worker is asked to send it once this commits."""
    require_same_organization(organization, delivery=delivery)
    endpoint = WebhookEndpoint.objects.for_org(organization).get(pk=delivery.endpoint_id)
    if not endpoint.is_active:
        raise ValidationError(
            {"delivery": ["The endpoint is switched off: switch it on to replay deliveries."]}
        )
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise ValidationError({"delivery": ["This delivery is still being sent."]})
    replay = WebhookDelivery.objects.for_org(organization).create(
        organization=organization,
        endpoint=endpoint,
        domain_event_id=delivery.domain_event_id,
        event_kind=delivery.event_kind,
        payload=delivery.payload,
        replay_of=delivery,
        next_attempt_at=timezone.now(),
    )
    audit_record(
        organization=organization,
        action="webhook_delivery.replay",
        instance=replay,
        changes={"replay_of": delivery.pk},
    )
    # robust: with the broker down the replay still stands; beat's sender picks up pending
    # deliveries every 30 s.
    transaction.on_commit(_send_soon, robust=True)
    return replay


def _send_soon() -> None:
    from webhooks.tasks import send_deliveries

    send_deliveries.apply_async(expires=60)
