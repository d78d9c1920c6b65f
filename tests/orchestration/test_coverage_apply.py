"""Applying coverage: priority resolution, owners dealt from pools, hand-offs kept, playbooks
enrolled, a constant number of queries, and other organizations left alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import Member, OwnershipChange
from orchestration.coverage import coverage_apply
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat, Enrollment
from tests.factories import (
    CoverageModelFactory,
    MemberFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    SeatFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


def rule(field, op, value) -> dict:
    return {"field": field, "op": op, "value": value}


def model_of(member: Member) -> int | None:
    return Member.objects.for_org(member.organization_id).get(pk=member.pk).coverage_model_id


def owner_of(member: Member) -> int | None:
    return Member.objects.for_org(member.organization_id).get(pk=member.pk).owner_id


def pool(model: CoverageModel, *seats) -> None:
    for seat in seats:
        CoveragePoolSeat.objects.create(
            organization_id=model.organization_id, coverage_model=model, seat=seat
        )


def msms(organization, n: int) -> list:
    return [SeatFactory(organization=organization, role="msm") for _ in range(n)]


def apply(organization, **kwargs):
    return coverage_apply(organization=organization, today=TODAY, **kwargs)


# --- matching ---------------------------------------------------------------------------------


def test_each_member_gets_the_highest_priority_model_that_matches(org):
    gold = CoverageModelFactory(
        organization=org, priority=10, criteria=[rule("tier", "eq", "Gold")]
    )
    north = CoverageModelFactory(
        organization=org, priority=50, criteria=[rule("region", "eq", "North")]
    )
    gold_north = MemberFactory(organization=org, tier="Gold", region="North")
    gold_south = MemberFactory(organization=org, tier="Gold", region="South")
    silver_north = MemberFactory(organization=org, tier="Silver", region="North")
    silver_south = MemberFactory(organization=org, tier="Silver", region="South")

    result = apply(org)

    assert model_of(gold_north) == north.pk
    assert model_of(gold_south) == gold.pk
    assert model_of(silver_north) == north.pk
    assert model_of(silver_south) is None
    assert result.matched == {gold.pk: 1, north.pk: 2}
    assert result.changed_model == 3


def test_a_tie_in_priority_goes_to_the_older_model(org):
    older = CoverageModelFactory(organization=org, priority=20, criteria=[])
    CoverageModelFactory(organization=org, priority=20, criteria=[])
    member = MemberFactory(organization=org)
    apply(org)
    assert model_of(member) == older.pk


def test_inactive_models_are_ignored(org):
    CoverageModelFactory(organization=org, priority=99, criteria=[], is_active=False)
    active = CoverageModelFactory(organization=org, priority=1, criteria=[])
    member = MemberFactory(organization=org)
    result = apply(org)
    assert model_of(member) == active.pk
    assert list(result.matched) == [active.pk]


def test_a_member_that_no_longer_matches_loses_its_model_and_reruns_change_nothing(org):
    gold = CoverageModelFactory(organization=org, criteria=[rule("tier", "eq", "Gold")])
    member = MemberFactory(organization=org, tier="Gold")
    assert apply(org).changed_model == 1
    assert apply(org).changed_model == 0  # idempotent

    Member.objects.for_org(org).filter(pk=member.pk).update(tier="Silver")
    result = apply(org)
    assert model_of(member) is None
    assert result.changed_model == 1
    assert result.matched == {gold.pk: 0}

    CoverageModel.objects.for_org(org).filter(pk=gold.pk).update(is_active=False)
    Member.objects.for_org(org).filter(pk=member.pk).update(tier="Gold", coverage_model=gold)
    assert apply(org).changed_model == 1  # a deactivated model lets its members go
    assert model_of(member) is None


def test_member_ids_limit_the_run_to_those_members(org):
    model = CoverageModelFactory(organization=org, criteria=[])
    chosen, other = MemberFactory(organization=org), MemberFactory(organization=org)
    result = apply(org, member_ids=[chosen.pk])
    assert model_of(chosen) == model.pk
    assert model_of(other) is None
    assert result.matched == {model.pk: 1}


def test_band_and_lifecycle_rules_are_matched_against_today(org):
    renewing = CoverageModelFactory(
        organization=org, priority=50, criteria=[rule("days_to_renewal", "lte", 30)]
    )
    at_risk = CoverageModelFactory(
        organization=org, priority=90, criteria=[rule("band", "eq", "at_risk")]
    )
    soon = MemberFactory(organization=org, renewal_on=TODAY + dt.timedelta(days=30))
    later = MemberFactory(organization=org, renewal_on=TODAY + dt.timedelta(days=31))
    risky = MemberFactory(organization=org, renewal_on=TODAY, success_band="at_risk")
    apply(org)
    assert (model_of(soon), model_of(later), model_of(risky)) == (renewing.pk, None, at_risk.pk)


# --- owners -----------------------------------------------------------------------------------


def test_round_robin_deals_in_pool_order_and_continues_across_runs(org):
    model = CoverageModelFactory(organization=org, criteria=[])
    seats = msms(org, 3)
    pool(model, *seats)
    first = [MemberFactory(organization=org) for _ in range(4)]

    assert apply(org).owners_assigned == 4
    assert [owner_of(m) for m in first] == [seats[0].pk, seats[1].pk, seats[2].pk, seats[0].pk]
    model.refresh_from_db()
    assert model.round_robin_position == 1

    second = [MemberFactory(organization=org) for _ in range(2)]
    assert apply(org).owners_assigned == 2
    assert [owner_of(m) for m in second] == [seats[1].pk, seats[2].pk]
    model.refresh_from_db()
    assert model.round_robin_position == 0


def test_least_loaded_balances_the_books_counting_the_whole_organization(org, tenant_a):
    model = CoverageModelFactory(
        organization=org, criteria=[rule("tier", "eq", "Gold")], assignment_policy="least_loaded"
    )
    first, second, third = msms(org, 3)
    pool(model, first, second, third)
    # Existing books: first owns 2 (one outside any model), third owns 1, second none.
    MemberFactory(organization=org, tier="Silver", owner=first)
    MemberFactory(organization=org, tier="Gold", owner=first)
    MemberFactory(organization=org, tier="Gold", owner=third)
    new = [MemberFactory(organization=org, tier="Gold") for _ in range(4)]

    assert apply(org).owners_assigned == 4

    # Loads 2/0/1 → second, second (tie with third broken by pool order), third, first.
    assert [owner_of(m) for m in new] == [second.pk, second.pk, third.pk, first.pk]
    loads = {
        seat.pk: Member.objects.for_org(org).filter(owner=seat).count()
        for seat in (first, second, third)
    }
    assert loads == {first.pk: 3, second.pk: 2, third.pk: 2}
    model.refresh_from_db()
    assert model.round_robin_position == 0  # untouched by least-loaded


def test_a_seat_in_two_pools_is_counted_once_as_load_grows(org):
    shared, other = msms(org, 2)
    gold = CoverageModelFactory(
        organization=org,
        priority=20,
        criteria=[rule("tier", "eq", "Gold")],
        assignment_policy="least_loaded",
    )
    silver = CoverageModelFactory(
        organization=org,
        priority=10,
        criteria=[rule("tier", "eq", "Silver")],
        assignment_policy="least_loaded",
    )
    pool(gold, shared)
    pool(silver, shared, other)
    gold_members = [MemberFactory(organization=org, tier="Gold") for _ in range(2)]
    silver_members = [MemberFactory(organization=org, tier="Silver") for _ in range(2)]
    apply(org)
    assert {owner_of(m) for m in gold_members} == {shared.pk}
    # The shared seat already took two from gold, so silver's go to the other seat.
    assert [owner_of(m) for m in silver_members] == [other.pk, other.pk]


def test_only_unowned_members_get_an_owner_and_each_assignment_is_kept(org, tenant_a):
    model = CoverageModelFactory(organization=org, name="Chapter leads", criteria=[])
    seat = msms(org, 1)[0]
    pool(model, seat)
    owned = MemberFactory(organization=org, owner=tenant_a.admin)
    unowned = MemberFactory(organization=org)

    result = apply(org)

    assert result.owners_assigned == 1
    assert owner_of(owned) == tenant_a.admin.pk
    assert owner_of(unowned) == seat.pk
    changes = list(
        OwnershipChange.objects.for_org(org).values_list(
            "member_id", "from_seat_id", "to_seat_id", "changed_by_id", "note"
        )
    )
    assert changes == [
        (unowned.pk, None, seat.pk, None, "Assigned by coverage model Chapter leads")
    ]
    assert apply(org).owners_assigned == 0  # nobody is unowned any more
    assert OwnershipChange.objects.for_org(org).count() == 1


def test_members_outside_pooled_models_and_models_without_pool_stay_unowned(org):
    CoverageModelFactory(organization=org, criteria=[rule("tier", "eq", "Gold")])
    pooled = CoverageModelFactory(organization=org, criteria=[rule("tier", "eq", "Silver")])
    pool(pooled, *msms(org, 1))
    gold = MemberFactory(organization=org, tier="Gold")
    bronze = MemberFactory(organization=org, tier="Bronze")
    assert apply(org).owners_assigned == 0
    assert owner_of(gold) is None and owner_of(bronze) is None
    assert OwnershipChange.objects.for_org(org).count() == 0


def test_a_pool_seat_made_viewer_since_is_skipped(org):
    model = CoverageModelFactory(organization=org, criteria=[])
    demoted, kept = msms(org, 2)
    pool(model, demoted, kept)
    demoted.role = "viewer"
    demoted.save()
    members = [MemberFactory(organization=org) for _ in range(3)]
    apply(org)
    assert {owner_of(m) for m in members} == {kept.pk}


# --- playbooks ----------------------------------------------------------------------------------


def test_members_moving_into_a_model_are_enrolled_in_its_active_playbooks_once(org):
    onboarding = PlaybookFactory(organization=org, name="Onboarding")
    PlaybookStepFactory(playbook=onboarding, action="task", title="Welcome call")
    switched_off = PlaybookFactory(organization=org, is_active=False)
    model = CoverageModelFactory(organization=org, name="Newcomers", criteria=[])
    for playbook in (onboarding, switched_off):
        CoveragePlaybook.objects.create(organization=org, coverage_model=model, playbook=playbook)
    members = [MemberFactory(organization=org) for _ in range(2)]

    result = apply(org)

    assert result.enrolled == 2
    enrollments = Enrollment.objects.for_org(org)
    assert sorted(enrollments.values_list("member_id", flat=True)) == sorted(m.pk for m in members)
    assert set(enrollments.values_list("playbook_id", "reason")) == {
        (onboarding.pk, "coverage:Newcomers")
    }
    assert apply(org).enrolled == 0  # nobody changed model
    assert enrollments.count() == 2


def test_the_enrolment_sees_the_owner_just_assigned(org):
    playbook = PlaybookFactory(organization=org)
    PlaybookStepFactory(playbook=playbook, action="task", title="Welcome call")
    model = CoverageModelFactory(organization=org, criteria=[])
    CoveragePlaybook.objects.create(organization=org, coverage_model=model, playbook=playbook)
    seat = msms(org, 1)[0]
    pool(model, seat)
    member = MemberFactory(organization=org)
    apply(org)
    from orchestration.models import Task

    assert list(Task.objects.for_org(org).values_list("member_id", "owner_id")) == [
        (member.pk, seat.pk)
    ]


# --- scale and isolation ------------------------------------------------------------------------


def build_organization(organization, members: int) -> None:
    """Two pooled models (one per policy) and a catch-all. Members cycle through the three in
    fives, so even five members reach every model and every seat: the statements then differ
    only by the number of members."""
    gold = CoverageModelFactory(
        organization=organization, priority=30, criteria=[rule("tier", "eq", "Gold")]
    )
    north = CoverageModelFactory(
        organization=organization,
        priority=20,
        criteria=[rule("region", "eq", "North"), rule("days_to_renewal", "gte", 0)],
        assignment_policy="least_loaded",
    )
    CoverageModelFactory(organization=organization, priority=10, criteria=[])
    pool(gold, *msms(organization, 2))
    pool(north, *msms(organization, 2))
    for index in range(members):
        slot = index % 5
        MemberFactory(
            organization=organization,
            tier="Gold" if slot < 2 else "Silver",
            region="North" if slot in (2, 3) else "South",
            renewal_on=TODAY + dt.timedelta(days=index),
        )


def queries_for(organization) -> int:
    with CaptureQueriesContext(connection) as captured:
        result = apply(organization)
    assert result.owners_assigned > 0 and result.changed_model > 0
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_number_of_members(tenant_a, tenant_b):
    build_organization(tenant_a.organization, 5)
    build_organization(tenant_b.organization, 50)
    assert queries_for(tenant_a.organization) == queries_for(tenant_b.organization)


def test_other_organizations_are_untouched(org, tenant_b):
    CoverageModelFactory(organization=org, criteria=[])
    pool(CoverageModel.objects.for_org(org).get(), *msms(org, 1))
    theirs_model = CoverageModelFactory(organization=tenant_b.organization, criteria=[])
    pool(theirs_model, *msms(tenant_b.organization, 1))
    theirs = MemberFactory(organization=tenant_b.organization)
    ours = MemberFactory(organization=org)

    result = apply(org)

    assert result.matched == {CoverageModel.objects.for_org(org).get().pk: 1}
    assert model_of(ours) is not None and owner_of(ours) is not None
    assert model_of(theirs) is None and owner_of(theirs) is None
    assert OwnershipChange.objects.for_org(tenant_b.organization).count() == 0
    theirs_model.refresh_from_db()
    assert theirs_model.round_robin_position == 0
    # Member ids of another organization are ignored even when passed in.
    apply(org, member_ids=[theirs.pk])
    assert model_of(theirs) is None
