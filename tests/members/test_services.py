"""Members services: every rule, and every bad input refused by field with nothing written."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagement.models import ContextEvent
from members.models import Advocacy, Member, OwnershipChange
from members.selectors import organization_today
from members.services import (
    advocacy_record,
    member_assign_owner,
    member_create,
    member_update,
    membership_event_record,
)
from milestones.models import ProgressMilestone
from tests.factories import (
    MemberFactory,
    MilestoneDefinitionFactory,
    OrganizationFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def today(org):
    return organization_today(organization=org)


@pytest.fixture
def member(org):
    return MemberFactory(organization=org, tier="Professional", owner=None)


@pytest.fixture
def prospect(org):
    return MemberFactory(
        organization=org,
        status=Member.Status.PROSPECT,
        joined_on=None,
        renewal_on=None,
        tier="",
        owner=None,
    )


def member_with_status(org, status, **fields):
    return MemberFactory(organization=org, status=status, owner=None, **fields)


# ---------------------------------------------------------------------------------------------
# member_create


def test_member_create_stores_the_fields_and_defaults(org):
    member = member_create(organization=org, name="Ada Lovelace")
    member.refresh_from_db()
    assert member.organization == org
    assert member.name == "Ada Lovelace"
    assert member.kind == Member.Kind.PERSON
    assert member.status == Member.Status.PROSPECT
    assert member.attributes == {}
    assert member.owner is None
    assert not OwnershipChange.objects.for_org(org).exists()


def test_member_create_with_every_field(org, tenant_a):
    member = member_create(
        organization=org,
        name="Bridge Works Ltd",
        kind=Member.Kind.ORGANIZATION,
        email="office@bridge.test",
        external_id="CRM-1",
        tier="Corporate",
        status=Member.Status.ACTIVE,
        joined_on=dt.date(2024, 1, 15),
        renewal_on=dt.date(2025, 1, 15),
        region="East",
        attributes={"employees": 40, "sector": "civil"},
        owner=tenant_a.msm,
        changed_by=tenant_a.admin,
    )
    member.refresh_from_db()
    assert (member.kind, member.external_id, member.tier, member.region) == (
        "organization",
        "CRM-1",
        "Corporate",
        "East",
    )
    assert member.attributes == {"employees": 40, "sector": "civil"}
    assert member.owner == tenant_a.msm


def test_member_create_with_an_owner_records_the_first_hand_off(org, tenant_a):
    before = timezone.now()
    member = member_create(
        organization=org, name="Ada", owner=tenant_a.msm, changed_by=tenant_a.admin
    )
    change = OwnershipChange.objects.for_org(org).get(member=member)
    assert change.from_seat is None
    assert change.to_seat == tenant_a.msm
    assert change.changed_by == tenant_a.admin
    assert change.changed_at >= before


def test_member_create_refuses_an_owner_from_another_organization(org, tenant_b, refused):
    with refused("owner", org):
        member_create(organization=org, name="Ada", owner=tenant_b.msm)


def test_member_create_refuses_changed_by_from_another_organization(
    org, tenant_a, tenant_b, refused
):
    with refused("changed_by", org):
        member_create(organization=org, name="Ada", owner=tenant_a.msm, changed_by=tenant_b.admin)


def test_member_create_refuses_a_viewer_as_owner(org, tenant_a, refused):
    with refused("owner", org):
        member_create(organization=org, name="Ada", owner=tenant_a.viewer)


def test_member_create_accepts_an_admin_as_owner(org, tenant_a):
    member = member_create(organization=org, name="Ada", owner=tenant_a.admin)
    assert member.owner == tenant_a.admin


def test_member_create_refuses_a_duplicate_external_id(org, refused):
    MemberFactory(organization=org, external_id="CRM-7")
    with refused("external_id", org):
        member_create(organization=org, name="Other", external_id="CRM-7")


def test_external_ids_are_unique_per_organization_only_and_blank_ones_repeat(org, tenant_b):
    MemberFactory(organization=tenant_b.organization, external_id="CRM-7")
    member_create(organization=org, name="Here", external_id="CRM-7")
    member_create(organization=org, name="No id 1")
    member_create(organization=org, name="No id 2")
    assert Member.objects.for_org(org).filter(external_id="").count() == 2


@pytest.mark.parametrize(
    "attributes",
    [["a", "list"], "text", 42, {1: "number key"}, {("a", "b"): "tuple key"}],
    ids=["list", "string", "number", "int-key", "tuple-key"],
)
def test_member_create_refuses_attributes_that_are_not_an_object_with_text_keys(
    org, attributes, refused
):
    with refused("attributes", org):
        member_create(organization=org, name="Ada", attributes=attributes)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("email", "not-an-email"),
        ("status", "dormant"),
        ("kind", "robot"),
        ("tier", "x" * 61),
    ],
)
def test_member_create_runs_model_validation(org, field, value, refused):
    kwargs = {"name": "Ada", field: value}
    with refused(field, org):
        member_create(organization=org, **kwargs)


def test_member_create_reports_every_bad_field_at_once(org, tenant_a, refused):
    MemberFactory(organization=org, external_id="dup")
    with refused("external_id", org) as exc_info:
        member_create(
            organization=org,
            name="",
            external_id="dup",
            attributes=[],
            owner=tenant_a.viewer,
        )
    assert set(exc_info.value.message_dict) == {"name", "external_id", "attributes", "owner"}


# ---------------------------------------------------------------------------------------------
# member_update


def test_member_update_changes_and_stores_the_fields(org, member, stored):
    updated = member_update(
        organization=org,
        member=member,
        name="New Name",
        region="West",
        attributes={"chapter": "Lyon"},
    )
    assert updated is member
    values = stored(member)
    assert (values["name"], values["region"], values["attributes"]) == (
        "New Name",
        "West",
        {"chapter": "Lyon"},
    )


def test_member_update_refuses_unknown_fields(org, member):
    with pytest.raises(TypeError, match="organization"):
        member_update(organization=org, member=member, organization_id=99, name="x")


def test_member_update_keeps_its_own_external_id(org):
    member = MemberFactory(organization=org, external_id="CRM-1")
    member_update(organization=org, member=member, external_id="CRM-1", name="Same id")
    member.refresh_from_db()
    assert member.name == "Same id"


def test_member_update_refuses_another_members_external_id_and_restores_the_object(org, refused):
    MemberFactory(organization=org, external_id="CRM-1")
    member = MemberFactory(organization=org, external_id="CRM-2", name="Keep")
    with refused("external_id", org, member):
        member_update(organization=org, member=member, external_id="CRM-1", name="Changed")
    # The object in hand is as stored, so a form can show it again.
    assert (member.external_id, member.name) == ("CRM-2", "Keep")


def test_member_update_refuses_attributes_that_are_not_an_object(org, member, refused):
    with refused("attributes", org, member):
        member_update(organization=org, member=member, attributes=[1, 2])


def test_member_update_refuses_a_member_of_another_organization(org, tenant_b, refused):
    other = MemberFactory(organization=tenant_b.organization)
    with refused("member", org):
        member_update(organization=org, member=other, name="Stolen")
    other.refresh_from_db()
    assert other.name != "Stolen"


def test_member_update_hands_the_owner_over_and_keeps_the_history(org, member, tenant_a):
    member_update(organization=org, member=member, owner=tenant_a.msm, changed_by=tenant_a.admin)
    member.refresh_from_db()
    assert member.owner == tenant_a.msm
    change = OwnershipChange.objects.for_org(org).get(member=member)
    assert (change.from_seat, change.to_seat, change.changed_by) == (
        None,
        tenant_a.msm,
        tenant_a.admin,
    )


def test_member_update_with_the_current_owner_records_no_hand_off(org, tenant_a):
    member = MemberFactory(organization=org, owner=tenant_a.msm)
    member_update(organization=org, member=member, owner=tenant_a.msm, name="Renamed")
    assert not OwnershipChange.objects.for_org(org).exists()
    member.refresh_from_db()
    assert member.name == "Renamed"


def test_member_update_refuses_an_owner_from_another_organization(org, member, tenant_b, refused):
    with refused("owner", org, member):
        member_update(organization=org, member=member, owner=tenant_b.msm, name="Changed")


def test_member_update_refuses_a_viewer_as_owner(org, member, tenant_a, refused):
    with refused("owner", org, member):
        member_update(organization=org, member=member, owner=tenant_a.viewer, name="Changed")


# ---------------------------------------------------------------------------------------------
# member_assign_owner


def test_every_hand_off_is_kept_with_from_to_by_and_note(org, member, tenant_a):
    first = member_assign_owner(
        organization=org, member=member, to_seat=tenant_a.msm, changed_by=tenant_a.admin
    )
    second = member_assign_owner(
        organization=org,
        member=member,
        to_seat=tenant_a.admin,
        changed_by=tenant_a.admin,
        note="Covering while Sam is away; renewal call booked for the 12th.",
    )
    assert (first.from_seat, first.to_seat) == (None, tenant_a.msm)
    assert (second.from_seat, second.to_seat, second.changed_by) == (
        tenant_a.msm,
        tenant_a.admin,
        tenant_a.admin,
    )
    assert second.note.startswith("Covering")
    assert abs(second.changed_at - timezone.now()) < dt.timedelta(seconds=5)
    assert OwnershipChange.objects.for_org(org).filter(member=member).count() == 2
    assert member.owner == tenant_a.admin
    member.refresh_from_db()
    assert member.owner == tenant_a.admin


def test_assigning_none_unassigns_and_is_kept(org, tenant_a):
    member = MemberFactory(organization=org, owner=tenant_a.msm)
    change = member_assign_owner(organization=org, member=member, to_seat=None)
    assert (change.from_seat, change.to_seat) == (tenant_a.msm, None)
    member.refresh_from_db()
    assert member.owner is None


def test_from_seat_is_the_stored_owner_even_when_the_object_in_hand_is_stale(org, tenant_a):
    member = MemberFactory(organization=org, owner=None)
    stale = Member.objects.for_org(org).get(pk=member.pk)
    member_assign_owner(organization=org, member=member, to_seat=tenant_a.msm)
    change = member_assign_owner(organization=org, member=stale, to_seat=tenant_a.admin)
    assert change.from_seat == tenant_a.msm


def test_assigning_the_current_owner_again_is_refused(org, tenant_a, refused):
    member = MemberFactory(organization=org, owner=tenant_a.msm)
    with refused("to_seat", org, member) as exc_info:
        member_assign_owner(organization=org, member=member, to_seat=tenant_a.msm)
    assert "already owns" in exc_info.value.message_dict["to_seat"][0]


def test_unassigning_an_account_with_no_owner_is_refused(org, member, refused):
    with refused("to_seat", org, member):
        member_assign_owner(organization=org, member=member, to_seat=None)


def test_a_viewer_cannot_own_an_account(org, member, tenant_a, refused):
    with refused("to_seat", org, member):
        member_assign_owner(organization=org, member=member, to_seat=tenant_a.viewer)


def test_a_seat_of_another_organization_cannot_own_an_account(org, member, tenant_b, refused):
    with refused("to_seat", org, member):
        member_assign_owner(organization=org, member=member, to_seat=tenant_b.msm)


def test_changed_by_of_another_organization_is_refused(org, member, tenant_a, tenant_b, refused):
    with refused("changed_by", org, member):
        member_assign_owner(
            organization=org, member=member, to_seat=tenant_a.msm, changed_by=tenant_b.admin
        )


def test_a_member_of_another_organization_is_refused(org, tenant_a, tenant_b, refused):
    other = MemberFactory(organization=tenant_b.organization, owner=None)
    with refused("member", org, other):
        member_assign_owner(organization=org, member=other, to_seat=tenant_a.msm)
    assert not OwnershipChange.objects.for_org(tenant_b.organization).exists()


# ---------------------------------------------------------------------------------------------
# membership_event_record


def test_join_activates_the_member_and_records_the_event(org, prospect, today):
    next_year = today + dt.timedelta(days=365)
    event = membership_event_record(
        organization=org,
        member=prospect,
        kind="join",
        occurred_on=today,
        amount=Decimal("180.00"),
        tier="Associate",
        renewal_on=next_year,
        note="Joined at the spring conference",
    )
    assert (prospect.status, prospect.joined_on, prospect.renewal_on, prospect.tier) == (
        "active",
        today,
        next_year,
        "Associate",
    )
    prospect.refresh_from_db()
    assert (prospect.status, prospect.joined_on, prospect.renewal_on, prospect.tier) == (
        "active",
        today,
        next_year,
        "Associate",
    )
    event.refresh_from_db()
    assert (event.kind, event.amount, event.tier, event.renewal_on) == (
        "join",
        Decimal("180.00"),
        "Associate",
        next_year,
    )


def test_a_membership_change_is_also_context(org, prospect, today):
    event = membership_event_record(
        organization=org,
        member=prospect,
        kind="join",
        occurred_on=today - 3 * DAY,
        amount=120,
        tier="Associate",
        renewal_on=today + 300 * DAY,
    )
    context = ContextEvent.objects.for_org(org).get(member=prospect)
    assert context.kind == ContextEvent.Kind.MEMBERSHIP_CHANGE
    assert context.name == "membership_join"
    assert context.source == ContextEvent.Source.SYSTEM
    assert context.value == Decimal("120")
    assert context.payload == {"membership_event_id": event.pk, "tier": "Associate"}
    # Midnight of the day it happened, on the organization's clock (Europe/Paris).
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert context.occurred_at == dt.datetime.combine(today - 3 * DAY, dt.time.min, tzinfo=paris)
    assert timezone.is_aware(context.occurred_at)


def test_a_membership_change_can_achieve_a_milestone(org, prospect, today):
    definition = MilestoneDefinitionFactory(organization=org, match_event_name="membership_join")
    milestone = ProgressMilestoneFactory(organization=org, member=prospect, definition=definition)
    membership_event_record(
        organization=org, member=prospect, kind="join", occurred_on=today, renewal_on=today + DAY
    )
    milestone = ProgressMilestone.objects.for_org(org).get(pk=milestone.pk)
    assert milestone.achieved_at is not None


def test_join_keeps_an_earlier_joined_on(org, today):
    member = member_with_status(org, "prospect", joined_on=dt.date(2020, 5, 1), renewal_on=None)
    membership_event_record(
        organization=org, member=member, kind="join", occurred_on=today, renewal_on=today + DAY
    )
    member.refresh_from_db()
    assert member.joined_on == dt.date(2020, 5, 1)


def test_join_without_a_tier_keeps_the_tier(org, today):
    member = member_with_status(org, "prospect", tier="Student", renewal_on=None)
    event = membership_event_record(
        organization=org, member=member, kind="join", occurred_on=today, renewal_on=today + DAY
    )
    member.refresh_from_db()
    assert member.tier == event.tier == "Student"


@pytest.mark.parametrize("kind", ["join", "renew", "reinstate"])
def test_join_renew_and_reinstate_need_a_renewal_date(org, today, kind, refused):
    status = "lapsed" if kind == "reinstate" else "active"
    member = member_with_status(org, status)
    with refused("renewal_on", org, member):
        membership_event_record(organization=org, member=member, kind=kind, occurred_on=today)


def test_the_renewal_date_comes_after_the_change(org, prospect, today, refused):
    with refused("renewal_on", org, prospect):
        membership_event_record(
            organization=org, member=prospect, kind="join", occurred_on=today, renewal_on=today
        )


def test_renew_moves_the_renewal_date_and_keeps_the_member_active(org, today):
    member = member_with_status(org, "grace", renewal_on=today - 5 * DAY)
    event = membership_event_record(
        organization=org,
        member=member,
        kind="renew",
        occurred_on=today,
        amount=Decimal("250.00"),
        renewal_on=today + 360 * DAY,
    )
    member.refresh_from_db()
    assert (member.status, member.renewal_on) == ("active", today + 360 * DAY)
    assert event.renewal_on == today + 360 * DAY


@pytest.mark.parametrize("offset", [0, -10], ids=["same-date", "earlier-date"])
def test_renew_without_a_later_date_is_refused(org, today, offset, refused):
    current = today + 30 * DAY
    member = member_with_status(org, "active", renewal_on=current)
    with refused("renewal_on", org, member):
        membership_event_record(
            organization=org,
            member=member,
            kind="renew",
            occurred_on=today,
            renewal_on=current + offset * DAY,
        )


def test_renew_of_a_member_without_a_renewal_date_takes_any_later_date(org, today):
    member = member_with_status(org, "active", renewal_on=None)
    membership_event_record(
        organization=org, member=member, kind="renew", occurred_on=today, renewal_on=today + DAY
    )
    member.refresh_from_db()
    assert member.renewal_on == today + DAY


@pytest.mark.parametrize("status", ["prospect", "lapsed", "cancelled"])
def test_renew_starts_from_active_or_grace_only(org, today, status, refused):
    member = member_with_status(org, status)
    with refused("kind", org, member):
        membership_event_record(
            organization=org,
            member=member,
            kind="renew",
            occurred_on=today,
            renewal_on=today + 400 * DAY,
        )


@pytest.mark.parametrize("kind", ["upgrade", "downgrade"])
def test_upgrade_and_downgrade_change_the_tier(org, member, today, kind):
    event = membership_event_record(
        organization=org,
        member=member,
        kind=kind,
        occurred_on=today,
        tier="Fellow",
        amount=Decimal("75.50"),
    )
    member.refresh_from_db()
    assert member.tier == event.tier == "Fellow"
    assert member.status == "active"
    assert event.amount == Decimal("75.50")


@pytest.mark.parametrize("kind", ["upgrade", "downgrade"])
def test_upgrade_or_downgrade_without_a_tier_is_refused(org, member, today, kind, refused):
    with refused("tier", org, member):
        membership_event_record(organization=org, member=member, kind=kind, occurred_on=today)


def test_upgrade_to_the_current_tier_is_refused(org, member, today, refused):
    with refused("tier", org, member):
        membership_event_record(
            organization=org, member=member, kind="upgrade", occurred_on=today, tier="Professional"
        )


def test_upgrade_may_move_the_renewal_date(org, member, today):
    membership_event_record(
        organization=org,
        member=member,
        kind="upgrade",
        occurred_on=today,
        tier="Fellow",
        renewal_on=today + 365 * DAY,
    )
    member.refresh_from_db()
    assert member.renewal_on == today + 365 * DAY


@pytest.mark.parametrize("status", ["active", "grace"])
def test_lapse_from_active_or_grace(org, today, status):
    member = member_with_status(org, status, renewal_on=today - 40 * DAY)
    event = membership_event_record(
        organization=org, member=member, kind="lapse", occurred_on=today
    )
    member.refresh_from_db()
    assert member.status == "lapsed"
    # The event keeps the state it left: tier and the renewal date that was missed.
    assert (event.tier, event.renewal_on) == (member.tier, today - 40 * DAY)


@pytest.mark.parametrize("status", ["prospect", "lapsed", "cancelled"])
def test_lapse_from_another_status_is_refused(org, today, status, refused):
    member = member_with_status(org, status)
    with refused("kind", org, member):
        membership_event_record(organization=org, member=member, kind="lapse", occurred_on=today)


@pytest.mark.parametrize(
    ("field", "extra"),
    [("tier", {"tier": "Gold"}), ("renewal_on", {"renewal_on": dt.date(2099, 1, 1)})],
)
def test_lapse_and_cancel_change_neither_tier_nor_renewal_date(
    org, member, today, field, extra, refused
):
    with refused(field, org, member):
        membership_event_record(
            organization=org, member=member, kind="cancel", occurred_on=today, **extra
        )


@pytest.mark.parametrize("status", ["prospect", "active", "grace", "lapsed"])
def test_cancel(org, today, status):
    member = member_with_status(org, status)
    membership_event_record(organization=org, member=member, kind="cancel", occurred_on=today)
    member.refresh_from_db()
    assert member.status == "cancelled"


def test_cancelling_a_cancelled_member_is_refused(org, today, refused):
    member = member_with_status(org, "cancelled")
    with refused("kind", org, member):
        membership_event_record(organization=org, member=member, kind="cancel", occurred_on=today)


@pytest.mark.parametrize("status", ["lapsed", "cancelled"])
def test_reinstate_from_lapsed_or_cancelled(org, today, status):
    member = member_with_status(org, status, renewal_on=today - 100 * DAY)
    membership_event_record(
        organization=org,
        member=member,
        kind="reinstate",
        occurred_on=today,
        renewal_on=today + 365 * DAY,
        tier="Associate",
    )
    member.refresh_from_db()
    assert (member.status, member.renewal_on, member.tier) == (
        "active",
        today + 365 * DAY,
        "Associate",
    )


@pytest.mark.parametrize("status", ["prospect", "active", "grace"])
def test_reinstate_from_another_status_is_refused(org, today, status, refused):
    member = member_with_status(org, status)
    with refused("kind", org, member):
        membership_event_record(
            organization=org,
            member=member,
            kind="reinstate",
            occurred_on=today,
            renewal_on=today + 365 * DAY,
        )


@pytest.mark.parametrize("amount", [-1, Decimal("-0.01"), "-5"])
def test_a_negative_amount_is_refused(org, member, today, amount, refused):
    with refused("amount", org, member):
        membership_event_record(
            organization=org,
            member=member,
            kind="renew",
            occurred_on=today,
            amount=amount,
            renewal_on=member.renewal_on + 365 * DAY,
        )


@pytest.mark.parametrize("amount", ["ten", None, True, Decimal("NaN"), Decimal("1.005")])
def test_an_amount_that_is_not_money_is_refused(org, member, today, amount, refused):
    with refused("amount", org, member):
        membership_event_record(
            organization=org,
            member=member,
            kind="upgrade",
            occurred_on=today,
            amount=amount,
            tier="Fellow",
        )


def test_a_zero_amount_is_fine(org, member, today):
    event = membership_event_record(
        organization=org, member=member, kind="downgrade", occurred_on=today, tier="Student"
    )
    assert event.amount == Decimal("0")


def test_a_future_date_is_refused(org, member, today, refused):
    with refused("occurred_on", org, member):
        membership_event_record(
            organization=org, member=member, kind="cancel", occurred_on=today + DAY
        )


def test_a_datetime_is_not_a_date(org, member, refused):
    with refused("occurred_on", org, member):
        membership_event_record(
            organization=org, member=member, kind="cancel", occurred_on=timezone.now()
        )


def test_future_is_judged_on_the_organizations_calendar():
    # Kiritimati (UTC+14) is always a day or two ahead of Pago Pago (UTC-11).
    ahead = timezone.localdate(timezone=zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    early = OrganizationFactory(time_zone="Pacific/Kiritimati")
    late = OrganizationFactory(time_zone="Pacific/Pago_Pago")
    member = member_with_status(early, "active")
    membership_event_record(organization=early, member=member, kind="lapse", occurred_on=ahead)
    member = member_with_status(late, "active")
    with pytest.raises(ValidationError) as exc_info:
        membership_event_record(organization=late, member=member, kind="lapse", occurred_on=ahead)
    assert "occurred_on" in exc_info.value.message_dict


def test_an_unknown_kind_is_refused(org, member, today, refused):
    with refused("kind", org, member):
        membership_event_record(organization=org, member=member, kind="pause", occurred_on=today)


def test_a_membership_change_for_another_organizations_member_is_refused(
    org, tenant_b, today, refused, row_counts
):
    other = MemberFactory(organization=tenant_b.organization, status="active")
    before_b = row_counts(tenant_b.organization)
    with refused("member", org, other):
        membership_event_record(organization=org, member=other, kind="cancel", occurred_on=today)
    assert row_counts(tenant_b.organization) == before_b


def test_a_refused_change_leaves_the_member_object_as_it_was(org, member, today):
    with pytest.raises(ValidationError):
        membership_event_record(organization=org, member=member, kind="upgrade", occurred_on=today)
    assert member.tier == "Professional"


# ---------------------------------------------------------------------------------------------
# advocacy_record


@pytest.mark.parametrize("score", [0, 6, 9, 10])
def test_nps_answers_from_0_to_10(org, member, today, score):
    advocacy = advocacy_record(
        organization=org, member=member, kind="nps", occurred_on=today, score=score
    )
    advocacy.refresh_from_db()
    assert (advocacy.kind, advocacy.score) == ("nps", score)


@pytest.mark.parametrize(
    "score",
    [11, -1, None, 9.5, "9", True, Decimal("8")],
    ids=["11", "minus-1", "none", "float", "text", "bool", "decimal"],
)
def test_bad_nps_scores_are_refused(org, member, today, score, refused):
    with refused("score", org, member):
        advocacy_record(organization=org, member=member, kind="nps", occurred_on=today, score=score)


@pytest.mark.parametrize("kind", ["referral", "testimonial", "review"])
def test_only_nps_carries_a_score(org, member, today, kind, refused):
    with refused("score", org, member):
        advocacy_record(organization=org, member=member, kind=kind, occurred_on=today, score=8)


@pytest.mark.parametrize("kind", ["testimonial", "review"])
def test_testimonials_and_reviews(org, member, today, kind):
    advocacy = advocacy_record(
        organization=org, member=member, kind=kind, occurred_on=today, note="Spoke at the gala"
    )
    assert advocacy.score is None
    assert Advocacy.objects.for_org(org).filter(member=member, kind=kind).count() == 1


def test_a_referral_may_name_the_member_it_brought(org, member, today):
    newcomer = MemberFactory(organization=org)
    advocacy = advocacy_record(
        organization=org,
        member=member,
        kind="referral",
        occurred_on=today,
        referred_member=newcomer,
    )
    advocacy.refresh_from_db()
    assert advocacy.referred_member == newcomer


def test_a_referral_without_a_referred_member_is_fine(org, member, today):
    advocacy = advocacy_record(organization=org, member=member, kind="referral", occurred_on=today)
    assert advocacy.referred_member is None


def test_a_member_cannot_refer_themselves(org, member, today, refused):
    with refused("referred_member", org, member):
        advocacy_record(
            organization=org,
            member=member,
            kind="referral",
            occurred_on=today,
            referred_member=member,
        )


def test_a_referred_member_of_another_organization_is_refused(
    org, member, tenant_b, today, refused
):
    other = MemberFactory(organization=tenant_b.organization)
    with refused("referred_member", org, member):
        advocacy_record(
            organization=org,
            member=member,
            kind="referral",
            occurred_on=today,
            referred_member=other,
        )


def test_only_a_referral_names_a_referred_member(org, member, today, refused):
    newcomer = MemberFactory(organization=org)
    with refused("referred_member", org, member):
        advocacy_record(
            organization=org,
            member=member,
            kind="testimonial",
            occurred_on=today,
            referred_member=newcomer,
        )


def test_advocacy_in_the_future_is_refused(org, member, today, refused):
    with refused("occurred_on", org, member):
        advocacy_record(organization=org, member=member, kind="review", occurred_on=today + DAY)


def test_advocacy_of_another_organizations_member_is_refused(org, tenant_b, today, refused):
    other = MemberFactory(organization=tenant_b.organization)
    with refused("member", org, other):
        advocacy_record(organization=org, member=other, kind="review", occurred_on=today)
    assert not Advocacy.objects.for_org(tenant_b.organization).exists()


def test_an_unknown_advocacy_kind_is_refused(org, member, today, refused):
    with refused("kind", org, member):
        advocacy_record(organization=org, member=member, kind="tweet", occurred_on=today)
