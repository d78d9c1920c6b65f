"""Triggers: each enrols exactly the members it should, exactly once across evaluations; the
band cursor consumes each band change once; finding members takes the same number of queries
for 5 and 50 members; other organizations are never touched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app
from engagement.choices import EngagementType
from engagement.selectors import experience_fulfilment
from orchestration.models import DomainEventCursor, Enrollment, Playbook, Task
from orchestration.playbooks import enrollment_cancel, playbook_create
from orchestration.tasks import evaluate_triggers, evaluate_triggers_all
from orchestration.triggers import triggers_evaluate
from outcomes.models import AppropriateExperience
from tenancy.models import DomainEvent
from tenancy.selectors import organization_today
from tests.factories import (
    AppropriateExperienceFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    PlaybookFactory,
    ProgressMilestoneFactory,
)

TASK = {"offset_days": 1, "action": "task", "title": "Call them"}
MEETING = EngagementType.MEETING_1_1


def _playbook(organization, trigger: str, **settings) -> Playbook:
    return playbook_create(
        organization=organization, name=trigger, trigger=trigger, steps=[TASK], **settings
    )


def _enrolled(playbook: Playbook, status: str = "active") -> set[int]:
    return set(
        Enrollment.objects.unscoped()
        .filter(playbook=playbook, status=status)
        .values_list("member_id", flat=True)
    )


def _ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def _evaluate_twice(organization, playbook, today, expected: set[int]) -> None:
    """The first evaluation enrols exactly ``expected``; the second enrols nobody."""
    assert triggers_evaluate(organization=organization, today=today) == {playbook.pk: len(expected)}
    assert _enrolled(playbook) == expected
    before = Enrollment.objects.unscoped().count()
    assert triggers_evaluate(organization=organization, today=today) == {playbook.pk: 0}
    assert Enrollment.objects.unscoped().count() == before


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def today(org) -> dt.date:
    return organization_today(org)


# --- each trigger --------------------------------------------------------------------------


def test_on_join_enrols_members_who_joined_in_the_last_week(org, today):
    playbook = _playbook(org, "on_join")
    Playbook.objects.for_org(org).filter(pk=playbook.pk).update(created_at=_ago(30))
    week_edge = MemberFactory(organization=org, joined_on=today - dt.timedelta(days=7))
    yesterday = MemberFactory(organization=org, joined_on=today - dt.timedelta(days=1))
    MemberFactory(organization=org, joined_on=today - dt.timedelta(days=8))  # too long ago
    MemberFactory(organization=org, joined_on=today + dt.timedelta(days=1))  # not yet
    MemberFactory(organization=org, joined_on=today, status="lapsed")
    MemberFactory(organization=org, joined_on=today, status="prospect")
    MemberFactory(organization=org, joined_on=None)
    _evaluate_twice(org, playbook, today, {week_edge.pk, yesterday.pk})


def test_on_join_does_not_reach_back_before_the_playbook_existed(org, today):
    playbook = _playbook(org, "on_join")  # created today
    joined_today = MemberFactory(organization=org, joined_on=today)
    MemberFactory(organization=org, joined_on=today - dt.timedelta(days=2))
    _evaluate_twice(org, playbook, today, {joined_today.pk})


def _band_event(organization, member, to: str, **fields) -> DomainEvent:
    return DomainEvent.objects.create(
        organization=organization,
        kind=DomainEvent.Kind.BAND_CHANGED,
        subject_id=member.pk,
        payload={"member_id": member.pk, "from": "on_track", "to": to, "gap": 25.0, "run_id": 1},
        **fields,
    )


def test_band_entered_enrols_members_who_entered_the_band_since_last_time(org, today):
    before_playbook = MemberFactory(organization=org, success_band="watch")
    _band_event(org, before_playbook, "watch")  # happened before the playbook existed
    playbook = _playbook(org, "band_entered", trigger_band="watch")
    entered = MemberFactory(organization=org, success_band="watch")
    _band_event(org, entered, "watch")
    moved_on = MemberFactory(organization=org, success_band="at_risk")
    _band_event(org, moved_on, "watch")  # then at risk: no longer in the band
    _band_event(org, moved_on, "at_risk")
    other_band = MemberFactory(organization=org, success_band="at_risk")
    _band_event(org, other_band, "at_risk")
    lapsed = MemberFactory(organization=org, success_band="watch", status="lapsed")
    _band_event(org, lapsed, "watch")
    _evaluate_twice(org, playbook, today, {entered.pk})


def test_the_band_cursor_consumes_each_event_once(org, today):
    playbook = _playbook(org, "band_entered", trigger_band="at_risk")
    member = MemberFactory(organization=org, success_band="at_risk")
    first = _band_event(org, member, "at_risk")
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}
    cursor = DomainEventCursor.objects.for_org(org).get(consumer=f"playbook:{playbook.pk}")
    assert cursor.last_event_id == first.pk

    # Cancelled, still at risk: the consumed event does not enrol the member again …
    enrollment = Enrollment.objects.for_org(org).get(playbook=playbook, member=member)
    enrollment_cancel(organization=org, enrollment=enrollment)
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
    # … a new band change does.
    second = _band_event(org, member, "at_risk")
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}
    assert Enrollment.objects.for_org(org).filter(playbook=playbook, member=member).count() == 2
    cursor.refresh_from_db()
    assert cursor.last_event_id == second.pk


def test_a_band_playbook_without_cursor_reads_the_events_since_it_was_created(org, today):
    member = MemberFactory(organization=org, success_band="watch")
    _band_event(org, member, "watch", occurred_at=_ago(2))
    playbook = PlaybookFactory(organization=org, trigger="band_entered", trigger_band="watch")
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
    _band_event(org, member, "watch")
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}


def test_milestone_overdue_enrols_members_with_a_pending_milestone_past_due(org, today):
    playbook = _playbook(org, "milestone_overdue", trigger_days=3)
    late = ProgressMilestoneFactory(
        member__organization=org, due_on=today - dt.timedelta(days=4)
    ).member
    ProgressMilestoneFactory(member__organization=org, due_on=today - dt.timedelta(days=3))
    ProgressMilestoneFactory(
        member__organization=org,
        due_on=today - dt.timedelta(days=30),
        achieved_at=_ago(1),
        achieved_via="manual",
    )
    ProgressMilestoneFactory(
        member__organization=org, member__status="cancelled", due_on=today - dt.timedelta(days=30)
    )
    ProgressMilestoneFactory(member__organization=org, due_on=None)
    _evaluate_twice(org, playbook, today, {late.pk})


def test_milestone_overdue_without_days_means_overdue_at_all(org, today):
    playbook = _playbook(org, "milestone_overdue")
    late = ProgressMilestoneFactory(
        member__organization=org, due_on=today - dt.timedelta(days=1)
    ).member
    ProgressMilestoneFactory(member__organization=org, due_on=today)
    _evaluate_twice(org, playbook, today, {late.pk})


def test_milestone_overdue_enrols_again_only_for_a_milestone_due_after_the_enrolment(org, today):
    playbook = _playbook(org, "milestone_overdue")
    milestone = ProgressMilestoneFactory(
        member__organization=org, due_on=today - dt.timedelta(days=20)
    )
    member = milestone.member
    triggers_evaluate(organization=org, today=today)
    enrollment = Enrollment.objects.for_org(org).get(playbook=playbook, member=member)
    enrollment_cancel(organization=org, enrollment=enrollment)
    Enrollment.objects.for_org(org).filter(pk=enrollment.pk).update(enrolled_at=_ago(10))
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
    ProgressMilestoneFactory(member=member, due_on=today - dt.timedelta(days=5))
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}


def test_renewal_within_enrols_live_members_renewing_soon(org, today):
    playbook = _playbook(org, "renewal_within", trigger_days=30)
    soon = MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=10))
    edge = MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=30), status="grace")
    renews_today = MemberFactory(organization=org, renewal_on=today)
    MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=31))
    MemberFactory(organization=org, renewal_on=today - dt.timedelta(days=1))
    MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=5), status="lapsed")
    MemberFactory(organization=org, renewal_on=None)
    _evaluate_twice(org, playbook, today, {soon.pk, edge.pk, renews_today.pk})


def test_a_cancelled_enrolment_is_not_restarted_within_the_window(org, today):
    playbook = _playbook(org, "renewal_within", trigger_days=30)
    member = MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=10))
    triggers_evaluate(organization=org, today=today)
    enrollment = Enrollment.objects.for_org(org).get(playbook=playbook, member=member)
    enrollment_cancel(organization=org, enrollment=enrollment)
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
    # An enrolment from before this renewal's window does not count.
    Enrollment.objects.for_org(org).filter(pk=enrollment.pk).update(enrolled_at=_ago(40))
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}


def test_goal_due_within_enrols_members_with_an_open_goal_due_soon(org, today):
    playbook = _playbook(org, "goal_due_within", trigger_days=14)
    active = GoalFactory(
        desired_outcome__member__organization=org, due_on=today + dt.timedelta(days=7)
    ).member
    hollow = GoalFactory(
        desired_outcome__member__organization=org,
        due_on=today + dt.timedelta(days=14),
        status="hollow",
    ).member
    GoalFactory(
        desired_outcome__member__organization=org,
        due_on=today + dt.timedelta(days=5),
        status="achieved",
    )
    GoalFactory(desired_outcome__member__organization=org, due_on=today + dt.timedelta(days=15))
    GoalFactory(desired_outcome__member__organization=org, due_on=today - dt.timedelta(days=1))
    two_goals = GoalFactory(
        desired_outcome__member__organization=org, due_on=today + dt.timedelta(days=1)
    ).member
    GoalFactory(desired_outcome__member=two_goals, due_on=today + dt.timedelta(days=2))
    _evaluate_twice(org, playbook, today, {active.pk, hollow.pk, two_goals.pk})


def _element(member, *, cadence: int = 30, set_days_ago: int = 200, **fields):
    """A required 1:1-meeting element, set ``set_days_ago`` days ago."""
    element = AppropriateExperienceFactory(
        member=member, cadence_days=cadence, engagement_type=MEETING, **fields
    )
    AppropriateExperience.objects.unscoped().filter(pk=element.pk).update(
        created_at=_ago(set_days_ago)
    )
    return element


def test_ax_overdue_enrols_members_whose_required_experience_is_overdue(org, today):
    playbook = _playbook(org, "ax_overdue")
    members = {name: MemberFactory(organization=org) for name in "abcdefgh"}
    _element(members["a"])
    EngagementFactory(member=members["a"], type=MEETING, occurred_at=_ago(45))  # overdue
    _element(members["b"])
    EngagementFactory(member=members["b"], type=MEETING, occurred_at=_ago(10))  # on cadence
    _element(members["c"])
    EngagementFactory(member=members["c"], type="call", occurred_at=_ago(2))  # wrong type: overdue
    _element(members["d"], set_days_ago=5)  # never delivered, not yet due
    _element(members["e"], set_days_ago=45)  # never delivered, overdue
    _element(members["f"], required=False)  # not required
    _element(members["g"], cadence=90)
    EngagementFactory(member=members["g"], type=MEETING, occurred_at=_ago(60))  # on cadence
    _element(members["h"], cadence=90)
    EngagementFactory(member=members["h"], type=MEETING, occurred_at=_ago(100))  # overdue
    expected = {members[name].pk for name in "aceh"}
    # The same rule as the member page's experience fulfilment.
    overdue_by_selector = {
        member.pk
        for member in members.values()
        if any(
            item.overdue
            for item in experience_fulfilment(organization=org, member=member, today=today)
        )
    }
    assert overdue_by_selector == expected
    _evaluate_twice(org, playbook, today, expected)


def test_ax_overdue_days_are_a_grace_period(org, today):
    playbook = _playbook(org, "ax_overdue", trigger_days=20)
    slightly = MemberFactory(organization=org)
    _element(slightly)
    EngagementFactory(member=slightly, type=MEETING, occurred_at=_ago(45))  # 15 days overdue
    very = MemberFactory(organization=org)
    _element(very)
    EngagementFactory(member=very, type=MEETING, occurred_at=_ago(60))  # 30 days overdue
    _evaluate_twice(org, playbook, today, {very.pk})


def test_ax_overdue_with_no_elements_finds_nobody(org, today):
    playbook = _playbook(org, "ax_overdue")
    MemberFactory(organization=org)
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}


def test_no_engagement_for_enrols_active_members_gone_silent(org, today):
    playbook = _playbook(org, "no_engagement_for", trigger_days=30)
    silent = MemberFactory(organization=org)
    EngagementFactory(member=silent, occurred_at=_ago(40))
    never = MemberFactory(organization=org)
    engaged = MemberFactory(organization=org)
    EngagementFactory(member=engaged, occurred_at=_ago(10))
    MemberFactory(organization=org, joined_on=today - dt.timedelta(days=5))  # too new
    MemberFactory(organization=org, status="grace")
    _evaluate_twice(org, playbook, today, {silent.pk, never.pk})


def test_no_engagement_for_enrols_again_when_the_silence_goes_on(org, today):
    playbook = _playbook(org, "no_engagement_for", trigger_days=30)
    member = MemberFactory(organization=org)
    triggers_evaluate(organization=org, today=today)
    enrollment = Enrollment.objects.for_org(org).get(playbook=playbook, member=member)
    enrollment_cancel(organization=org, enrollment=enrollment)
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
    Enrollment.objects.for_org(org).filter(pk=enrollment.pk).update(enrolled_at=_ago(31))
    assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 1}


def test_manual_and_inactive_playbooks_are_not_evaluated(org, today):
    manual = _playbook(org, "manual")
    off = _playbook(org, "renewal_within", trigger_days=30)
    Playbook.objects.for_org(org).filter(pk=off.pk).update(is_active=False)
    MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=3))
    assert triggers_evaluate(organization=org, today=today) == {}
    assert not _enrolled(manual) and not _enrolled(off)


def test_enrolments_from_triggers_say_why_and_plan_the_steps(org, today):
    playbook = _playbook(org, "renewal_within", trigger_days=30)
    member = MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=3))
    triggers_evaluate(organization=org, today=today)
    enrollment = Enrollment.objects.for_org(org).get(playbook=playbook, member=member)
    assert enrollment.reason == "Renewal within 30 days"
    task = Task.objects.for_org(org).get(enrollment=enrollment)
    assert (
        task.due_on
        == timezone.localtime(enrollment.enrolled_at + dt.timedelta(days=1), org.zone).date()
    )


def test_other_organizations_are_untouched(org, today, tenant_b):
    ours = _playbook(org, "renewal_within", trigger_days=30)
    theirs = _playbook(tenant_b.organization, "renewal_within", trigger_days=30)
    mine = MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=3))
    MemberFactory(organization=tenant_b.organization, renewal_on=today + dt.timedelta(days=3))
    member_b = MemberFactory(organization=tenant_b.organization, success_band="watch")
    band_b = _playbook(tenant_b.organization, "band_entered", trigger_band="watch")
    _band_event(tenant_b.organization, member_b, "watch")
    assert triggers_evaluate(organization=org, today=today) == {ours.pk: 1}
    assert _enrolled(ours) == {mine.pk}
    assert not _enrolled(theirs) and not _enrolled(band_b)
    assert not Enrollment.objects.for_org(tenant_b.organization).exists()


# --- query counts --------------------------------------------------------------------------


def _near_miss(trigger: str) -> Callable[[object, dt.date, int], None]:
    """A member the trigger looks at but must not enrol (so only finding queries run)."""

    def make(organization, today, index) -> None:
        member = MemberFactory(organization=organization)
        if trigger == "band_entered":
            _band_event(organization, member, "at_risk")
        elif trigger == "milestone_overdue":
            ProgressMilestoneFactory(member=member, due_on=today + dt.timedelta(days=3))
        elif trigger == "goal_due_within":
            GoalFactory(desired_outcome__member=member, due_on=today + dt.timedelta(days=200))
        elif trigger == "ax_overdue":
            _element(member, cadence=30 if index % 2 else 60)
            EngagementFactory(member=member, type=MEETING, occurred_at=_ago(3))
        elif trigger == "no_engagement_for":
            EngagementFactory(member=member, occurred_at=_ago(2))

    return make


SETTINGS = {
    "on_join": {},
    "band_entered": {"trigger_band": "watch"},
    "milestone_overdue": {"trigger_days": 0},
    "renewal_within": {"trigger_days": 30},
    "goal_due_within": {"trigger_days": 30},
    "ax_overdue": {},
    "no_engagement_for": {"trigger_days": 30},
}


@pytest.mark.parametrize("trigger", list(SETTINGS))
def test_finding_members_takes_the_same_queries_for_5_and_50_members(org, today, trigger):
    make = _near_miss(trigger)
    playbook = _playbook(org, trigger, **SETTINGS[trigger])
    counts, made = [], 0
    for total in (5, 50):
        for index in range(made, total):
            make(org, today, index)
        made = total
        if trigger == "band_entered":  # read every band change again, not only the new ones
            DomainEventCursor.objects.for_org(org).filter(
                consumer=f"playbook:{playbook.pk}"
            ).update(last_event_id=0)
        with CaptureQueriesContext(connection) as queries:
            assert triggers_evaluate(organization=org, today=today) == {playbook.pk: 0}
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1] > 0


# --- Celery --------------------------------------------------------------------------------


def test_the_task_evaluates_one_organization_and_completes_finished_enrolments(org, today):
    playbook = _playbook(org, "renewal_within", trigger_days=30)
    MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=3))
    empty = _playbook(org, "milestone_overdue")
    PlaybookFactory(organization=org, name="Stepless", trigger="manual")
    assert evaluate_triggers(organization_id=org.pk) == {
        str(playbook.pk): 1,
        str(empty.pk): 0,
        "completed": 0,
    }
    assert evaluate_triggers(organization_id=10**9) == {}


def test_the_hourly_fan_out_evaluates_every_organization(org, today, tenant_b, monkeypatch):
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    mine = _playbook(org, "renewal_within", trigger_days=30)
    theirs = _playbook(tenant_b.organization, "renewal_within", trigger_days=30)
    MemberFactory(organization=org, renewal_on=today + dt.timedelta(days=3))
    MemberFactory(organization=tenant_b.organization, renewal_on=today + dt.timedelta(days=3))
    assert evaluate_triggers_all() == 2
    assert len(_enrolled(mine)) == len(_enrolled(theirs)) == 1


def test_beat_runs_the_fan_out_hourly():
    from django.conf import settings

    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "orchestration.evaluate_triggers_all"
    ]
    assert len(entries) == 1 and entries[0]["options"]["expires"] <= 3600
