"""Joint accountability: commitments on both sides of a goal, kept once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from milestones.models import Commitment
from milestones.services import commitment_add, commitment_complete, commitment_reopen
from tests.factories import CommitmentFactory, GoalFactory


@pytest.fixture
def goal(tenant_a):
    return GoalFactory(desired_outcome__member__organization=tenant_a.organization)


def _add_refused(row_counts, field: str, **kwargs) -> None:
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        commitment_add(**kwargs)
    assert field in excinfo.value.message_dict
    assert row_counts() == before


def test_add_a_commitment_for_the_goals_member(tenant_a, goal):
    commitment = commitment_add(
        organization=tenant_a.organization,
        goal=goal,
        party="member_outside",
        description=" Block two evenings a week for study ",
        owner_name="Dana (the member)",
        due_on=dt.date(2025, 9, 1),
    )
    stored = Commitment.objects.for_org(tenant_a.organization).get()
    assert stored == commitment
    assert stored.member_id == goal.member_id
    assert (stored.party, stored.description, stored.owner_name, stored.due_on) == (
        "member_outside",
        "Block two evenings a week for study",
        "Dana (the member)",
        dt.date(2025, 9, 1),
    )


@pytest.mark.parametrize("party", ["together", "us_behind_scenes"])
def test_a_seat_owns_our_side(tenant_a, goal, party):
    commitment = commitment_add(
        organization=tenant_a.organization,
        goal=goal,
        party=party,
        description="Review the study plan",
        owner_seat=tenant_a.msm,
    )
    assert commitment.owner_seat == tenant_a.msm


def test_unknown_party_is_refused(tenant_a, goal, row_counts):
    _add_refused(
        row_counts,
        "party",
        organization=tenant_a.organization,
        goal=goal,
        party="vendor",
        description="Ship the books",
    )


@pytest.mark.parametrize("party", ["member_outside", "member_inside"])
def test_a_seat_owning_the_members_part_is_refused(tenant_a, goal, row_counts, party):
    _add_refused(
        row_counts,
        "owner_seat",
        organization=tenant_a.organization,
        goal=goal,
        party=party,
        description="Study on weekends",
        owner_seat=tenant_a.msm,
    )


def test_seat_or_goal_of_another_organization_is_refused(tenant_a, tenant_b, goal, row_counts):
    _add_refused(
        row_counts,
        "owner_seat",
        organization=tenant_a.organization,
        goal=goal,
        party="together",
        description="Review",
        owner_seat=tenant_b.msm,
    )
    their_goal = GoalFactory(desired_outcome__member__organization=tenant_b.organization)
    _add_refused(
        row_counts,
        "goal",
        organization=tenant_a.organization,
        goal=their_goal,
        party="together",
        description="Review",
    )


def test_empty_or_too_long_description_is_refused(tenant_a, goal, row_counts):
    for description in ("  ", "x" * 301):
        _add_refused(
            row_counts,
            "description",
            organization=tenant_a.organization,
            goal=goal,
            party="member_inside",
            description=description,
        )


def test_complete_once_then_reopen(tenant_a, goal, row_counts):
    org = tenant_a.organization
    commitment = CommitmentFactory(goal=goal)
    moment = timezone.now() - dt.timedelta(hours=3)
    commitment_complete(organization=org, commitment=commitment, done_at=moment)
    assert Commitment.objects.for_org(org).get().done_at == moment

    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        commitment_complete(organization=org, commitment=commitment)
    assert "commitment" in excinfo.value.message_dict
    assert row_counts() == before
    assert Commitment.objects.for_org(org).get().done_at == moment

    commitment_reopen(organization=org, commitment=commitment)
    assert Commitment.objects.for_org(org).get().done_at is None
    with pytest.raises(ValidationError) as excinfo:
        commitment_reopen(organization=org, commitment=commitment)
    assert "commitment" in excinfo.value.message_dict


def test_complete_refuses_a_future_or_naive_time(tenant_a, goal, row_counts):
    commitment = CommitmentFactory(goal=goal)
    before = row_counts()
    for done_at in (
        timezone.now() + dt.timedelta(hours=1),
        dt.datetime(2025, 1, 1, 9, 0),
    ):
        with pytest.raises(ValidationError) as excinfo:
            commitment_complete(
                organization=tenant_a.organization, commitment=commitment, done_at=done_at
            )
        assert "done_at" in excinfo.value.message_dict
    assert row_counts() == before


def test_complete_and_reopen_refuse_another_organizations_commitment(
    tenant_a, tenant_b, row_counts
):
    theirs = CommitmentFactory(goal__desired_outcome__member__organization=tenant_b.organization)
    before = row_counts()
    for service in (commitment_complete, commitment_reopen):
        with pytest.raises(ValidationError) as excinfo:
            service(organization=tenant_a.organization, commitment=theirs)
        assert "commitment" in excinfo.value.message_dict
    assert row_counts() == before
