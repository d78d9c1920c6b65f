"""Explaining scores, the debounced recompute, the tasks and the management command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outcomes import recompute
from outcomes.explain import gap_explanation, member_gap_trend
from outcomes.models import SuccessGapRun, SuccessGapSnapshot
from outcomes.scoring import success_gaps_recompute
from outcomes.tasks import recompute_chunk, recompute_members, recompute_organization
from tenancy.scope import UnscopedQueryError, organization_scope
from tests.factories import (
    ConditionFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def organization(tenant_a):
    return tenant_a.organization


def behind_member(organization):
    member = MemberFactory(organization=organization)
    for _ in range(2):
        ProgressMilestoneFactory(
            member=member, due_on=dt.date(2026, 6, 1), achieved_at=NOW, achieved_via="manual"
        )
    goal = GoalFactory(
        desired_outcome__member=member,
        baseline=Decimal(0),
        target=Decimal(40),
        current_value=Decimal(10),
        starts_on=dt.date(2026, 3, 7),
        due_on=dt.date(2026, 9, 23),
    )
    ConditionFactory(goal=goal, state="not_met")
    return member, goal


def test_the_explanation_gives_the_parts_in_words_and_the_trend(organization):
    member, goal = behind_member(organization)
    success_gaps_recompute(organization=organization, now=NOW - dt.timedelta(days=40))
    goal.current_value = Decimal(20)
    goal.save()
    success_gaps_recompute(organization=organization, now=NOW - dt.timedelta(days=1))
    success_gaps_recompute(organization=organization, now=NOW)

    with CaptureQueriesContext(connection) as queries:
        explanation = gap_explanation(organization=organization, member=member, now=NOW)
    assert len(queries) <= 3
    assert explanation.headline.startswith("Gap ")
    assert "at risk" in explanation.headline or "watch" in explanation.headline
    text = " ".join(explanation.reasons)
    assert "2 of 2 functional and operational milestones" in text
    assert "0 of 1 conditions are met" in text
    assert "of the pace their time frames call for" in text
    assert explanation.change_since_previous == pytest.approx(0.0)
    assert explanation.change_since_30_days is not None
    assert explanation.change_since_30_days < 0  # progress made since the first run
    trend = member_gap_trend(organization=organization, member=member, days=90, now=NOW)
    assert len(trend) == 3
    assert trend[0][1] > trend[-1][1]


def test_an_unscored_member_and_a_member_without_goals_are_explained(organization):
    member = MemberFactory(organization=organization)
    assert gap_explanation(organization=organization, member=member).headline.startswith(
        "Not scored yet"
    )
    success_gaps_recompute(organization=organization, now=NOW)
    explanation = gap_explanation(organization=organization, member=member, now=NOW)
    assert explanation.headline.startswith("No desired outcome recorded")


def test_ten_changes_in_one_batch_send_one_recompute(
    organization, broker_queue, django_capture_on_commit_callbacks
):
    member, _ = behind_member(organization)
    other = MemberFactory(organization=organization)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, recompute.recompute_batch():
        for _ in range(9):
            EngagementFactory(member=member)
        EngagementFactory(member=other)
    assert len(callbacks) == 1
    assert broker_queue() == [
        {
            "task": "outcomes.recompute_members",
            "organization_id": organization.pk,
            "member_ids": sorted([member.pk, other.pk]),
        }
    ]


def test_a_change_outside_a_batch_is_sent_on_commit(
    organization, broker_queue, django_capture_on_commit_callbacks
):
    member = MemberFactory(organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        ProgressMilestoneFactory(member=member)
    messages = broker_queue()
    assert [m["member_ids"] for m in messages] == [[member.pk]]


def test_nothing_is_sent_for_a_change_that_never_commits(
    organization, broker_queue, django_capture_on_commit_callbacks
):
    member = MemberFactory(organization=organization)
    with django_capture_on_commit_callbacks(execute=False):
        EngagementFactory(member=member)
    assert broker_queue() == []


def test_a_page_request_is_one_batch_and_leaves_no_batch_behind(tenant_a, login, broker_queue):
    login(tenant_a.msm).get(f"/o/{tenant_a.organization.slug}/")
    assert broker_queue() == []  # the dashboard changes nothing
    assert recompute._batch.get() is None


def test_tasks_are_idempotent_functions_and_refuse_to_run_unscoped(organization, settings):
    settings.SUCCESS_GAP_CHUNK_SIZE = 1000
    members = [behind_member(organization)[0] for _ in range(3)]
    assert recompute_organization.run(organization_id=organization.pk) == 3
    run = SuccessGapRun.objects.for_org(organization).get()
    assert (
        recompute_chunk.run(organization_id=organization.pk, run_id=run.pk, low=0, high=None) == 0
    )
    assert SuccessGapSnapshot.objects.for_org(organization).count() == 3
    assert recompute_members.run(organization_id=organization.pk, member_ids=[members[0].pk]) == 1
    with pytest.raises(UnscopedQueryError):
        recompute_members.run(member_ids=[members[0].pk])


def test_a_chunk_task_cannot_reach_another_organizations_run(organization, tenant_b):
    success_gaps_recompute(organization=tenant_b.organization, now=NOW)
    foreign_run = SuccessGapRun.objects.for_org(tenant_b.organization).get()
    with pytest.raises(SuccessGapRun.DoesNotExist):
        recompute_chunk.run(
            organization_id=organization.pk, run_id=foreign_run.pk, low=0, high=None
        )


def test_the_command_scores_every_member_in_chunks(organization, capsys):
    for _ in range(5):
        behind_member(organization)
    call_command("recompute_success_gaps", "--org", organization.slug, "--chunk-size", "2")
    output = capsys.readouterr().out
    assert "3/3 chunks" in output
    assert "5 members scored" in output
    with organization_scope(organization):
        assert SuccessGapSnapshot.objects.count() == 5


def test_a_lost_chunk_leaves_the_run_unfinished_until_the_repair_sends_it_again(
    organization, settings, broker_queue
):
    """The file broker cannot redeliver a chunk whose worker died: the run says it is short of
    members, and the hourly repair sends its chunks again (each skips the scored members)."""
    from outcomes.tasks import repair_unfinished_runs

    settings.SUCCESS_GAP_CHUNK_SIZE = 2
    members = [behind_member(organization)[0] for _ in range(5)]
    assert recompute_organization.run(organization_id=organization.pk) == 0
    chunks = sorted(broker_queue(), key=lambda m: m["low"])  # the broker keeps no order
    assert [m["task"] for m in chunks] == ["outcomes.recompute_chunk"] * 3
    run = SuccessGapRun.objects.for_org(organization).get()
    assert run.members_expected == 5
    for chunk in chunks[:2]:  # the third is lost with its worker
        recompute_chunk.run(**{k: chunk[k] for k in ("organization_id", "run_id", "low", "high")})
    run.refresh_from_db()
    assert (run.members_scored, run.finished_at) == (4, None)

    assert repair_unfinished_runs() == 0  # opened less than an hour ago: maybe still running
    # Two hours pass: the run, and its snapshots with it (a run's snapshots carry its moment,
    # which the one-per-member-per-run key holds), opened two hours earlier.
    earlier = run.computed_at - dt.timedelta(hours=2)
    SuccessGapRun.objects.for_org(organization).filter(pk=run.pk).update(computed_at=earlier)
    with organization_scope(organization):
        SuccessGapSnapshot.objects.filter(run=run).update(computed_at=earlier)
    assert repair_unfinished_runs() == 1
    again = broker_queue()
    assert len(again) == 3
    for chunk in again:
        recompute_chunk.run(**{k: chunk[k] for k in ("organization_id", "run_id", "low", "high")})
    run.refresh_from_db()
    assert run.members_scored == 5 and run.finished_at is not None and run.repairs == 1
    with organization_scope(organization):
        scored = SuccessGapSnapshot.objects.filter(run=run).values_list("member_id", flat=True)
        assert sorted(scored) == sorted(m.pk for m in members)  # each once
    assert repair_unfinished_runs() == 0


def test_a_run_short_of_deleted_members_is_finished_by_the_repair(organization, settings):
    from outcomes.tasks import repair_unfinished_runs

    settings.SUCCESS_GAP_CHUNK_SIZE = 2
    members = [behind_member(organization)[0] for _ in range(3)]
    opened = timezone.now() - dt.timedelta(hours=2)
    run = SuccessGapRun.objects.for_org(organization).create(
        organization=organization,
        computed_at=opened,
        as_of=opened.date(),
        members_expected=3,
        members_scored=2,
    )
    with organization_scope(organization):
        members[2].delete()
    assert repair_unfinished_runs() == 0
    run.refresh_from_db()
    assert run.finished_at is not None and run.repairs == 0
