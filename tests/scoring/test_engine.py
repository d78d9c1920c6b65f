"""The success-gap engine: scores worked out by hand, the reference loop, idempotency, queries."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Member
from outcomes.models import ScoringConfiguration, SuccessGapSnapshot
from outcomes.scoring import (
    MemberRange,
    member_id_chunks,
    success_gap_run_start,
    success_gaps_compute,
    success_gaps_recompute,
)
from tenancy.models import DomainEvent
from tests.factories import (
    AppropriateExperienceFactory,
    CommitmentFactory,
    ConditionFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    ProgressMilestoneFactory,
)
from tests.scoring_reference import reference_scores

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def snapshot_of(result, member) -> SuccessGapSnapshot:
    return SuccessGapSnapshot.objects.for_org(member.organization).get(
        run=result.run, member=member
    )


def milestones(member, *, due: int, done: int, type="functional"):
    for n in range(due):
        ProgressMilestoneFactory(
            member=member,
            type=type,
            due_on=days(-10),
            achieved_at=NOW - dt.timedelta(days=12) if n < done else None,
            achieved_via="manual" if n < done else "",
        )


def goal(member, *, current, baseline=0, target=40, started=-100, due=100, **extra):
    return GoalFactory(
        desired_outcome__member=member,
        baseline=Decimal(baseline),
        target=Decimal(target),
        current_value=Decimal(current),
        starts_on=days(started),
        due_on=days(due),
        **extra,
    )


@pytest.fixture
def organization(tenant_a):
    organization = tenant_a.organization
    organization.time_zone = "UTC"
    organization.save()
    return organization


def test_busy_in_the_product_but_not_succeeding_has_a_large_gap(organization):
    """Every onboarding milestone done (F = 1); goal at 10/40 halfway through its time frame
    (pace 0.25 / 0.5 = 0.5) with its one condition unmet (0/1):
    O = (3·0.5 + 2·0) / (3 + 2) = 0.3, gap = (1 − 0.3)·100 = 70 → at risk."""
    member = MemberFactory(organization=organization)
    milestones(member, due=4, done=4)
    g = goal(member, current=10)
    ConditionFactory(goal=g, state="not_met")

    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.functional == pytest.approx(1.0)
    assert snap.pace == pytest.approx(0.5)
    assert snap.outcome == pytest.approx(0.3)
    assert snap.gap == pytest.approx(70.0)
    assert snap.band == "at_risk"
    assert snap.parts["conditions_total"] == 1 and snap.parts["conditions_met"] == 0


def test_a_member_ahead_of_pace_with_conditions_met_is_on_track(organization):
    """F = (3·1/2 + 1·1/1) / 4 = 0.625; pace 1 (30/40 ≥ half the time), condition met, required
    experience delivered 10 days ago on a 30-day cadence: O = 1 → gap 0, on track."""
    member = MemberFactory(organization=organization)
    milestones(member, due=2, done=1)
    g = goal(member, current=30)
    ConditionFactory(goal=g, state="met")
    CommitmentFactory(goal=g, party="together", due_on=days(-5), done_at=NOW)
    CommitmentFactory(goal=g, party="member_outside", due_on=days(-5))  # not ours: not in F
    AppropriateExperienceFactory(member=member, engagement_type="call", cadence_days=30)
    EngagementFactory(member=member, type="call", occurred_at=NOW - dt.timedelta(days=10))

    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.functional == pytest.approx(0.625)
    assert snap.outcome == pytest.approx(1.0)
    assert snap.gap == 0.0
    assert snap.band == "on_track"
    assert snap.parts["experience_fulfilled"] == 1


def test_watch_band_from_a_half_met_set_of_conditions(organization):
    """Objective reached (pace 1), one of three conditions met: O = (3·1 + 2·⅓)/5 = 11/15;
    F = 1 → gap = 4/15·100 ≈ 26.7: between watch (20) and at risk (40)."""
    member = MemberFactory(organization=organization)
    milestones(member, due=1, done=1)
    g = goal(member, current=5, objective_reached_on=days(-1), status="hollow")
    ConditionFactory(goal=g, state="met")
    ConditionFactory(goal=g, state="unknown")
    ConditionFactory(goal=g, state="not_met")
    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.gap == pytest.approx(400 / 15)
    assert snap.band == "watch"


def test_slow_pace_alone_puts_a_member_at_risk(organization):
    """Nothing due on our side (F none → 0, gap 0), but 4/40 at half time: pace 0.2 < 0.5."""
    member = MemberFactory(organization=organization)
    goal(member, current=4)
    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.functional is None
    assert snap.gap == 0.0
    assert snap.pace == pytest.approx(0.2)
    assert snap.band == "at_risk"


def test_a_member_without_goals_has_no_outcome_recorded_not_zero(organization):
    member = MemberFactory(organization=organization)
    milestones(member, due=3, done=3)
    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.band == "no_outcome"
    assert snap.gap is None and snap.outcome is None
    assert snap.functional == pytest.approx(1.0)


def test_closed_goals_and_other_organizations_do_not_count(organization, tenant_b):
    member = MemberFactory(organization=organization)
    goal(member, current=40, status="achieved")
    stranger = MemberFactory(organization=tenant_b.organization)
    goal(stranger, current=1)
    result = success_gaps_recompute(organization=organization, now=NOW)
    assert snapshot_of(result, member).band == "no_outcome"
    assert result.members_scored == 1
    assert not SuccessGapSnapshot.objects.for_org(tenant_b.organization).exists()


def test_organization_weights_change_the_score(organization):
    ScoringConfiguration.objects.for_org(organization).create(
        organization=organization, conditions_weight=0.0
    )
    member = MemberFactory(organization=organization)
    milestones(member, due=4, done=4)
    g = goal(member, current=10)
    ConditionFactory(goal=g, state="not_met")
    snap = snapshot_of(success_gaps_recompute(organization=organization, now=NOW), member)
    assert snap.outcome == pytest.approx(0.5)  # pace only
    assert snap.gap == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"pace_weight": -1.0}, "pace_weight"),
        ({"milestones_weight": 0.0, "commitments_weight": 0.0}, "milestones_weight"),
        (
            {
                "pace_weight": 0,
                "conditions_weight": 0,
                "strategic_weight": 0,
                "experience_weight": 0,
            },
            "pace_weight",
        ),
        ({"watch_gap": 50.0, "at_risk_gap": 40.0}, "at_risk_gap"),
        ({"at_risk_gap": 120.0}, "at_risk_gap"),
        ({"watch_pace": 0.4, "at_risk_pace": 0.5}, "watch_pace"),
    ],
)
def test_configuration_is_validated(organization, fields, error_field):
    configuration = ScoringConfiguration(organization=organization, **fields)
    with pytest.raises(ValidationError) as caught:
        configuration.full_clean()
    assert error_field in caught.value.message_dict


def test_defaults_are_valid(organization):
    ScoringConfiguration(organization=organization).full_clean()


def test_rerunning_a_run_writes_nothing_twice(organization):
    members = MemberFactory.create_batch(3, organization=organization)
    for member in members:
        goal(member, current=1)
    run = success_gap_run_start(organization=organization, now=NOW)
    first = success_gaps_compute(organization=organization, run=run)
    again = success_gaps_compute(organization=organization, run=run)
    assert (first.members_scored, again.members_scored) == (3, 0)
    assert (first.band_changes, again.band_changes) == (3, 0)
    assert SuccessGapSnapshot.objects.for_org(organization).filter(run=run).count() == 3
    run.refresh_from_db()
    assert run.members_scored == 3


def test_band_changes_are_domain_events_only_when_the_band_changes(organization):
    member = MemberFactory(organization=organization)
    g = goal(member, current=4)
    success_gaps_recompute(organization=organization, now=NOW)
    success_gaps_recompute(organization=organization, now=NOW)
    events = DomainEvent.objects.for_org(organization).filter(kind="member.band_changed")
    assert events.count() == 1
    assert events.get().payload["to"] == "at_risk"
    g.current_value = Decimal(39)
    g.save()
    success_gaps_recompute(organization=organization, now=NOW)
    latest = events.order_by("-pk").first()
    assert events.count() == 2
    assert (latest.payload["from"], latest.payload["to"]) == ("at_risk", "on_track")
    member.refresh_from_db()
    assert member.success_band == "on_track"
    assert member.success_gap == 0.0


def test_chunks_cover_every_member_once(organization):
    MemberFactory.create_batch(7, organization=organization)
    chunks = member_id_chunks(organization=organization, size=3)
    assert len(chunks) == 3
    run = success_gap_run_start(organization=organization, now=NOW)
    total = sum(
        success_gaps_compute(organization=organization, run=run, scope=chunk).members_scored
        for chunk in chunks
    )
    assert total == 7


def test_one_member_can_be_recomputed_alone(organization):
    member, _other = MemberFactory.create_batch(2, organization=organization)
    result = success_gaps_recompute(organization=organization, member_ids=[member.pk], now=NOW)
    assert result.members_scored == 1
    assert SuccessGapSnapshot.objects.for_org(organization).get(run=result.run).member == member
    assert MemberRange(ids=()).clause("m.id") == " AND 1 = 0"


def test_statement_count_does_not_grow_with_members(organization):
    def statements(n: int) -> int:
        for member in MemberFactory.create_batch(n, organization=organization):
            goal(member, current=3)
        with CaptureQueriesContext(connection) as queries:
            success_gaps_recompute(organization=organization, now=NOW)
        return len(queries)

    assert statements(5) == statements(50)


def random_portfolio(organization, rng: random.Random, size: int) -> None:
    """Members with a random mix of everything the score reads, around TODAY."""
    for _ in range(size):
        member = MemberFactory(organization=organization)
        for _ in range(rng.randint(0, 4)):
            achieved = rng.random() < 0.5
            ProgressMilestoneFactory(
                member=member,
                type=rng.choice(["functional", "operational", "opportune"]),
                due_on=rng.choice([None, days(rng.randint(-60, 60))]),
                achieved_at=NOW - dt.timedelta(days=rng.randint(0, 50)) if achieved else None,
                achieved_via="rule" if achieved else "",
            )
        for _ in range(rng.randint(0, 2)):
            status = rng.choice(["active", "active", "hollow", "achieved", "missed"])
            baseline = rng.choice([0, 10, 100])
            target = rng.choice([None, baseline + rng.randint(-50, 50)])
            g = GoalFactory(
                desired_outcome__member=member,
                status=status,
                baseline=Decimal(baseline),
                target=None if target is None else Decimal(target),
                current_value=rng.choice([None, Decimal(rng.randint(-10, 120))]),
                starts_on=days(rng.randint(-200, 10)),
                due_on=days(rng.randint(10, 200)),
                objective_reached_on=days(-1) if rng.random() < 0.2 else None,
            )
            for _ in range(rng.randint(0, 3)):
                ConditionFactory(goal=g, state=rng.choice(["met", "not_met", "unknown"]))
            for _ in range(rng.randint(0, 3)):
                CommitmentFactory(
                    goal=g,
                    party=rng.choice(
                        ["member_outside", "member_inside", "together", "us_behind_scenes"]
                    ),
                    due_on=rng.choice([None, days(rng.randint(-30, 30))]),
                    done_at=NOW if rng.random() < 0.5 else None,
                )
            if rng.random() < 0.6:
                done = rng.random() < 0.5
                ProgressMilestoneFactory(
                    member=member,
                    goal=g,
                    type="strategic",
                    due_on=days(rng.randint(-30, 30)),
                    achieved_at=NOW if done else None,
                    achieved_via="manual" if done else "",
                )
        for _ in range(rng.randint(0, 3)):
            AppropriateExperienceFactory(
                member=member,
                engagement_type=rng.choice(["call", "chat", "email"]),
                cadence_days=rng.choice([7, 30, 90]),
                required=rng.random() < 0.8,
                is_active=rng.random() < 0.9,
            )
        for _ in range(rng.randint(0, 5)):
            EngagementFactory(
                member=member,
                type=rng.choice(["call", "chat", "email", "event"]),
                occurred_at=NOW - dt.timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23)),
            )


@pytest.mark.parametrize("seed", range(6))
def test_the_engine_equals_the_reference_loop_on_random_portfolios(organization, seed):
    rng = random.Random(seed)
    if seed % 2:
        ScoringConfiguration.objects.for_org(organization).create(
            organization=organization,
            milestones_weight=rng.uniform(0, 3),
            commitments_weight=rng.uniform(0.1, 3),
            pace_weight=rng.uniform(0, 3),
            conditions_weight=rng.uniform(0, 3),
            strategic_weight=rng.uniform(0, 3),
            experience_weight=rng.uniform(0.1, 3),
        )
    random_portfolio(organization, rng, size=25)
    result = success_gaps_recompute(organization=organization, now=NOW)
    expected = reference_scores(organization, result.run)
    snapshots = {s.member_id: s for s in SuccessGapSnapshot.objects.for_org(organization)}
    assert set(snapshots) == set(expected) and len(expected) == 25
    for member_id, ref in expected.items():
        snap = snapshots[member_id]
        assert {k: snap.parts[k] for k in ref.counts} == ref.counts, member_id
        for name in ("functional", "outcome", "gap", "pace"):
            got, want = getattr(snap, name), getattr(ref, name)
            assert (got is None) == (want is None), (member_id, name, got, want)
            if want is not None:
                assert got == pytest.approx(want, abs=1e-9), (member_id, name)
        assert snap.band == ref.band, member_id


def test_scores_are_for_the_organizations_local_date(tenant_a):
    organization = tenant_a.organization
    organization.time_zone = "Pacific/Kiritimati"  # UTC+14: already tomorrow
    organization.save()
    run = success_gap_run_start(organization=organization, now=NOW.replace(hour=11))
    assert run.as_of == TODAY + dt.timedelta(days=1)
    assert timezone.is_aware(run.computed_at)
    assert Member.objects.for_org(organization).count() == 0


def test_engagements_at_the_edge_of_the_longest_cadence_are_judged_as_before(organization):
    """The engine reads only engagements inside the longest cadence (plus a second): one a
    second inside it fulfils, one a day outside does not, and the ones on the edge agree with
    the reference loop, which reads every engagement."""
    edges = {
        "inside": dt.timedelta(days=30, seconds=-1),
        "on the edge": dt.timedelta(days=30),
        "a second out": dt.timedelta(days=30, seconds=1),
        "a day out": dt.timedelta(days=31),
    }
    members = {}
    for label, age in edges.items():
        member = MemberFactory(organization=organization, name=label)
        goal(member, current=50)
        AppropriateExperienceFactory(member=member, engagement_type="call", cadence_days=30)
        AppropriateExperienceFactory(member=member, engagement_type="chat", cadence_days=7)
        EngagementFactory(member=member, type="call", occurred_at=NOW - age)
        EngagementFactory(member=member, type="chat", occurred_at=NOW - age)
        members[label] = member

    result = success_gaps_recompute(organization=organization, now=NOW)
    expected = reference_scores(organization, result.run)
    for label, member in members.items():
        snap = snapshot_of(result, member)
        ref = expected[member.pk]
        assert snap.parts["experience_fulfilled"] == ref.counts["experience_fulfilled"], label
        assert snap.outcome == pytest.approx(ref.outcome), label
    assert snapshot_of(result, members["inside"]).parts["experience_fulfilled"] == 1
    assert snapshot_of(result, members["a day out"]).parts["experience_fulfilled"] == 0
