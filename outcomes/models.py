"""Desired outcomes: what each member wants to reach (Goals with their Conditions and time
frame) and how they need to be served on the way (Appropriate Experience)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from engagement.choices import Channel, EngagementType
from tenancy.models import Organization, TenantModel


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
    updated_at = models.DateTimeField(auto_now=True)

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
            # The API's list order (due date, then id): a page is read off the index instead of
            # sorting every goal of the organization on each call.
            models.Index(fields=["organization", "due_on", "id"], name="goal_org_due"),
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
    updated_at = models.DateTimeField(auto_now=True)

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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "appropriate experience element"
        ordering = ["-required", "cadence_days", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(cadence_days__gte=1), name="ax_cadence_positive"),
        ]
        indexes = [
            models.Index(fields=["organization", "member"], name="ax_org_member"),
            # Scoring reads the organization's longest cadence of required, active elements
            # (the oldest engagement that can still count) from the end of this index.
            models.Index(
                fields=["organization", "cadence_days"],
                condition=Q(required=True, is_active=True),
                name="ax_org_required_cadence",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class ScoringConfiguration(TenantModel):
    """An organization's weights and thresholds for the success gap (see outcomes/scoring.py).

    Weights are relative: each part counts in proportion to its weight among the parts a member
    has data for. Thresholds decide the band from the gap (0–100) and from the pace (0–1).
    """

    milestones_weight = models.FloatField(
        default=3.0, help_text="F: due functional/operational milestones done."
    )
    commitments_weight = models.FloatField(
        default=1.0, help_text="F: due commitments on our side done."
    )
    pace_weight = models.FloatField(default=3.0, help_text="O: goal progress against the pace due.")
    conditions_weight = models.FloatField(default=2.0, help_text="O: share of conditions met.")
    strategic_weight = models.FloatField(
        default=1.0, help_text="O: due strategic milestones reached."
    )
    experience_weight = models.FloatField(
        default=1.0, help_text="O: required experience delivered on cadence."
    )
    watch_gap = models.FloatField(default=20.0, help_text="A gap at or above this is 'watch'.")
    at_risk_gap = models.FloatField(default=40.0, help_text="A gap at or above this is 'at risk'.")
    watch_pace = models.FloatField(default=0.8, help_text="A pace below this is at least 'watch'.")
    at_risk_pace = models.FloatField(default=0.5, help_text="A pace below this is 'at risk'.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], name="scoring_configuration_one_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"Scoring of organization {self.organization_id}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors: dict[str, str] = {}
        weights = [
            "milestones_weight",
            "commitments_weight",
            "pace_weight",
            "conditions_weight",
            "strategic_weight",
            "experience_weight",
        ]
        for name in weights:
            if getattr(self, name) is None or getattr(self, name) < 0:
                errors[name] = "A weight cannot be negative."
        if not errors:
            if self.milestones_weight + self.commitments_weight <= 0:
                errors["milestones_weight"] = "Functional completion needs a weight above zero."
            if (
                self.pace_weight
                + self.conditions_weight
                + self.strategic_weight
                + self.experience_weight
                <= 0
            ):
                errors["pace_weight"] = "Outcome attainment needs a weight above zero."
        if not 0 < self.watch_gap < self.at_risk_gap <= 100:
            errors["at_risk_gap"] = "Thresholds must be ordered: 0 < watch gap < at-risk gap ≤ 100."
        if not 0 <= self.at_risk_pace < self.watch_pace <= 1:
            errors["watch_pace"] = (
                "Pace thresholds must be ordered: 0 ≤ at-risk pace < watch pace ≤ 1."
            )
        if errors:
            raise ValidationError(errors)

    def as_dict(self) -> dict[str, float]:
        return {
            field.name: getattr(self, field.name)
            for field in self._meta.fields
            if isinstance(field, models.FloatField)
        }


class Band(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    WATCH = "watch", "Watch"
    AT_RISK = "at_risk", "At risk"
    NO_OUTCOME = "no_outcome", "No desired outcome recorded"


class SuccessGapRun(TenantModel):
    """One computation over some or all of an organization's members, with the weights used."""

    computed_at = models.DateTimeField()
    as_of = models.DateField(help_text="The organization's local date the scores are for.")
    configuration = models.JSONField(default=dict)
    members_scored = models.PositiveIntegerField(default=0)
    # A run scored in chunks by several tasks knows how many members it must hold: it is
    # finished only once it holds them all, and a lost chunk is sent again by a sweep.
    members_expected = models.PositiveIntegerField(null=True, blank=True)
    repairs = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["organization", "computed_at"], name="gaprun_org_computed")]

    def __str__(self) -> str:
        return f"Run {self.pk} at {self.computed_at:%Y-%m-%d %H:%M}"


# Scoring relies on it to refuse a chunk's second insert (outcomes/scoring.py).
ONE_SNAPSHOT_PER_MEMBER_PER_RUN = "snapshot_one_per_member_per_run"


class SuccessGapSnapshot(TenantModel):
    """A member's success gap at one moment, with every count that made it.

    The counts are columns (written by one INSERT … SELECT), so any score can be explained and
    recomputed by hand; ``parts`` returns them as a dictionary.
    """

    # Every snapshot written pays for every index of the table, and scoring writes one per
    # member every night: the organization's, the run's and the member's own indexes would only
    # repeat the leading columns of the two below (Meta), so they are left out.
    # The run and the member are checked by the database once per statement, not per row, in
    # the snapshot's organization (outcomes/snapshot_keys.py); the organization through them.
    # Deleting a member or a run deletes its snapshots in the database too, through the
    # organization's indexes below: Django's own cascade (DO_NOTHING here) would delete them by
    # member or run id alone, which needs an index of its own on each.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    run = models.ForeignKey(
        SuccessGapRun,
        on_delete=models.DO_NOTHING,
        related_name="snapshots",
        db_index=False,
        db_constraint=False,
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.DO_NOTHING,
        related_name="gap_snapshots",
        db_index=False,
        db_constraint=False,
    )
    computed_at = models.DateTimeField()
    functional = models.FloatField(null=True, help_text="F, 0–1")
    outcome = models.FloatField(null=True, help_text="O, 0–1")
    gap = models.FloatField(null=True, help_text="max(0, F − O) × 100")
    pace = models.FloatField(null=True, help_text="Mean pace of active goals, 0–1")
    band = models.CharField(max_length=10, choices=Band.choices)
    milestones_due = models.PositiveIntegerField(default=0)
    milestones_done = models.PositiveIntegerField(default=0)
    commitments_due = models.PositiveIntegerField(default=0)
    commitments_done = models.PositiveIntegerField(default=0)
    goals_active = models.PositiveIntegerField(default=0)
    conditions_total = models.PositiveIntegerField(default=0)
    conditions_met = models.PositiveIntegerField(default=0)
    strategic_due = models.PositiveIntegerField(default=0)
    strategic_done = models.PositiveIntegerField(default=0)
    experience_required = models.PositiveIntegerField(default=0)
    experience_fulfilled = models.PositiveIntegerField(default=0)

    PART_FIELDS = (
        "milestones_due",
        "milestones_done",
        "commitments_due",
        "commitments_done",
        "goals_active",
        "pace",
        "conditions_total",
        "conditions_met",
        "strategic_due",
        "strategic_done",
        "experience_required",
        "experience_fulfilled",
    )

    class Meta:
        ordering = ["-computed_at", "-pk"]
        constraints = [
            # With the moment: on PostgreSQL the table is partitioned by it, and a
            # partitioned table's keys must hold it (outcomes/partitions.py). A run's snapshots
            # all have the run's moment, so this still allows one per member per run.
            models.UniqueConstraint(
                fields=["organization", "run", "member", "computed_at"],
                name=ONE_SNAPSHOT_PER_MEMBER_PER_RUN,
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "member", "computed_at"], name="snapshot_org_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: gap {self.gap} ({self.band})"

    @property
    def parts(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.PART_FIELDS}
