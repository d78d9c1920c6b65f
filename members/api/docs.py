"""The OpenAPI description of the members API: a summary, a description and, for writes, an
example for every operation (kept apart from the views so they stay short)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema

from members.api.serializers import MemberSerializer, MemberWriteSerializer

MEMBER_EXAMPLE = OpenApiExample(
    "A member with an owner",
    request_only=True,
    value={
        "kind": "person",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "external_id": "CRM-00042",
        "tier": "Professional",
        "status": "active",
        "joined_on": "2023-04-01",
        "renewal_on": "2026-04-01",
        "region": "North",
        "attributes": {"chapter": "London"},
        "owner": 7,
        "owner_note": "Ada joined through the London chapter; she wants the charter track.",
    },
)
OWNER_CHANGE_EXAMPLE = OpenApiExample(
    "Hand the account to another MSM",
    request_only=True,
    value={"owner": 12, "owner_note": "Renewal in April; she prefers calls to email."},
)

MEMBER_DOCS = {
    "list": extend_schema(
        summary="List members",
        description="The organization's members, 50 a page. Filter by status, owner (seat id), "
        "band, external id (to find a member by your own system's id) or `updated_since` for "
        "incremental sync; search name, email and external id with `q`; order by name, "
        "success_gap or updated_at (prefix `-` for descending).",
    ),
    "retrieve": extend_schema(
        summary="Read a member",
        description="One member with the owner (seat id, email, name), status, the latest "
        "success gap with its band and computation time, and the coverage model matched last.",
    ),
    "create": extend_schema(
        summary="Create a member",
        description="The owner, if given, must be an MSM or admin seat of your organization; it "
        "starts the account's ownership history (with `owner_note` as its note). The external "
        "id is unique within your organization. Members are never deleted: end a membership "
        "with a `lapse` or `cancel` membership event.",
        request=MemberWriteSerializer,
        responses={201: MemberSerializer},
        examples=[MEMBER_EXAMPLE],
    ),
    "update": extend_schema(
        summary="Replace a member's fields",
        description="Send the member's fields (name required). A new owner is a hand-off kept "
        "in the ownership history with `owner_note`; status, tier and renewal date may be "
        "corrected here, while real membership changes are recorded as membership events.",
        request=MemberWriteSerializer,
        responses={200: MemberSerializer},
        examples=[MEMBER_EXAMPLE],
    ),
    "partial_update": extend_schema(
        summary="Change some of a member's fields",
        description="Only the fields sent change. A new owner is a hand-off kept in the "
        "ownership history with `owner_note`; sending the current owner changes nothing.",
        request=MemberWriteSerializer,
        responses={200: MemberSerializer},
        examples=[OWNER_CHANGE_EXAMPLE],
    ),
}

MEMBERSHIP_EVENT_EXAMPLE = OpenApiExample(
    "A renewal",
    request_only=True,
    value={
        "member": 42,
        "kind": "renew",
        "occurred_on": "2025-03-28",
        "amount": "250.00",
        "renewal_on": "2026-04-01",
        "note": "Renewed at the spring conference.",
    },
)

MEMBERSHIP_EVENT_DOCS = {
    "list": extend_schema(
        summary="List membership changes",
        description="Joins, renewals, upgrades, downgrades, lapses, cancellations and "
        "reinstatements, newest recorded first, by cursor (follow `next`). Filter by member, "
        "kind, or `updated_since` (the time the change was recorded).",
    ),
    "retrieve": extend_schema(
        summary="Read a membership change",
        description="One membership change with the tier and renewal date it left in place.",
    ),
    "create": extend_schema(
        summary="Record a membership change",
        description="Records the change and moves the member to the state it leads to (status, "
        "tier, renewal date), together. Join, renew and reinstate need the next renewal date "
        "(after the change; a renewal's also after the current one); upgrade and downgrade a "
        "new tier; renew and lapse start from active or grace, reinstate from lapsed or "
        "cancelled, cancel from anything but cancelled; lapse and cancel change neither tier "
        "nor renewal date; amounts are not negative; dates are not in the future. Changes are "
        "append-only: they are never edited or deleted.",
        examples=[MEMBERSHIP_EVENT_EXAMPLE],
    ),
}

ADVOCACY_EXAMPLE = OpenApiExample(
    "An NPS answer",
    request_only=True,
    value={"member": 42, "kind": "nps", "occurred_on": "2025-03-28", "score": 9},
)
REFERRAL_EXAMPLE = OpenApiExample(
    "A referral",
    request_only=True,
    value={"member": 42, "kind": "referral", "occurred_on": "2025-03-28", "referred_member": 57},
)

ADVOCACY_DOCS = {
    "list": extend_schema(
        summary="List advocacy",
        description="Referrals, testimonials, reviews and NPS answers, newest recorded first, by "
        "cursor (follow `next`). Filter by member, kind, or `updated_since` (the time it was "
        "recorded).",
    ),
    "retrieve": extend_schema(
        summary="Read one piece of advocacy",
        description="One referral, testimonial, review or NPS answer.",
    ),
    "create": extend_schema(
        summary="Record advocacy",
        description="An NPS answer needs a whole score from 0 to 10 and nothing else carries "
        "one; only a referral names the member it brought (another member of your "
        "organization); the date is not in the future. Advocacy is append-only: never edited "
        "or deleted.",
        examples=[ADVOCACY_EXAMPLE, REFERRAL_EXAMPLE],
    ),
}
