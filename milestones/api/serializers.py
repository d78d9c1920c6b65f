"""What the milestones API reads and writes.

Output serializers describe rows; input serializers check shapes (types, lengths, ranges)
before anything reaches a service, and the services apply the domain's rules. References in
bodies are ids resolved inside the caller's organization.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from members.models import Member
from milestones.models import Commitment, MilestoneDefinition, MilestoneType, ProgressMilestone
from milestones.selectors import (
    CommitmentStatus,
    MilestoneStatus,
    commitment_status,
    milestone_status,
)
from milestones.services import MAX_EXPECTED_AFTER_DAYS
from outcomes.models import Goal
from tenancy.api.fields import TenantRelatedField, named_choice_field
from tenancy.models import Seat

# Long enough for any real description, short enough that a pasted novel is refused.
DESCRIPTION_MAX_LENGTH = 5000


MilestoneTypeField = named_choice_field("MilestoneType", MilestoneType.choices)
AnchorField = named_choice_field("MilestoneAnchor", MilestoneDefinition.Anchor.choices)
MilestoneStatusField = named_choice_field("MilestoneStatus", MilestoneStatus.choices)
AchievedViaField = named_choice_field(
    "MilestoneAchievedVia", ProgressMilestone.Via.choices, blank=True
)
PartyField = named_choice_field("CommitmentParty", Commitment.Party.choices)
CommitmentStatusField = named_choice_field("CommitmentStatus", CommitmentStatus.choices)


def _today(serializer: serializers.Serializer) -> dt.date:
    return serializer.context["today"]


def _moment_only_when_true(attrs: dict[str, Any], *, moment: str, flag: str) -> dict[str, Any]:
    """``moment`` says when ``flag`` became true, so it is refused without ``flag: true``."""
    if moment in attrs and attrs.get(flag) is not True:
        raise serializers.ValidationError({moment: [f"Give it with {flag}: true; it says when."]})
    return attrs


# --- milestone definitions -------------------------------------------------------------------


class MilestoneDefinitionSerializer(serializers.ModelSerializer):
    type = MilestoneTypeField(read_only=True)
    anchor = AnchorField(read_only=True)

    class Meta:
        model = MilestoneDefinition
        fields = [
            "id",
            "name",
            "type",
            "description",
            "expected_after_days",
            "anchor",
            "match_event_name",
            "match_min_value",
            "is_active",
            "updated_at",
        ]
        read_only_fields = fields


class MilestoneDefinitionWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    type = MilestoneTypeField(help_text="A strategic milestone is the goal itself.")
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, default=""
    )
    expected_after_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_EXPECTED_AFTER_DAYS,
        default=30,
        help_text="Days after the anchor the milestone is due.",
    )
    anchor = AnchorField(
        default=MilestoneDefinition.Anchor.JOINED,
        help_text="What the days count from; strategic milestones count from the goal's start.",
    )
    match_event_name = serializers.CharField(
        max_length=100,
        allow_blank=True,
        default="",
        help_text="A context event of this name achieves the milestone (empty: by hand only).",
    )
    match_min_value = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        allow_null=True,
        default=None,
        help_text="…when the event's value is at least this (null: any value).",
    )
    is_active = serializers.BooleanField(
        default=True, help_text="false: no longer planned for anyone new."
    )


# --- progress milestones ---------------------------------------------------------------------


class ProgressMilestoneSerializer(serializers.ModelSerializer):
    type = MilestoneTypeField(read_only=True)
    achieved = serializers.BooleanField(source="is_achieved", read_only=True)
    achieved_via = AchievedViaField(read_only=True, help_text="Empty while pending.")
    status = serializers.SerializerMethodField()

    class Meta:
        model = ProgressMilestone
        fields = [
            "id",
            "member",
            "definition",
            "goal",
            "name",
            "type",
            "due_on",
            "status",
            "achieved",
            "achieved_at",
            "achieved_via",
            "context_event",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MilestoneStatusField)
    def get_status(self, milestone: ProgressMilestone) -> str:
        return milestone_status(milestone, today=_today(self)).value


class ProgressMilestoneCreateSerializer(serializers.Serializer):
    member = TenantRelatedField(Member, help_text="The member whose milestone this is.")
    definition = TenantRelatedField(
        MilestoneDefinition,
        allow_null=True,
        default=None,
        help_text="The definition it comes from (null: an ad hoc milestone).",
    )
    goal = TenantRelatedField(
        Goal,
        allow_null=True,
        default=None,
        help_text="One of the member's goals; required for a strategic milestone.",
    )
    name = serializers.CharField(
        max_length=120,
        allow_blank=True,
        default="",
        help_text="Empty: the definition's name.",
    )
    type = MilestoneTypeField(required=False, help_text="Omitted: the definition's type.")
    due_on = serializers.DateField(
        allow_null=True,
        default=None,
        help_text="Null: counted from the definition's anchor, when there is one.",
    )
    achieved_at = serializers.DateTimeField(
        allow_null=True,
        default=None,
        help_text="When it was already achieved (not in the future); null: pending.",
    )


class ProgressMilestoneUpdateSerializer(serializers.Serializer):
    achieved = serializers.BooleanField(
        required=False,
        help_text="true: mark it achieved (by API); false: reopen an achievement marked by "
        "mistake.",
    )
    achieved_at = serializers.DateTimeField(
        required=False, help_text="With achieved: true, when (default: now; not in the future)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _moment_only_when_true(attrs, moment="achieved_at", flag="achieved")


# --- commitments -----------------------------------------------------------------------------


class CommitmentSerializer(serializers.ModelSerializer):
    party = PartyField(read_only=True)
    done = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = Commitment
        fields = [
            "id",
            "goal",
            "member",
            "party",
            "description",
            "owner_seat",
            "owner_name",
            "due_on",
            "status",
            "done",
            "done_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField)
    def get_done(self, commitment: Commitment) -> bool:
        return commitment.done_at is not None

    @extend_schema_field(CommitmentStatusField)
    def get_status(self, commitment: Commitment) -> str:
        return commitment_status(commitment, today=_today(self)).value


class CommitmentCreateSerializer(serializers.Serializer):
    goal = TenantRelatedField(Goal, help_text="The goal whose plan this is; its member commits.")
    party = PartyField(help_text="Whose part of the plan it is.")
    description = serializers.CharField(max_length=300, help_text="What is committed.")
    owner_seat = TenantRelatedField(
        Seat,
        allow_null=True,
        default=None,
        help_text="Someone of ours: only for together or behind-the-scenes commitments.",
    )
    owner_name = serializers.CharField(
        max_length=120,
        allow_blank=True,
        default="",
        help_text="Who on the member's side, when it is theirs.",
    )
    due_on = serializers.DateField(allow_null=True, default=None)


class CommitmentUpdateSerializer(serializers.Serializer):
    done = serializers.BooleanField(
        required=False, help_text="true: kept; false: reopen one ticked by mistake."
    )
    done_at = serializers.DateTimeField(
        required=False, help_text="With done: true, when (default: now; not in the future)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _moment_only_when_true(attrs, moment="done_at", flag="done")
