"""Engagements and context events as the API shows and accepts them.

Reads show related rows by id. Writes are checked here for shape (types, lengths, ids of the
caller's organization) and then by the services for the domain's rules, as pages are.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from engagement.choices import EngagementType
from engagement.models import ContextEvent, Engagement
from members.models import Member
from outcomes.models import Goal
from tenancy.api.fields import TenantRelatedField
from tenancy.api.representation import FastRepresentation
from tenancy.models import Seat

MAX_MINUTES = 2_147_483_647  # PositiveIntegerField's largest value
MAX_SUMMARY = 20_000


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant with its offset: a time without one is ambiguous, so it is refused
    (as the services and the bulk ingest refuse it) rather than read in some time zone."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise serializers.ValidationError("Give the time with its time zone.")
        return super().to_internal_value(value)


class EngagementSerializer(FastRepresentation, serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id", read_only=True)
    seat = serializers.IntegerField(
        source="seat_id", read_only=True, allow_null=True, help_text="Empty when automated."
    )
    goal = serializers.IntegerField(source="goal_id", read_only=True, allow_null=True)

    class Meta:
        model = Engagement
        fields = [
            "id",
            "member",
            "seat",
            "direction",
            "type",
            "occurred_at",
            "summary",
            "goal",
            "duration_minutes",
            "group_key",
            "created_at",
        ]
        read_only_fields = fields


class EngagementCreateSerializer(serializers.Serializer):
    member = TenantRelatedField(Member, help_text="The member's id.")
    direction = serializers.ChoiceField(choices=Engagement.Direction.choices)
    type = serializers.ChoiceField(choices=EngagementType.choices)
    occurred_at = AwareDateTimeField()
    seat = TenantRelatedField(
        Seat,
        required=False,
        allow_null=True,
        help_text="Who engaged. Omitted: the signed-in person, or automated for an API key.",
    )
    summary = serializers.CharField(required=False, allow_blank=True, max_length=MAX_SUMMARY)
    goal = TenantRelatedField(
        Goal, required=False, allow_null=True, help_text="One of this member's goals."
    )
    duration_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_MINUTES
    )


class ContextEventSerializer(FastRepresentation, serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id", read_only=True)
    payload = serializers.DictField(read_only=True)

    class Meta:
        model = ContextEvent
        fields = [
            "id",
            "member",
            "kind",
            "name",
            "value",
            "occurred_at",
            "source",
            "payload",
            "external_id",
            "recorded_at",
        ]
        read_only_fields = fields


class _ContextEventFields(serializers.Serializer):
    """The fields an event is sent with, singly or in a batch."""

    kind = serializers.ChoiceField(choices=ContextEvent.Kind.choices)
    name = serializers.CharField(
        max_length=100,
        help_text="What happened, as a key milestone rules match on: letters, digits, _ . -",
    )
    occurred_at = AwareDateTimeField(help_text="ISO 8601 with its time zone; not in the future.")
    value = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="A count, score or amount (kept to 4 decimal places, below 10^10).",
    )
    payload = serializers.DictField(
        required=False, help_text="Anything else about the event, as an object."
    )
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        help_text="Your id for the event: sending it again stores nothing twice.",
    )


class ContextEventCreateSerializer(_ContextEventFields):
    member = TenantRelatedField(Member, help_text="The member's id.")


class ContextEventBulkItemSerializer(_ContextEventFields):
    """One event of a bulk request (documentation: the service checks each item itself)."""

    member_id = serializers.IntegerField(
        required=False, min_value=1, help_text="The member's id; or give member_external_id."
    )
    member_external_id = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The member's id in your own systems (Member.external_id).",
    )


class BulkAcceptedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request, from 0.")
    id = serializers.IntegerField(help_text="The stored context event's id.")
    member = serializers.IntegerField(help_text="The member it belongs to.")
    external_id = serializers.CharField()
    already_stored = serializers.BooleanField(
        help_text="True when this external id was stored before (or earlier in this request): "
        "nothing new was written for it."
    )


class BulkRefusedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request, from 0.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field by field, the reasons; nothing of this item was stored.",
    )


class BulkResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Events this request stored.")
    already_stored = serializers.IntegerField(help_text="Accepted events that were stored before.")
    accepted = BulkAcceptedSerializer(many=True)
    refused = BulkRefusedSerializer(many=True)
