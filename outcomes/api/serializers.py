"""Bodies of the outcomes API: what integrators send (checked for shape and size here, for
the domain's rules by the services) and what they read back."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engagement.choices import Channel, EngagementType
from members.models import Member
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    SuccessGapSnapshot,
)
from tenancy.api.fields import TenantRelatedField
from tenancy.api.representation import FastRepresentation

NUMBER = {"max_digits": 14, "decimal_places": 4}
LONG_TEXT = 10_000
# Goal time frames stay within these years: dates past them are typos, and date arithmetic on
# them (milestones due a number of days after the start) would overflow.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)


def _plausible_date(value: dt.date | None) -> None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise serializers.ValidationError("Give a date between 1900 and 2999.")


def _plausible_instant(value: dt.datetime | None) -> None:
    if value is not None:
        _plausible_date(value.date())


def _date_field(**kwargs) -> serializers.DateField:
    return serializers.DateField(validators=[_plausible_date], **kwargs)


def _number_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**NUMBER, coerce_to_string=False, **kwargs)


# --- desired outcomes ------------------------------------------------------------------------


class DesiredOutcomeSerializer(FastRepresentation, serializers.ModelSerializer):
    class Meta:
        model = DesiredOutcome
        fields = ["id", "member", "title", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class DesiredOutcomeCreateSerializer(serializers.Serializer):
    member = TenantRelatedField(Member, help_text="The member's id.")
    title = serializers.CharField(max_length=200, allow_blank=True)
    description = serializers.CharField(max_length=LONG_TEXT, allow_blank=True, required=False)


class DesiredOutcomeUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    description = serializers.CharField(max_length=LONG_TEXT, allow_blank=True, required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="False sets it aside; its goals keep their statuses."
    )


# --- conditions ------------------------------------------------------------------------------


class ConditionSerializer(FastRepresentation, serializers.ModelSerializer):
    comparison = serializers.ChoiceField(
        Condition.Comparison.choices,
        allow_blank=True,
        read_only=True,
        help_text="Blank for a condition the member confirms.",
    )
    threshold = _number_field(read_only=True, allow_null=True)
    observed_value = _number_field(read_only=True, allow_null=True)

    class Meta:
        model = Condition
        fields = [
            "id",
            "goal",
            "description",
            "kind",
            "metric_name",
            "comparison",
            "threshold",
            "state",
            "observed_value",
            "evidence",
            "assessed_on",
            "updated_at",
        ]
        read_only_fields = fields


class ConditionInputSerializer(serializers.Serializer):
    """What a condition asks for. A measurable one needs a comparison and a threshold; one the
    member confirms has neither."""

    description = serializers.CharField(max_length=300, allow_blank=True)
    kind = serializers.ChoiceField(Condition.Kind.choices, required=False)
    metric_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    comparison = serializers.ChoiceField(
        Condition.Comparison.choices, allow_blank=True, required=False
    )
    threshold = _number_field(allow_null=True, required=False)


class ConditionCreateSerializer(ConditionInputSerializer):
    goal = TenantRelatedField(Goal, help_text="The goal's id; it must still be open.")


class ConditionAssessSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        Condition.State.choices,
        allow_null=True,
        required=False,
        help_text="For a condition the member confirms; a measurable one is decided by "
        "observed_value against its threshold.",
    )
    observed_value = _number_field(allow_null=True, required=False)
    evidence = serializers.CharField(max_length=1000, allow_blank=True, required=False)
    assessed_on = _date_field(
        allow_null=True, required=False, help_text="Defaults to the organization's today."
    )


# --- goals -----------------------------------------------------------------------------------


# Where the goals API's read leaves each goal's conditions: ``Prefetch(..., to_attr=...)``.
GOAL_CONDITIONS_ATTR = "listed_conditions"


class GoalConditionsSerializer(serializers.ListSerializer):
    """A goal's conditions, taken from the plain list the API's read left on the goal when
    there is one, else from the related manager as DRF does.

    With ``to_attr``, Django's prefetch gives each goal a list; without it, it builds a related
    manager's queryset per goal (a clone and a filter, ~15 µs, 50 times a page) only to hold
    the same rows in its result cache."""

    def get_attribute(self, instance: Goal):
        listed = instance.__dict__.get(GOAL_CONDITIONS_ATTR)
        if listed is not None:
            return listed
        return super().get_attribute(instance)


class GoalSerializer(FastRepresentation, serializers.ModelSerializer):
    baseline = _number_field(read_only=True, allow_null=True)
    target = _number_field(read_only=True, allow_null=True)
    current_value = _number_field(read_only=True, allow_null=True)
    # What ConditionSerializer(many=True, read_only=True) builds, with the list read above.
    conditions = GoalConditionsSerializer(child=ConditionSerializer(read_only=True), read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id",
            "desired_outcome",
            "member",
            "objective",
            "metric_name",
            "metric_unit",
            "baseline",
            "target",
            "current_value",
            "objective_reached_on",
            "starts_on",
            "due_on",
            "status",
            "status_changed_at",
            "supersedes",
            "created_at",
            "updated_at",
            "conditions",
        ]
        read_only_fields = fields


class GoalDefinitionSerializer(serializers.Serializer):
    """A goal as set: objective, conditions and time frame (no time frame, no goal); a
    measurable objective also has a baseline and a target."""

    objective = serializers.CharField(max_length=2000, allow_blank=True)
    starts_on = _date_field(
        allow_null=True, default=None, help_text="No time frame, no goal: give it."
    )
    due_on = _date_field(
        allow_null=True, default=None, help_text="No time frame, no goal: give it."
    )
    metric_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    metric_unit = serializers.CharField(max_length=30, allow_blank=True, required=False)
    baseline = _number_field(allow_null=True, required=False)
    target = _number_field(allow_null=True, required=False)
    current_value = _number_field(allow_null=True, required=False)
    conditions = ConditionInputSerializer(many=True, required=False, max_length=50)


class GoalCreateSerializer(GoalDefinitionSerializer):
    desired_outcome = TenantRelatedField(DesiredOutcome, help_text="The desired outcome's id.")


class GoalPivotSerializer(GoalDefinitionSerializer):
    reason = serializers.CharField(max_length=1000, allow_blank=True, required=False)


# Set once; changing them is a pivot (POST /goals/{goal_id}/pivot), which keeps the history.
PIVOT_ONLY_FIELDS = (
    "desired_outcome",
    "member",
    "objective",
    "metric_name",
    "metric_unit",
    "baseline",
    "target",
    "starts_on",
    "due_on",
    "supersedes",
    "conditions",
)


class GoalUpdateSerializer(serializers.Serializer):
    current_value = _number_field(
        required=False, help_text="A new reading of the metric of a measurable goal."
    )
    recorded_at = serializers.DateTimeField(
        required=False,
        validators=[_plausible_instant],
        help_text="When current_value was measured (default now).",
    )
    objective_reached_on = _date_field(
        required=False, help_text="The day a qualitative objective was reached."
    )
    status = serializers.ChoiceField(
        Goal.Status.choices,
        required=False,
        help_text="Only 'abandoned' is set by hand; the rule decides the others.",
    )
    reason = serializers.CharField(max_length=1000, allow_blank=True, required=False)

    def validate(self, attrs: dict) -> dict:
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        errors = {
            name: "A goal's objective, measure and time frame are not rewritten: pivot it "
            "(POST /goals/{goal_id}/pivot) so its history is kept."
            for name in PIVOT_ONLY_FIELDS
            if name in data
        }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- Appropriate Experience ------------------------------------------------------------------


class AppropriateExperienceSerializer(FastRepresentation, serializers.ModelSerializer):
    class Meta:
        model = AppropriateExperience
        fields = [
            "id",
            "member",
            "desired_outcome",
            "description",
            "engagement_type",
            "cadence_days",
            "channel",
            "required",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ExperienceFieldsSerializer(serializers.Serializer):
    desired_outcome = TenantRelatedField(
        DesiredOutcome,
        allow_null=True,
        required=False,
        help_text="One of the same member's desired outcomes, or null.",
    )
    description = serializers.CharField(max_length=300, allow_blank=True)
    engagement_type = serializers.ChoiceField(EngagementType.choices)
    cadence_days = serializers.IntegerField(
        max_value=3660, help_text="Delivered at least every this many days (1 or more)."
    )
    channel = serializers.ChoiceField(Channel.choices)
    required = serializers.BooleanField(required=False)


class ExperienceCreateSerializer(ExperienceFieldsSerializer):
    member = TenantRelatedField(Member, help_text="The member's id.")


# --- success gap -----------------------------------------------------------------------------


class GapPartsSerializer(serializers.Serializer):
    """The counts a score was made from, so it can be recomputed by hand."""

    milestones_due = serializers.IntegerField()
    milestones_done = serializers.IntegerField()
    commitments_due = serializers.IntegerField()
    commitments_done = serializers.IntegerField()
    goals_active = serializers.IntegerField()
    pace = serializers.FloatField(allow_null=True, help_text="Mean pace of active goals, 0–1.")
    conditions_total = serializers.IntegerField()
    conditions_met = serializers.IntegerField()
    strategic_due = serializers.IntegerField()
    strategic_done = serializers.IntegerField()
    experience_required = serializers.IntegerField()
    experience_fulfilled = serializers.IntegerField()


class SuccessGapSnapshotSerializer(FastRepresentation, serializers.ModelSerializer):
    parts = GapPartsSerializer(source="*", read_only=True)
    weights = serializers.SerializerMethodField(
        help_text="The weights and thresholds of the run that made this score."
    )

    class Meta:
        model = SuccessGapSnapshot
        fields = [
            "id",
            "member",
            "run",
            "computed_at",
            "gap",
            "band",
            "functional",
            "outcome",
            "pace",
            "parts",
            "weights",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "number"}},
    )
    def get_weights(self, snapshot: SuccessGapSnapshot) -> dict[str, float]:
        configuration = snapshot.run.configuration or {}
        return {
            name: float(value)
            for name, value in configuration.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }


class MemberSuccessGapSerializer(serializers.Serializer):
    member = serializers.IntegerField(help_text="The member's id.")
    headline = serializers.CharField(help_text="The latest score in one sentence.")
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="Each part of the score, in words."
    )
    change_since_previous = serializers.FloatField(
        allow_null=True, help_text="Gap now minus the gap of the previous snapshot."
    )
    change_since_30_days = serializers.FloatField(
        allow_null=True, help_text="Gap now minus the latest gap at least 30 days old."
    )
    snapshot = SuccessGapSnapshotSerializer(
        allow_null=True, help_text="The latest snapshot; null when not scored yet."
    )
