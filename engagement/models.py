"""Engagement (what we do with a member) and Context (what we learn about them). Together they
make the relationship."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from engagement.choices import EngagementType
from tenancy.models import TenantModel


class Engagement(TenantModel):
    class Direction(models.TextChoices):
        INBOUND_REACTIVE = "inbound_reactive", "Inbound, reactive"
        OUTBOUND_REACTIVE = "outbound_reactive", "Outbound, reactive"
        OUTBOUND_PROACTIVE = "outbound_proactive", "Outbound, proactive"

    Type = EngagementType

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="engagements"
    )
    seat = models.ForeignKey(
        "tenancy.Seat",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="engagements",
        help_text="Who engaged; empty for automated engagement.",
    )
    direction = models.CharField(max_length=20, choices=Direction.choices)
    type = models.CharField(max_length=20, choices=EngagementType.choices)
    occurred_at = models.DateTimeField()
    summary = models.TextField(blank=True)
    goal = models.ForeignKey(
        "outcomes.Goal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="engagements",
    )
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    group_key = models.UUIDField(
        null=True, blank=True, help_text="Shared by the rows of one 1:many engagement."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "member", "occurred_at"], name="engagement_org_member"
            ),
            # My book's direction mix reads the seat's month from the index alone (PostgreSQL).
            models.Index(
                fields=["organization", "seat", "occurred_at"],
                name="engagement_org_seat",
                include=["id", "direction", "duration_minutes"],
            ),
            # The organization's stream, newest first (the API list's order and cursor).
            models.Index(
                fields=["organization", "occurred_at", "id"], name="engagement_org_stream"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} with {self.member} on {self.occurred_at:%Y-%m-%d}"


class ContextEvent(TenantModel):
    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        ACTIVITY = "activity", "Activity"
        TEAM_CHANGE = "team_change", "Team change"
        COMPANY_CHANGE = "company_change", "Company change"
        GOAL_CHANGE = "goal_change", "Goal change"
        MEMBERSHIP_CHANGE = "membership_change", "Membership change"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        API = "api", "API"
        IMPORT = "import", "Import"
        SYSTEM = "system", "Tandem"

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="context_events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100, help_text="What happened, e.g. course_completed.")
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    payload = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=120, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="context_event_external_id_unique_per_org",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "occurred_at"], name="context_org_member"
            ),
            models.Index(fields=["organization", "name", "occurred_at"], name="context_org_name"),
            # The organization's stream, newest first (the API list's order and cursor).
            models.Index(fields=["organization", "occurred_at", "id"], name="context_org_stream"),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.member} · {self.occurred_at:%Y-%m-%d}"


class IngestFollowUp(TenantModel):
    """The follow-up a stored bulk batch owes (milestone matching, then the recompute), kept
    until the worker has done it.

    Written in the batch's own transaction, so a follow-up whose task never reached the broker,
    or was lost with a worker, is still known: a sweep sends the task again for any row left
    pending too long (running a follow-up twice achieves nothing twice). Done rows are removed
    a day later.
    """

    event_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(done_at__isnull=True),
                name="ingest_follow_up_pending",
            ),
            models.Index(fields=["organization", "done_at"], name="ingest_follow_up_done"),
        ]

    def __str__(self) -> str:
        return f"Follow-up of {len(self.event_ids)} events"
