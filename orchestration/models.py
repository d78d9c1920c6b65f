"""Coverage models (who covers which members, how), playbooks, tasks, orchestrated events and the
nudges the worker sends. Expectations are set with members before things happen."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tenancy.models import TenantModel


class CoverageModel(TenantModel):
    """How a segment of members is covered: who matches, who owns them, what they are enrolled in.

    ``criteria`` is data, never code: a list of rules that must all hold, each
    ``{"field": ..., "op": ..., "value": ...}`` (see orchestration/coverage.py for the fields
    and operators, validated on save).
    """

    class AssignmentPolicy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round-robin"
        LEAST_LOADED = "least_loaded", "Least loaded"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    priority = models.PositiveIntegerField(
        default=100, help_text="A member matches the model with the highest priority."
    )
    criteria = models.JSONField(default=list, blank=True)
    assignment_policy = models.CharField(
        max_length=12, choices=AssignmentPolicy.choices, default=AssignmentPolicy.ROUND_ROBIN
    )
    engagement_cadence_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Engage members of this segment at least every N days."
    )
    round_robin_position = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="coverage_model_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CoveragePoolSeat(TenantModel):
    """A seat in a coverage model's owner pool."""

    coverage_model = models.ForeignKey(CoverageModel, on_delete=models.CASCADE, related_name="pool")
    seat = models.ForeignKey(
        "tenancy.Seat", on_delete=models.CASCADE, related_name="coverage_pools"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "coverage_model", "seat"], name="coverage_pool_unique_seat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seat} in {self.coverage_model}"


class Playbook(TenantModel):
    """Ordered steps started for a member when a trigger fires."""

    class Trigger(models.TextChoices):
        ON_JOIN = "on_join", "On joining"
        BAND_ENTERED = "band_entered", "Success-gap band entered"
        MILESTONE_OVERDUE = "milestone_overdue", "Milestone overdue"
        RENEWAL_WITHIN = "renewal_within", "Renewal within N days"
        GOAL_DUE_WITHIN = "goal_due_within", "Goal due within N days"
        AX_OVERDUE = "ax_overdue", "Experience element overdue"
        NO_ENGAGEMENT_FOR = "no_engagement_for", "No engagement for N days"
        MANUAL = "manual", "Manual"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_band = models.CharField(
        max_length=10, blank=True, help_text="For 'band entered': watch or at_risk."
    )
    trigger_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="N, for the triggers that take a number of days."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="playbook_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class CoveragePlaybook(TenantModel):
    """A playbook a coverage model enrols its members in."""

    coverage_model = models.ForeignKey(
        CoverageModel, on_delete=models.CASCADE, related_name="playbook_links"
    )
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="coverage_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "coverage_model", "playbook"],
                name="coverage_playbook_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coverage_model} → {self.playbook}"


class PlaybookStep(TenantModel):
    class Action(models.TextChoices):
        TASK = "task", "Task for the owner"
        NUDGE = "nudge", "Nudge to the member"
        EVENT = "event", "Orchestrated event"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    offset_days = models.IntegerField(default=0, help_text="Days after enrolment.")
    action = models.CharField(max_length=8, choices=Action.choices)
    title = models.CharField(max_length=200)
    message_template = models.TextField(
        blank=True, help_text="Django template syntax; sees only the member's own fields."
    )
    channel = models.CharField(max_length=10, default="email")
    event_lead_days = models.JSONField(
        default=list, blank=True, help_text="For events: days before it to announce and remind."
    )

    class Meta:
        ordering = ["playbook", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "playbook", "position"],
                name="playbook_step_unique_position",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} #{self.position}: {self.title}"


class Enrollment(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="enrollments")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="enrollments"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reason = models.CharField(max_length=200, blank=True, help_text="What triggered it.")
    enrolled_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "playbook", "member"],
                condition=Q(status="active"),
                name="enrollment_one_active_per_member_playbook",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "member", "status"], name="enrollment_org_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member} in {self.playbook}"


class Task(TenantModel):
    """A to-do for an MSM about a member: from a playbook step or by hand."""

    owner = models.ForeignKey(
        "tenancy.Seat", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    step = models.ForeignKey(
        PlaybookStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # ``?updated_since=`` reads it. ``auto_now`` covers ``save()`` (the admin); most writes are
    # guarded ``QuerySet.update()`` calls or raw SQL, which skip it, so each sets it itself.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            # A playbook step makes one task per enrolment, however often planning runs.
            models.UniqueConstraint(
                fields=["organization", "enrollment", "step"],
                condition=Q(enrollment__isnull=False, step__isnull=False),
                name="task_once_per_enrollment_step",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "owner", "done_at", "due_on"], name="task_org_owner_due"
            ),
            models.Index(fields=["organization", "member"], name="task_org_member"),
            models.Index(fields=["organization", "updated_at"], name="task_org_updated"),
        ]

    def __str__(self) -> str:
        return self.title


class OrchestratedEvent(TenantModel):
    """Something that will happen to a member, told to them before it happens."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ANNOUNCED = "announced", "Announced"
        HAPPENED = "happened", "Happened"
        CONFIRMED = "confirmed", "Confirmed by the member"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="orchestrated_events"
    )
    title = models.CharField(max_length=200, help_text="What will happen.")
    description = models.TextField(blank=True)
    scheduled_for = models.DateTimeField()
    lead_days = models.JSONField(
        default=list, help_text="Days before: the first announces, the others remind, e.g. [14, 2]."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    announced_at = models.DateTimeField(null=True, blank=True)
    happened_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Missed or cancelled at.")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    step = models.ForeignKey(
        PlaybookStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    created_by = models.ForeignKey(
        "tenancy.Seat", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # ``?updated_since=`` reads it. ``auto_now`` covers ``save()`` (the admin); most writes are
    # guarded ``QuerySet.update()`` calls or raw SQL, which skip it, so each sets it itself.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_for", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment", "step"],
                condition=Q(enrollment__isnull=False, step__isnull=False),
                name="event_once_per_enrollment_step",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "scheduled_for"], name="event_org_member"
            ),
            models.Index(
                fields=["organization", "status", "scheduled_for"], name="event_org_status"
            ),
            models.Index(fields=["organization", "updated_at"], name="event_org_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.title} · {self.member}"


class Nudge(TenantModel):
    """One scheduled communication, sent by the worker exactly once."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email to the member"
        IN_APP = "in_app", "In-app, for the owner"
        TASK = "task", "Task for the owner"

    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", "Announcement"
        REMINDER = "reminder", "Reminder"
        MESSAGE = "message", "Playbook message"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.CASCADE, related_name="nudges"
    )
    # Most nudges have no seat, event or enrolment: those three are indexed only where set
    # (partial indexes below), so planning 100,000 nudges does not write 300,000 NULL entries.
    seat = models.ForeignKey(
        "tenancy.Seat",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nudges",
        db_index=False,
    )
    to_email = models.EmailField(blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MESSAGE)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    event = models.ForeignKey(
        OrchestratedEvent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="nudges",
        db_index=False,
    )
    enrollment = models.ForeignKey(
        Enrollment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="nudges",
        db_index=False,
    )
    scheduled_for = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=36, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # ``?updated_since=`` reads it. ``auto_now`` covers ``save()`` (the admin); most writes are
    # guarded ``QuerySet.update()`` calls or raw SQL, which skip it, so each sets it itself.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_for", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="nudge_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False) | Q(seat__isnull=False), name="nudge_has_target"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "scheduled_for"], name="nudge_org_member"
            ),
            # The dispatcher's queue across organizations: only nudges still to send.
            models.Index(
                fields=["scheduled_for"], condition=Q(status="scheduled"), name="nudge_due_queue"
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="nudge_sending_lease"
            ),
            # Cancelling an event's or an enrolment's nudges, and the cascades that delete them.
            models.Index(fields=["event"], condition=Q(event__isnull=False), name="nudge_event"),
            models.Index(
                fields=["enrollment"],
                condition=Q(enrollment__isnull=False),
                name="nudge_enrollment",
            ),
            models.Index(fields=["seat"], condition=Q(seat__isnull=False), name="nudge_seat"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.member or self.seat}"


class DomainEventCursor(TenantModel):
    """How far one consumer has read an organization's domain events, so each is handled once.

    A consumer (e.g. ``playbook:12`` for a band-entered playbook) reads the events with an id
    above ``last_event_id`` and moves the cursor in the same transaction as what it did with them.
    """

    consumer = models.CharField(max_length=100)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["consumer"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "consumer"], name="domain_event_cursor_unique_consumer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} at #{self.last_event_id}"
