"""Writes for desired outcomes: bad input is refused by field with nothing written, the past of a
goal is kept, and every goal change is recorded as context."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagement.choices import Channel, EngagementType
from engagement.models import ContextEvent
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
)
from outcomes.selectors import goal_history
from outcomes.services import (
    condition_add,
    condition_assess,
    desired_outcome_create,
    experience_element_add,
    experience_element_retire,
    experience_element_update,
    goal_abandon,
    goal_create,
    goal_mark_objective_reached,
    goal_pivot,
    goal_record_progress,
    organization_today,
)
from tests.factories import (
    AppropriateExperienceFactory,
    ConditionFactory,
    DesiredOutcomeFactory,
    GoalFactory,
    MemberFactory,
)

MODELS = [DesiredOutcome, Goal, Condition, GoalMetricReading, AppropriateExperience, ContextEvent]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.unscoped().count() for model in MODELS}


def refused(field: str, call, *args, **kwargs) -> ValidationError:
    """Run ``call``; it must raise a ValidationError naming ``field`` and write nothing."""
    before = counts()
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    assert field in caught.value.message_dict, caught.value.message_dict
    assert counts() == before
    return caught.value


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def outcome(org):
    return DesiredOutcomeFactory(member__organization=org)


def goal_fields(org, **overrides):
    today = organization_today(org)
    fields = {
        "objective": "Earn 40 continuing-education credits",
        "starts_on": today - dt.timedelta(days=10),
        "due_on": today + dt.timedelta(days=80),
        "metric_name": "credits",
        "baseline": Decimal("0"),
        "target": Decimal("40"),
    }
    return {**fields, **overrides}


def goal_events(goal):
    return list(ContextEvent.objects.unscoped().filter(payload__goal_id=goal.pk).order_by("pk"))


# --- desired outcomes ---------------------------------------------------------------------------


def test_desired_outcome_create(org):
    member = MemberFactory(organization=org)
    outcome = desired_outcome_create(
        organization=org, member=member, title="  Become a chartered engineer "
    )
    assert DesiredOutcome.objects.for_org(org).get(pk=outcome.pk).title == (
        "Become a chartered engineer"
    )


def test_desired_outcome_refuses_a_member_of_another_organization(org, tenant_b):
    member = MemberFactory(organization=tenant_b.organization)
    refused("member", desired_outcome_create, organization=org, member=member, title="Grow")


def test_desired_outcome_needs_a_title(org):
    member = MemberFactory(organization=org)
    refused("title", desired_outcome_create, organization=org, member=member, title="  ")


# --- goal_create ------------------------------------------------------------------------------


def test_goal_create_with_conditions_and_a_first_reading(org, outcome):
    goal = goal_create(
        organization=org,
        desired_outcome=outcome,
        current_value="12.5",
        conditions=[
            {"description": "Credits from accredited providers only"},
            {
                "description": "Average course rating of at least 4",
                "kind": Condition.Kind.MEASURABLE,
                "comparison": Condition.Comparison.GTE,
                "threshold": "4",
            },
        ],
        **goal_fields(org),
    )
    stored = Goal.objects.for_org(org).get(pk=goal.pk)
    assert stored.member_id == outcome.member_id
    assert stored.status == Goal.Status.ACTIVE
    assert stored.current_value == Decimal("12.5")
    assert stored.objective_reached_on is None
    conditions = list(Condition.objects.for_org(org).filter(goal=goal))
    assert [c.kind for c in conditions] == ["confirmed", "measurable"]
    assert conditions[1].threshold == Decimal("4")
    readings = GoalMetricReading.objects.for_org(org).filter(goal=goal)
    assert [r.value for r in readings] == [Decimal("12.5")]
    [event] = goal_events(goal)
    assert (event.name, event.kind, event.source) == (
        "goal_created",
        ContextEvent.Kind.GOAL_CHANGE,
        ContextEvent.Source.SYSTEM,
    )
    assert event.member_id == outcome.member_id
    assert event.value == Decimal("12.5")
    assert event.payload["desired_outcome_id"] == outcome.pk


def test_qualitative_goal_has_no_reading(org, outcome):
    goal = goal_create(
        organization=org,
        desired_outcome=outcome,
        **goal_fields(org, baseline=None, target=None, metric_name=""),
    )
    assert not goal.is_measurable
    assert not GoalMetricReading.objects.for_org(org).filter(goal=goal).exists()


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("due_on", {"due_on": None}),
        ("starts_on", {"starts_on": None}),
        ("due_on", {"due_on": "not a date"}),
        ("due_on", {"due_on": "2025-02-30"}),
        ("starts_on", {"starts_on": dt.datetime(2025, 1, 1, 9, 0, tzinfo=dt.UTC)}),
        ("objective", {"objective": "   "}),
        ("target", {"target": "abc"}),
        ("baseline", {"baseline": "twelve"}),
        ("target", {"target": "40", "baseline": "40"}),
        ("baseline", {"baseline": None}),
        ("target", {"target": None}),
        ("target", {"target": True}),
        ("target", {"target": "1e20"}),
        ("current_value", {"current_value": "abc"}),
        ("current_value", {"baseline": None, "target": None, "current_value": 3}),
    ],
)
def test_goal_create_refuses_bad_input(org, outcome, field, overrides):
    refused(
        field,
        goal_create,
        organization=org,
        desired_outcome=outcome,
        **goal_fields(org, **overrides),
    )


def test_goal_without_a_due_date_is_refused_with_the_time_frame_explained(org, outcome):
    error = refused(
        "due_on",
        goal_create,
        organization=org,
        desired_outcome=outcome,
        **goal_fields(org, due_on=None),
    )
    assert "time frame" in error.message_dict["due_on"][0]


def test_goal_due_before_start_is_refused(org, outcome):
    today = organization_today(org)
    error = refused(
        "due_on",
        goal_create,
        organization=org,
        desired_outcome=outcome,
        **goal_fields(org, starts_on=today, due_on=today - dt.timedelta(days=1)),
    )
    assert "before the start" in error.message_dict["due_on"][0]


def test_goal_create_refuses_a_desired_outcome_of_another_organization(org, tenant_b):
    foreign = DesiredOutcomeFactory(member__organization=tenant_b.organization)
    refused(
        "desired_outcome",
        goal_create,
        organization=org,
        desired_outcome=foreign,
        **goal_fields(org),
    )


@pytest.mark.parametrize(
    "bad",
    [
        {
            "description": "Big audience",
            "kind": "measurable",
            "comparison": "gte",
            "threshold": "ten",
        },
        {
            "description": "Big audience",
            "kind": "measurable",
            "comparison": "about",
            "threshold": 5,
        },
        {"description": "Confident", "threshold": 5},
        {"description": ""},
        {"description": "Confident", "colour": "blue"},
        "Confident",
    ],
)
def test_one_bad_condition_writes_nothing_not_even_the_goal(org, outcome, bad):
    refused(
        "conditions",
        goal_create,
        organization=org,
        desired_outcome=outcome,
        conditions=[{"description": "Feels ready"}, bad],
        **goal_fields(org),
    )


def test_goal_and_condition_errors_are_reported_together(org, outcome):
    error = refused(
        "conditions",
        goal_create,
        organization=org,
        desired_outcome=outcome,
        conditions=[{"description": "x", "kind": "measurable", "comparison": "gte"}],
        **goal_fields(org, due_on=None),
    )
    assert "due_on" in error.message_dict
    assert "Condition 1, threshold" in error.message_dict["conditions"][0]


# --- conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("threshold", {"kind": "measurable", "comparison": "gte", "threshold": "ten"}),
        ("threshold", {"kind": "measurable", "comparison": "gte"}),
        ("comparison", {"kind": "measurable", "comparison": "roughly", "threshold": 10}),
        ("comparison", {"kind": "measurable", "threshold": 10}),
        ("threshold", {"threshold": 10}),
        ("comparison", {"comparison": "gte"}),
        ("kind", {"kind": "vibes"}),
        ("description", {"description": " "}),
    ],
)
def test_condition_add_refuses_bad_input(org, field, fields):
    goal = GoalFactory(desired_outcome__member__organization=org)
    refused(
        field,
        condition_add,
        organization=org,
        goal=goal,
        **{"description": "Large audience", **fields},
    )


def test_condition_add_refuses_a_goal_of_another_organization(org, tenant_b):
    goal = GoalFactory(desired_outcome__member__organization=tenant_b.organization)
    refused("goal", condition_add, organization=org, goal=goal, description="Confident")


def test_condition_add_refuses_a_closed_goal(org):
    goal = GoalFactory(desired_outcome__member__organization=org, status=Goal.Status.ACHIEVED)
    refused("goal", condition_add, organization=org, goal=goal, description="Confident")


def test_condition_add_measurable(org):
    goal = GoalFactory(desired_outcome__member__organization=org)
    condition = condition_add(
        organization=org,
        goal=goal,
        description="Wait time under 2 days",
        kind="measurable",
        metric_name="wait_days",
        comparison="lt",
        threshold="2",
    )
    stored = Condition.objects.for_org(org).get(pk=condition.pk)
    assert (stored.comparison, stored.threshold, stored.state) == ("lt", Decimal("2"), "unknown")


@pytest.mark.parametrize(
    ("comparison", "observed", "state"),
    [
        ("gte", "10", "met"),
        ("gte", "9.99", "not_met"),
        ("gt", "10", "not_met"),
        ("lte", "10", "met"),
        ("lt", "10", "not_met"),
        ("lt", "-1", "met"),
        ("eq", "10.0000", "met"),
    ],
)
def test_condition_assess_compares_the_observed_value(org, comparison, observed, state):
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=org,
        kind="measurable",
        comparison=comparison,
        threshold=Decimal("10"),
    )
    condition = condition_assess(organization=org, condition=condition, observed_value=observed)
    stored = Condition.objects.for_org(org).get(pk=condition.pk)
    assert stored.state == state
    assert stored.observed_value == Decimal(observed)


def test_condition_assess_defaults_to_the_organizations_today(org):
    org.time_zone = "Pacific/Kiritimati"
    org.save()
    condition = ConditionFactory(goal__desired_outcome__member__organization=org)
    condition_assess(organization=org, condition=condition, state="met", evidence="Said so")
    stored = Condition.objects.for_org(org).get(pk=condition.pk)
    assert stored.assessed_on == timezone.localdate(
        timezone=zoneinfo.ZoneInfo("Pacific/Kiritimati")
    )
    assert stored.evidence == "Said so"


@pytest.mark.parametrize(
    ("kind", "field", "fields"),
    [
        ("measurable", "observed_value", {}),
        ("measurable", "observed_value", {"observed_value": "many"}),
        ("measurable", "state", {"observed_value": 3, "state": "met"}),
        ("confirmed", "state", {}),
        ("confirmed", "state", {"state": "probably"}),
        ("confirmed", "observed_value", {"state": "met", "observed_value": 3}),
    ],
)
def test_condition_assess_refuses_bad_input(org, kind, field, fields):
    extra = {"comparison": "gte", "threshold": Decimal("5")} if kind == "measurable" else {}
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=org, kind=kind, **extra
    )
    refused(field, condition_assess, organization=org, condition=condition, **fields)
    assert Condition.objects.for_org(org).get(pk=condition.pk).state == "unknown"


def test_condition_assess_refuses_a_condition_of_another_organization(org, tenant_b):
    condition = ConditionFactory(goal__desired_outcome__member__organization=tenant_b.organization)
    refused("condition", condition_assess, organization=org, condition=condition, state="met")


def test_condition_assess_refuses_a_closed_goal(org):
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=org, goal__status=Goal.Status.SUPERSEDED
    )
    refused("condition", condition_assess, organization=org, condition=condition, state="met")


# --- progress ---------------------------------------------------------------------------------


def test_progress_appends_readings_and_keeps_the_first_day_reached(org, outcome):
    goal = goal_create(
        organization=org,
        desired_outcome=outcome,
        current_value=5,
        conditions=[{"description": "Feels ready"}],
        **goal_fields(org),
    )
    now = timezone.now()
    first_reach = now - dt.timedelta(days=3)
    goal = goal_record_progress(
        organization=org, goal=goal, value=20, recorded_at=now - dt.timedelta(days=5)
    )
    goal = goal_record_progress(organization=org, goal=goal, value=40, recorded_at=first_reach)
    goal = goal_record_progress(organization=org, goal=goal, value=38)
    goal = goal_record_progress(organization=org, goal=goal, value=45)
    stored = Goal.objects.for_org(org).get(pk=goal.pk)
    readings = GoalMetricReading.objects.for_org(org).filter(goal=goal)
    # Ordered by when measured: the two back-dated readings come before the first one.
    assert [r.value for r in readings] == [20, 40, 5, 38, 45]
    assert stored.current_value == Decimal("45")
    assert stored.objective_reached_on == timezone.localdate(
        first_reach, timezone=zoneinfo.ZoneInfo(org.time_zone)
    )
    assert stored.status == Goal.Status.HOLLOW
    progress = [e for e in goal_events(goal) if e.name == "goal_progress"]
    assert [e.value for e in progress] == [20, 40, 38, 45]


def test_a_back_dated_reading_does_not_replace_the_current_value(org):
    goal = GoalFactory(desired_outcome__member__organization=org, current_value=None)
    goal_record_progress(organization=org, goal=goal, value=30)
    goal = goal_record_progress(
        organization=org, goal=goal, value=10, recorded_at=timezone.now() - dt.timedelta(days=7)
    )
    assert Goal.objects.for_org(org).get(pk=goal.pk).current_value == Decimal("30")
    assert GoalMetricReading.objects.for_org(org).filter(goal=goal).count() == 2


def test_a_reading_without_a_time_zone_is_read_in_the_organizations(org):
    goal = GoalFactory(desired_outcome__member__organization=org)
    naive = dt.datetime(2025, 3, 1, 23, 30)
    goal_record_progress(organization=org, goal=goal, value=12, recorded_at=naive)
    reading = GoalMetricReading.objects.for_org(org).get(goal=goal)
    assert reading.recorded_at == naive.replace(tzinfo=zoneinfo.ZoneInfo(org.time_zone))


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("value", {"value": "abc"}),
        ("value", {"value": None}),
        ("recorded_at", {"value": 3, "recorded_at": timezone.now() + dt.timedelta(days=2)}),
        ("recorded_at", {"value": 3, "recorded_at": "yesterday"}),
        ("value", {"value": "123456789012.5"}),
    ],
)
def test_progress_refuses_bad_input(org, field, fields):
    goal = GoalFactory(desired_outcome__member__organization=org)
    refused(field, goal_record_progress, organization=org, goal=goal, **fields)
    assert Goal.objects.for_org(org).get(pk=goal.pk).current_value == goal.current_value


def test_progress_refuses_a_qualitative_or_closed_goal(org):
    qualitative = GoalFactory(
        desired_outcome__member__organization=org, baseline=None, target=None, current_value=None
    )
    refused("goal", goal_record_progress, organization=org, goal=qualitative, value=1)
    missed = GoalFactory(desired_outcome__member__organization=org, status=Goal.Status.MISSED)
    refused("goal", goal_record_progress, organization=org, goal=missed, value=40)


def test_mark_objective_reached_for_a_qualitative_goal(org, outcome):
    goal = goal_create(
        organization=org,
        desired_outcome=outcome,
        **goal_fields(org, baseline=None, target=None, objective="Speak at the congress"),
    )
    today = organization_today(org)
    refused(
        "reached_on",
        goal_mark_objective_reached,
        organization=org,
        goal=goal,
        reached_on=today + dt.timedelta(days=1),
    )
    goal = goal_mark_objective_reached(
        organization=org, goal=goal, reached_on=today - dt.timedelta(days=2)
    )
    assert goal.status == Goal.Status.ACHIEVED
    assert Goal.objects.for_org(org).get(pk=goal.pk).objective_reached_on == (
        today - dt.timedelta(days=2)
    )
    assert [e.name for e in goal_events(goal)] == [
        "goal_created",
        "goal_objective_reached",
        "goal_status_achieved",
    ]


def test_mark_objective_reached_refuses_a_measurable_goal(org):
    goal = GoalFactory(desired_outcome__member__organization=org)
    refused("goal", goal_mark_objective_reached, organization=org, goal=goal)


# --- pivot and abandon ------------------------------------------------------------------------


def test_pivot_keeps_the_old_goal_and_links_the_new_one(org, outcome):
    old = goal_create(
        organization=org,
        desired_outcome=outcome,
        current_value=8,
        conditions=[{"description": "Feels ready"}],
        **goal_fields(org),
    )
    before = Goal.objects.for_org(org).filter(pk=old.pk).values().get()
    today = organization_today(org)
    new = goal_pivot(
        organization=org,
        goal=old,
        objective="Earn 25 credits and pass the ethics module",
        starts_on=today,
        due_on=today + dt.timedelta(days=120),
        reason="Changed jobs; less time for study",
        baseline=8,
        target=25,
        current_value=8,
        conditions=[{"description": "Ethics module passed first time"}],
    )
    after = Goal.objects.for_org(org).filter(pk=old.pk).values().get()
    assert after.pop("status") == Goal.Status.SUPERSEDED
    assert after.pop("status_changed_at") is not None
    before.pop("status")
    before.pop("status_changed_at")
    assert after == before  # the old goal's story is untouched
    assert Condition.objects.for_org(org).filter(goal=old).count() == 1
    assert GoalMetricReading.objects.for_org(org).filter(goal=old).count() == 1
    stored = Goal.objects.for_org(org).get(pk=new.pk)
    assert stored.supersedes_id == old.pk
    assert stored.desired_outcome_id == outcome.pk
    assert stored.member_id == outcome.member_id
    assert stored.status == Goal.Status.ACTIVE
    assert Condition.objects.for_org(org).filter(goal=new).count() == 1
    assert goal_history(organization=org, goal=new) == [old, new]
    [superseded] = [e for e in goal_events(old) if e.name == "goal_status_superseded"]
    assert superseded.payload["superseded_by_id"] == new.pk
    [pivoted] = goal_events(new)
    assert pivoted.name == "goal_pivoted"
    assert pivoted.payload["supersedes_id"] == old.pk
    assert pivoted.payload["reason"] == "Changed jobs; less time for study"


def test_pivot_with_bad_input_writes_nothing(org):
    old = GoalFactory(desired_outcome__member__organization=org)
    refused(
        "due_on",
        goal_pivot,
        organization=org,
        goal=old,
        objective="Something else",
        starts_on=organization_today(org),
        due_on=None,
    )
    assert Goal.objects.for_org(org).get(pk=old.pk).status == Goal.Status.ACTIVE


@pytest.mark.parametrize(
    "status",
    [Goal.Status.ACHIEVED, Goal.Status.MISSED, Goal.Status.ABANDONED, Goal.Status.SUPERSEDED],
)
def test_a_closed_goal_cannot_be_pivoted(org, status):
    old = GoalFactory(desired_outcome__member__organization=org, status=status)
    refused(
        "goal",
        goal_pivot,
        organization=org,
        goal=old,
        **goal_fields(org, objective="Something else"),
    )


def test_a_hollow_goal_can_be_pivoted(org):
    old = GoalFactory(
        desired_outcome__member__organization=org,
        status=Goal.Status.HOLLOW,
        objective_reached_on=organization_today(org),
    )
    new = goal_pivot(organization=org, goal=old, **goal_fields(org, objective="Deeper goal"))
    assert new.supersedes_id == old.pk
    assert Goal.objects.for_org(org).get(pk=old.pk).status == Goal.Status.SUPERSEDED


def test_pivot_refuses_a_goal_of_another_organization(org, tenant_b):
    old = GoalFactory(desired_outcome__member__organization=tenant_b.organization)
    refused("goal", goal_pivot, organization=org, goal=old, **goal_fields(org))


def test_abandon(org):
    goal = GoalFactory(desired_outcome__member__organization=org)
    goal = goal_abandon(organization=org, goal=goal, reason="Left the profession")
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == Goal.Status.ABANDONED
    [event] = goal_events(goal)
    assert (event.name, event.payload["reason"]) == ("goal_status_abandoned", "Left the profession")
    refused("goal", goal_abandon, organization=org, goal=goal)


# --- Appropriate Experience -------------------------------------------------------------------


def ax_fields(**overrides):
    fields = {
        "description": "Quarterly 1:1 strategy session",
        "engagement_type": EngagementType.MEETING_1_1,
        "cadence_days": 90,
        "channel": Channel.VIDEO,
    }
    return {**fields, **overrides}


def test_experience_element_add(org, outcome):
    element = experience_element_add(
        organization=org, member=outcome.member, desired_outcome=outcome, **ax_fields()
    )
    stored = AppropriateExperience.objects.for_org(org).get(pk=element.pk)
    assert (stored.cadence_days, stored.desired_outcome_id, stored.is_active) == (
        90,
        outcome.pk,
        True,
    )


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("cadence_days", {"cadence_days": 0}),
        ("cadence_days", {"cadence_days": -7}),
        ("cadence_days", {"cadence_days": 1.5}),
        ("cadence_days", {"cadence_days": "weekly"}),
        ("engagement_type", {"engagement_type": "high_touch"}),
        ("channel", {"channel": "pigeon"}),
        ("description", {"description": ""}),
    ],
)
def test_experience_element_add_refuses_bad_input(org, outcome, field, overrides):
    refused(
        field,
        experience_element_add,
        organization=org,
        member=outcome.member,
        **ax_fields(**overrides),
    )


def test_experience_element_refuses_other_organizations_and_members(org, outcome, tenant_b):
    foreign_member = MemberFactory(organization=tenant_b.organization)
    refused(
        "member", experience_element_add, organization=org, member=foreign_member, **ax_fields()
    )
    foreign_outcome = DesiredOutcomeFactory(member__organization=tenant_b.organization)
    refused(
        "desired_outcome",
        experience_element_add,
        organization=org,
        member=outcome.member,
        desired_outcome=foreign_outcome,
        **ax_fields(),
    )
    someone_elses = DesiredOutcomeFactory(member__organization=org)
    refused(
        "desired_outcome",
        experience_element_add,
        organization=org,
        member=outcome.member,
        desired_outcome=someone_elses,
        **ax_fields(),
    )


def test_experience_element_update_and_retire(org, outcome):
    element = AppropriateExperienceFactory(member=outcome.member)
    element = experience_element_update(
        organization=org, element=element, cadence_days="30", desired_outcome=outcome
    )
    stored = AppropriateExperience.objects.for_org(org).get(pk=element.pk)
    assert (stored.cadence_days, stored.desired_outcome_id) == (30, outcome.pk)
    assert stored.description == "Quarterly 1:1 strategy session"
    refused(
        "cadence_days", experience_element_update, organization=org, element=element, cadence_days=0
    )
    element = experience_element_update(organization=org, element=element, desired_outcome=None)
    assert AppropriateExperience.objects.for_org(org).get(pk=element.pk).desired_outcome_id is None
    experience_element_retire(organization=org, element=element)
    assert not AppropriateExperience.objects.for_org(org).get(pk=element.pk).is_active
    refused("element", experience_element_update, organization=org, element=element, cadence_days=7)


def test_experience_element_update_refuses_another_organizations_element(org, tenant_b):
    element = AppropriateExperienceFactory(member__organization=tenant_b.organization)
    refused("element", experience_element_update, organization=org, element=element, cadence_days=7)
    refused("element", experience_element_retire, organization=org, element=element)
    assert AppropriateExperience.objects.unscoped().get(pk=element.pk).is_active
