"""What the API shows of orchestrated events, tasks and nudges, and the bodies it accepts.

Bodies are checked here for shape and bounds only (types, lengths, a sane range of dates, ids
inside the caller's organization); the domain's rules stay in the services, which the views call
with the validated values, exactly as the pages do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from members.models import Member
from orchestration.events import MAX_LEAD_DAYS
from orchestration.models import Nudge, OrchestratedEvent, Task
from tenancy.api.fields import TenantRelatedField
from tenancy.models import Seat

# Dates outside these years are typing mistakes, and some are beyond what time-zone arithmetic
# can represent: refused with a message rather than reaching the services.
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2099
MAX_TEXT: Final = 10_000
MAX_REASON: Final = 500
MAX_LEADS: Final = 10


class _InYears:
    """Refuses a parsed date or date and time outside FIRST_YEAR to LAST_YEAR, naming it as
    ``noun`` in the message."""

    noun = "date"

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            raise serializers.ValidationError(
                f"Give a {self.noun} between the years {FIRST_YEAR} and {LAST_YEAR}."
            )
        return parsed


class MomentField(_InYears, serializers.DateTimeField):
    """An ISO 8601 date and time between the years 2000 and 2099."""


class DayField(_InYears, serializers.DateField):
    """An ISO 8601 calendar day between the years 2000 and 2099."""

    noun = "day"


# --- orchestrated events -------------------------------------------------------------------------

EVENT_KINDS: Final = [
    ("manual", "Made by hand (or through the API)"),
    ("playbook", "Made by a playbook step"),
]


class OrchestratedEventSerializer(serializers.ModelSerializer):
    lead_days = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Days before, largest first: the first announces, the others remind.",
    )
    kind = serializers.SerializerMethodField()

    class Meta:
        model = OrchestratedEvent
        fields = [
            "id",
            "member",
            "title",
            "description",
            "scheduled_for",
            "lead_days",
            "status",
            "kind",
            "announced_at",
            "happened_at",
            "confirmed_at",
            "closed_at",
            "enrollment",
            "step",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=EVENT_KINDS))
    def get_kind(self, event: OrchestratedEvent) -> str:
        return "playbook" if event.enrollment_id is not None else "manual"


class OrchestratedEventCreateSerializer(serializers.Serializer):
    member = TenantRelatedField(Member, help_text="The member it will happen to.")
    title = serializers.CharField(
        max_length=OrchestratedEvent._meta.get_field("title").max_length,
        help_text="What will happen, e.g. 'Annual membership review'.",
    )
    description = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, default=""
    )
    scheduled_for = MomentField(help_text="When it will happen, with its time zone.")
    lead_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_LEAD_DAYS),
        min_length=1,
        max_length=MAX_LEADS,
        help_text="Days before the event: the largest announces it, the others remind.",
    )
    announce = serializers.BooleanField(
        default=True,
        help_text="Announce at once (plan its announcement and reminders); false leaves it "
        "planned, to announce later.",
    )


class EventMomentSerializer(serializers.Serializer):
    at = MomentField(
        required=False,
        help_text="When it happened (or was confirmed, or missed); now when left out. Not in the "
        "future.",
    )


class EventCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_REASON,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it was called off (logged with the event).",
    )


# --- tasks ---------------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    is_done = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "member",
            "owner",
            "title",
            "notes",
            "due_on",
            "is_done",
            "done_at",
            "enrollment",
            "step",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(help_text="Whether it has been done."))
    def get_is_done(self, task: Task) -> bool:
        return task.done_at is not None


def _owner_field(**kwargs: Any) -> TenantRelatedField:
    return TenantRelatedField(
        Seat,
        allow_null=True,
        help_text="The seat (an MSM or an admin) who will do it; null leaves it unassigned.",
        **kwargs,
    )


class TaskCreateSerializer(serializers.Serializer):
    member = TenantRelatedField(Member, help_text="The member the task is about.")
    title = serializers.CharField(
        max_length=Task._meta.get_field("title").max_length, help_text="What is to be done."
    )
    notes = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    due_on = DayField(help_text="The day it is due, on the organization's calendar.")
    owner = _owner_field(
        required=False,
        default=None,
        # Left out, the task goes to the member's owner when that seat works accounts.
    )


class TaskUpdateSerializer(serializers.Serializer):
    """Every field optional: only those given change."""

    title = serializers.CharField(
        max_length=Task._meta.get_field("title").max_length, required=False
    )
    notes = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    due_on = DayField(required=False)
    owner = _owner_field(required=False)


class TaskCompleteSerializer(serializers.Serializer):
    at = MomentField(
        required=False, help_text="When it was done; now when left out. Not in the future."
    )


# --- nudges --------------------------------------------------------------------------------------


class NudgeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Nudge
        fields = [
            "id",
            "member",
            "seat",
            "to_email",
            "channel",
            "kind",
            "subject",
            "body",
            "event",
            "enrollment",
            "scheduled_for",
            "status",
            "attempts",
            "last_error",
            "sent_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
