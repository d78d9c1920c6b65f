"""What the members API reads and writes.

Reads and writes have their own serializers: a member is read with its owner spelled out
(id, email, name) but written with the owner's seat id; every reference in a body is a
``TenantRelatedField``, so another organization's id answers "does not exist". The serializers
only check shapes and sizes; the domain's rules are the services' (the same as the pages').
"""

from __future__ import annotations

from rest_framework import serializers

from members.models import Advocacy, Member, MembershipEvent
from tenancy.api.fields import TenantRelatedField, named_choice_field
from tenancy.api.representation import FastRepresentation
from tenancy.models import Seat

# Notes are free text; this bound keeps a runaway body out of the database.
NOTE_MAX_LENGTH = 10_000


MemberKindField = named_choice_field("MemberKind", Member.Kind.choices)
MemberStatusField = named_choice_field("MemberStatus", Member.Status.choices)
MembershipEventKindField = named_choice_field("MembershipEventKind", MembershipEvent.Kind.choices)
AdvocacyKindField = named_choice_field("AdvocacyKind", Advocacy.Kind.choices)


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The owning seat's id.")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.full_name", help_text="May be empty.")


class MemberSerializer(FastRepresentation, serializers.ModelSerializer):
    kind = MemberKindField()
    status = MemberStatusField()
    # Plain text, not "format: email": a member without a known address reads "".
    email = serializers.CharField(help_text="The member's email address; empty when unknown.")
    owner = OwnerSerializer(allow_null=True, help_text="The owning MSM or admin, or null.")
    coverage_model_id = serializers.IntegerField(
        allow_null=True, help_text="The coverage model this member matched last."
    )
    success_gap = serializers.FloatField(
        allow_null=True, help_text="The latest success gap, 0 to 1 (null until scored)."
    )
    success_band = serializers.CharField(
        help_text="on_track, watch, at_risk or no_outcome; empty until scored."
    )
    success_computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the latest success gap was computed."
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "kind",
            "name",
            "email",
            "external_id",
            "tier",
            "status",
            "joined_on",
            "renewal_on",
            "region",
            "attributes",
            "owner",
            "coverage_model_id",
            "success_gap",
            "success_band",
            "success_computed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MemberWriteSerializer(serializers.ModelSerializer):
    """A member as an integrator sends it. On update only the fields sent change."""

    kind = MemberKindField(required=False)
    status = MemberStatusField(required=False)

    owner = TenantRelatedField(
        Seat,
        required=False,
        allow_null=True,
        help_text="The owning seat's id (an MSM or admin of your organization), or null.",
    )
    owner_note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NOTE_MAX_LENGTH,
        write_only=True,
        help_text="The hand-off note kept with an ownership change.",
    )
    attributes = serializers.JSONField(
        required=False, help_text="Custom attributes: an object of named values."
    )

    class Meta:
        model = Member
        fields = [
            "kind",
            "name",
            "email",
            "external_id",
            "tier",
            "status",
            "joined_on",
            "renewal_on",
            "region",
            "attributes",
            "owner",
            "owner_note",
        ]
        # The uniqueness of external ids is the service's to check (one field error, also in
        # a race), not a validator's.
        validators: list = []


class MembershipEventSerializer(FastRepresentation, serializers.ModelSerializer):
    member = TenantRelatedField(Member, help_text="The member's id.")
    kind = MembershipEventKindField()
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        default="0",
        help_text="Money paid or added by this change; not negative.",
    )
    tier = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        help_text="The tier after the change (required for upgrade and downgrade).",
    )
    renewal_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The next renewal date (required for join, renew and reinstate).",
    )
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default=""
    )

    class Meta:
        model = MembershipEvent
        fields = [
            "id",
            "member",
            "kind",
            "occurred_on",
            "amount",
            "tier",
            "renewal_on",
            "note",
            "recorded_at",
        ]
        read_only_fields = ["id", "recorded_at"]


class AdvocacySerializer(FastRepresentation, serializers.ModelSerializer):
    member = TenantRelatedField(Member, help_text="The member who advocated.")
    kind = AdvocacyKindField()
    score = serializers.IntegerField(
        min_value=0,
        max_value=10,
        required=False,
        allow_null=True,
        default=None,
        help_text="The NPS answer, 0 to 10: required for an NPS response, refused otherwise.",
    )
    referred_member = TenantRelatedField(
        Member,
        required=False,
        allow_null=True,
        default=None,
        help_text="The member a referral brought (referrals only).",
    )
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default=""
    )

    class Meta:
        model = Advocacy
        fields = [
            "id",
            "member",
            "kind",
            "occurred_on",
            "score",
            "referred_member",
            "note",
            "recorded_at",
        ]
        read_only_fields = ["id", "recorded_at"]
