"""Webhooks: endpoints an organization's admins register, and the deliveries sent to them.

A ``WebhookDelivery`` is one domain event for one endpoint. It is created by the fan-out
(``webhooks/fanout.py``), claimed and sent by the worker (``webhooks/sending.py``) and retried
with backoff until it succeeds or uses up its attempts. A replay is a new delivery of the same
payload (``replay_of`` names the original), so the history of what was sent stays intact.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenancy.models import DomainEvent, Seat, TenantModel

# The domain events an endpoint may subscribe to: every kind there is.
EVENT_TYPES = DomainEvent.Kind


class WebhookEndpoint(TenantModel):
    """A URL of the integrator's that receives the organization's domain events, signed.

    The secret is kept in clear because signing needs it; pages show it once (at creation and
    at each rotation) and a short prefix afterwards.
    """

    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80)
    event_types = models.JSONField(default=list, help_text="Domain event kinds it receives.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "is_active"], name="webhookendpoint_org_active"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart, never enough to use it."""
        return f"{self.secret[:10]}…"

    def event_type_labels(self) -> list[str]:
        return [EVENT_TYPES(kind).label for kind in self.event_types if kind in EVENT_TYPES]


class WebhookDelivery(TenantModel):
    """One domain event for one endpoint, and how sending it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    domain_event_id = models.BigIntegerField()
    event_kind = models.CharField(max_length=40, choices=EVENT_TYPES.choices)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When it is due (while pending); a claim moves it on."
    )
    claim_token = models.CharField(max_length=36, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # The fan-out may read an event twice; it is delivered to an endpoint once.
            models.UniqueConstraint(
                fields=["organization", "endpoint", "domain_event_id"],
                condition=Q(replay_of__isnull=True),
                name="webhookdelivery_once_per_event",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]),
                name="webhookdelivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "endpoint", "-created_at"],
                name="webhookdelivery_org_endpoint",
            ),
            models.Index(fields=["organization", "-created_at"], name="webhookdelivery_org_recent"),
            # The sender's queue across organizations: only deliveries still to send.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhookdelivery_due_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_kind} → {self.endpoint_id} ({self.status})"


class WebhookCursor(TenantModel):
    """How far the fan-out has read an organization's domain events.

    Events up to ``last_event_id`` are fanned out. ``horizon_event_id`` is the newest event seen
    at ``horizon_at``: it is consumed only once ``WEBHOOK_FANOUT_GRACE_SECONDS`` have passed, so
    an event whose transaction took an id earlier but committed later than its neighbours (on
    PostgreSQL) is still visible when its turn comes.
    """

    last_event_id = models.BigIntegerField(default=0)
    horizon_event_id = models.BigIntegerField(null=True, blank=True)
    horizon_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="webhookcursor_one_per_org"),
        ]

    def __str__(self) -> str:
        return f"webhooks at #{self.last_event_id}"
