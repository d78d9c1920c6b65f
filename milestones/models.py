"""Progress milestones on the way to a desired outcome, and joint accountability: who commits
to what, on both sides, for each goal."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tenancy.models import TenantModel


class MilestoneType(models.TextChoices):
    FUNCTIONAL = "functional", "Functional"
    OPERATIONAL = "operational", "Operational"
    OPPORTUNE = "opportune", "Opportune"
    STRATEGIC = "strategic", "Strategic"


class MilestoneDefinition(TenantModel):
    """An organization's expected milestone: what, of which type, and when it is due."""

    class Anchor(models.TextChoices):
        JOINED = "joined", "after joining"
        GOAL_START = "goal_start", "after the goal starts"

    Type = MilestoneType

    name = models.CharField(max_length=120)
    type = models.CharField(max_length=12, choices=MilestoneType.choices)
    description = models.TextField(blank=True)
    expected_after_days = models.PositiveIntegerField(default=30)
    anchor = models.CharField(max_length=10, choices=Anchor.choices, default=Anchor.JOINED)
    match_event_name = models.CharField(
        max_length=100, blank=True, help_text="A context event with this name achieves it."
    )
    match_min_value = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="…when its value is at least this (empty: any value).",
    )
    is_active = models.BooleanField(default=True)
    # For the API's incremental sync (?updated_since=): a definition changes after it is made.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expected_after_days", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="milestone_def_unique_name"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "match_event_name"], name="milestone_def_org_match"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProgressMilestone(TenantModel):
    """A milestone for one member: from a definition or ad hoc, pending until achieved."""

    class Via(models.TextChoices):
        MANUAL = "manual", "By hand"
        API = "api", "API"
        RULE = "rule", "Matching context event"

    Type = MilestoneType

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="milestones"
    )
    definition = models.ForeignKey(
        MilestoneDefinition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="milestones",
    )
    goal = models.ForeignKey(
        "outcomes.Goal", null=True, blank=True, on_delete=models.CASCADE, related_name="milestones"
    )
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=12, choices=MilestoneType.choices)
    due_on = models.DateField(null=True, blank=True)
    achieved_at = models.DateTimeField(null=True, blank=True)
    achieved_via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    context_event = models.ForeignKey(
        "engagement.ContextEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Achieving or reopening changes the row: incremental sync reads this, not created_at.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(type="strategic") | Q(goal__isnull=False),
                name="strategic_milestone_has_goal",
            ),
            models.CheckConstraint(
                condition=Q(achieved_at__isnull=True) | ~Q(achieved_via=""),
                name="achieved_milestone_says_how",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "due_on"], name="milestone_org_member_due"
            ),
            models.Index(
                fields=["organization", "definition", "achieved_at"], name="milestone_org_def"
            ),
            models.Index(fields=["organization", "updated_at"], name="milestone_org_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.member}"

    @property
    def is_achieved(self) -> bool:
        return self.achieved_at is not None


class Commitment(TenantModel):
    """One commitment in a goal's joint-accountability plan."""

    class Party(models.TextChoices):
        MEMBER_OUTSIDE = "member_outside", "Member, outside our offerings"
        MEMBER_INSIDE = "member_inside", "Member, inside our offerings"
        TOGETHER = "together", "Together"
        US_BEHIND_SCENES = "us_behind_scenes", "Us, behind the scenes"

    OUR_SIDE = frozenset({Party.TOGETHER, Party.US_BEHIND_SCENES})

    goal = models.ForeignKey("outcomes.Goal", on_delete=models.CASCADE, related_name="commitments")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="commitments"
    )
    party = models.CharField(max_length=20, choices=Party.choices)
    description = models.CharField(max_length=300)
    owner_seat = models.ForeignKey(
        "tenancy.Seat", null=True, blank=True, on_delete=models.SET_NULL, related_name="commitments"
    )
    owner_name = models.CharField(
        max_length=120, blank=True, help_text="Who on the member's side, when it is theirs."
    )
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Keeping or reopening a commitment changes the row: incremental sync reads this.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [
            models.Index(fields=["organization", "goal", "party"], name="commitment_org_goal"),
            models.Index(fields=["organization", "member", "due_on"], name="commitment_org_member"),
            models.Index(fields=["organization", "updated_at"], name="commitment_org_updated"),
        ]

    def __str__(self) -> str:
        return self.description
