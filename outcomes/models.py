"""Desired outcomes: what each member wants to reach (Goals with their Conditions and time
frame) and how they need to be served on the way (Appropriate Experience)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from engagement.choices import Channel, EngagementType
from tenancy.models import TenantModel


class DesiredOutcome(TenantModel):
    """A member's desired outcome: the goals they pursue and the experience they need.
    A member may hold several, stacked and changing over time."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="desired_outcomes"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_active", "created_at", "pk"]
        indexes = [models.Index(fields=["organization", "member"], name="outcome_org_member")]

    def __str__(self) -> str:
        return self.title


class Goal(TenantModel):
    """Objective + conditions + time frame. No time frame, no goal."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ACHIEVED = "achieved", "Achieved"
        HOLLOW = "hollow", "Hollow success"
        MISSED = "missed", "Missed"
        ABANDONED = "abandoned", "Abandoned"
        SUPERSEDED = "superseded", "Superseded"

    CLOSED = frozenset({Status.ACHIEVED, Status.MISSED, Status.ABANDONED, Status.SUPERSEDED})

    desired_outcome = models.ForeignKey(
        DesiredOutcome, on_delete=models.CASCADE, related_name="goals"
    )
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="goals")
    objective = models.TextField()
    metric_name = models.CharField(max_length=100, blank=True)
    metric_unit = models.CharField(max_length=30, blank=True)
    baseline = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    target = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    current_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    objective_reached_on = models.DateField(
        null=True,
        blank=True,
        help_text="When the objective itself was reached (metric or by hand).",
    )
    starts_on = models.DateField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("starts_on")), name="goal_due_after_start"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "status"], name="goal_org_member_status"
            ),
            models.Index(fields=["organization", "status", "due_on"], name="goal_org_status_due"),
        ]

    def __str__(self) -> str:
        return self.objective[:80]

    @property
    def is_measurable(self) -> bool:
        return self.target is not None


class GoalMetricReading(TenantModel):
    """The history of a goal's current value: readings are added, never overwritten."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="readings")
    value = models.DecimalField(max_digits=14, decimal_places=4)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=20, default="manual")

    class Meta:
        ordering = ["recorded_at", "pk"]
        indexes = [
            models.Index(fields=["organization", "goal", "recorded_at"], name="reading_org_goal")
        ]

    def __str__(self) -> str:
        return f"{self.goal_id}: {self.value} at {self.recorded_at:%Y-%m-%d}"


class Condition(TenantModel):
    """A quality the member needs for the goal to feel like success."""

    class Kind(models.TextChoices):
        MEASURABLE = "measurable", "Measurable"
        CONFIRMED = "confirmed", "Confirmed by the member"

    class Comparison(models.TextChoices):
        GTE = "gte", "at least"
        GT = "gt", "more than"
        LTE = "lte", "at most"
        LT = "lt", "less than"
        EQ = "eq", "exactly"

    class State(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        MET = "met", "Met"
        NOT_MET = "not_met", "Not met"

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="conditions")
    description = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CONFIRMED)
    metric_name = models.CharField(max_length=100, blank=True)
    comparison = models.CharField(max_length=3, choices=Comparison.choices, blank=True)
    threshold = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    observed_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.UNKNOWN)
    evidence = models.TextField(blank=True)
    assessed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="confirmed") | Q(threshold__isnull=False) & ~Q(comparison=""),
                name="condition_measurable_has_threshold",
            ),
        ]
        indexes = [models.Index(fields=["organization", "goal"], name="condition_org_goal")]

    def __str__(self) -> str:
        return self.description


class AppropriateExperience(TenantModel):
    """One element of the experience a member requires, delivered at a cadence."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="experience_elements"
    )
    desired_outcome = models.ForeignKey(
        DesiredOutcome, null=True, blank=True, on_delete=models.SET_NULL, related_name="experience"
    )
    description = models.CharField(max_length=300)
    engagement_type = models.CharField(max_length=20, choices=EngagementType.choices)
    cadence_days = models.PositiveIntegerField(help_text="Delivered at least every N days.")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    required = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "appropriate experience element"
        ordering = ["-required", "cadence_days", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(cadence_days__gte=1), name="ax_cadence_positive"),
        ]
        indexes = [models.Index(fields=["organization", "member"], name="ax_org_member")]

    def __str__(self) -> str:
        return self.description
