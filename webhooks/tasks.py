"""Celery tasks for webhooks: thin adapters over the fan-out and the sender."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from tenancy.models import Organization
from webhooks.fanout import organizations_with_endpoints, webhook_deliveries_fan_out
from webhooks.sending import webhook_deliveries_send

EXPIRES = 45  # seconds: a run that could not start before the next one is dropped


@shared_task(
    name="webhooks.fan_out",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
)
def fan_out() -> int:
    """Turn every organization's new domain events into deliveries; returns how many. Safe to
    re-run: the cursor moves with the deliveries, and an event is delivered once per endpoint."""
    created = 0
    for organization_id in organizations_with_endpoints():
        organization = Organization.objects.filter(pk=organization_id).first()
        if organization is not None:
            created += webhook_deliveries_fan_out(organization=organization)
    return created


@shared_task(
    name="webhooks.send_deliveries",
    acks_late=True,
    expires=EXPIRES,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
    soft_time_limit=90,  # below WEBHOOK_LEASE_SECONDS: a hung send cannot outlive its claim
    time_limit=100,
)
def send_deliveries() -> dict[str, int]:
    """Send the due deliveries of every organization (retries included)."""
    return webhook_deliveries_send().as_dict()


@shared_task(name="webhooks.deliver", acks_late=True, expires=EXPIRES)
def deliver() -> dict[str, int]:
    """Beat's entry point every 30 seconds: fan out, then send what is due."""
    created = fan_out()
    return {"fanned_out": created, **send_deliveries()}
