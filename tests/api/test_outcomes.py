"""The outcomes API: desired outcomes, goals with their conditions, Appropriate Experience and
success gaps — every write through the outcomes services, so the domain's rules answer 400
field by field exactly as on the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagement.models import ContextEvent
from outcomes.explain import gap_explanation
from outcomes.models import (
    AppropriateExperience,
    Band,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
    SuccessGapRun,
    SuccessGapSnapshot,
)
from tenancy.selectors import organization_today
from tests.factories import (
    AppropriateExperienceFactory,
    ConditionFactory,
    DesiredOutcomeFactory,
    GoalFactory,
    MemberFactory,
)

pytestmark = pytest.mark.django_db


def _url(name: str, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs=kwargs)


def _queries(client, url: str) -> int:
    client.get(url)  # the key's first use writes last_used_at once: count only the list
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def _today() -> dt.date:
    return timezone.localdate()


def _goal_body(outcome: DesiredOutcome, **overrides) -> dict:
    body = {
        "desired_outcome": outcome.pk,
        "objective": "Complete 40 continuing-education credits",
        "starts_on": str(_today() - dt.timedelta(days=30)),
        "due_on": str(_today() + dt.timedelta(days=300)),
        "metric_name": "credits",
        "baseline": "0",
        "target": "40",
        "current_value": "5",
    }
    return {**body, **overrides}


def _goal_events(goal: Goal) -> list[str]:
    return list(
        ContextEvent.objects.for_org(goal.organization)
        .filter(payload__goal_id=goal.pk)
        .order_by("pk")
        .values_list("name", flat=True)
    )


# --- desired outcomes ------------------------------------------------------------------------


def test_a_desired_outcome_is_recorded_for_a_member(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        _url("desired-outcomes-list"),
        {"member": member.pk, "title": "  Become chartered  ", "description": "By 2026."},
    )
    assert response.status_code == 201, response.json()
    outcome = DesiredOutcome.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    assert (outcome.member_id, outcome.title, outcome.is_active) == (
        member.pk,
        "Become chartered",
        True,
    )
    assert response.json()["title"] == "Become chartered"


def test_a_desired_outcome_needs_a_title_and_a_member_of_the_organization(api, tenant_a, tenant_b):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    blank = client.post(_url("desired-outcomes-list"), {"member": member.pk, "title": "  "})
    assert blank.status_code == 400
    assert blank.json()["errors"]["title"] == ["Say what the member wants to reach."]
    other = MemberFactory(organization=tenant_b.organization)
    foreign = client.post(_url("desired-outcomes-list"), {"member": other.pk, "title": "Chartered"})
    assert foreign.status_code == 400
    assert "member" in foreign.json()["errors"]
    assert not DesiredOutcome.objects.unscoped().exists()


def test_a_desired_outcome_is_reworded_set_aside_and_deleted_only_without_goals(api, tenant_a):
    client = api(tenant_a)
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    url = _url("desired-outcomes-detail", outcome_id=outcome.pk)
    response = client.patch(url, {"title": "Lead the chapter", "is_active": False})
    assert response.status_code == 200, response.json()
    outcome.refresh_from_db()
    assert (outcome.title, outcome.is_active) == ("Lead the chapter", False)
    assert client.patch(url, {"title": ""}).json()["errors"]["title"]

    GoalFactory(desired_outcome=outcome)
    refused = client.delete(url)
    assert refused.status_code == 400
    assert "outcome" in refused.json()["errors"]
    assert DesiredOutcome.objects.for_org(tenant_a.organization).filter(pk=outcome.pk).exists()

    empty = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    assert client.delete(_url("desired-outcomes-detail", outcome_id=empty.pk)).status_code == 204
    assert not DesiredOutcome.objects.for_org(tenant_a.organization).filter(pk=empty.pk).exists()


def test_a_read_only_key_cannot_write_desired_outcomes(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization, title="Kept")
    url = _url("desired-outcomes-detail", outcome_id=outcome.pk)
    create = client.post(
        _url("desired-outcomes-list"), {"member": outcome.member_id, "title": "New"}
    )
    assert create.status_code == 403
    assert client.patch(url, {"title": "Changed"}).status_code == 403
    assert client.delete(url).status_code == 403
    assert list(DesiredOutcome.objects.for_org(tenant_a.organization).values_list("title")) == [
        ("Kept",)
    ]
    assert client.get(url).status_code == 200


def test_desired_outcomes_filter_order_and_sync(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    member = MemberFactory(organization=tenant_a.organization)
    mine = [DesiredOutcomeFactory(member=member, title=title) for title in ("B", "A")]
    other = DesiredOutcomeFactory(member__organization=tenant_a.organization, is_active=False)
    listed = client.get(_url("desired-outcomes-list"), {"member": member.pk})
    assert _ids(listed) == [mine[0].pk, mine[1].pk]
    by_title = client.get(_url("desired-outcomes-list"), {"ordering": "title"})
    assert _ids(by_title)[:2] == [mine[1].pk, mine[0].pk]
    inactive = client.get(_url("desired-outcomes-list"), {"is_active": "false"})
    assert _ids(inactive) == [other.pk]
    later = timezone.now() + dt.timedelta(seconds=1)
    DesiredOutcome.objects.for_org(tenant_a.organization).filter(pk=mine[1].pk).update(
        updated_at=later + dt.timedelta(seconds=1)
    )
    synced = client.get(_url("desired-outcomes-list"), {"updated_since": later.isoformat()})
    assert _ids(synced) == [mine[1].pk]


def test_listing_desired_outcomes_takes_the_same_queries_for_3_and_30(api, tenant_a):
    client = api(tenant_a)
    url = _url("desired-outcomes-list") + "?page_size=100"
    DesiredOutcomeFactory.create_batch(3, member__organization=tenant_a.organization)
    three = _queries(client, url)
    DesiredOutcomeFactory.create_batch(27, member__organization=tenant_a.organization)
    assert _queries(client, url) == three


# --- goals: creation and the time frame ------------------------------------------------------


def test_a_goal_is_set_with_its_conditions_through_the_service(api, tenant_a):
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    body = _goal_body(
        outcome,
        conditions=[
            {"description": "Feels confident at the board"},
            {
                "description": "10 leadership credits",
                "kind": "measurable",
                "comparison": "gte",
                "threshold": "10",
            },
        ],
    )
    response = api(tenant_a).post(_url("goals-list"), body)
    assert response.status_code == 201, response.json()
    goal = Goal.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    assert (goal.member_id, goal.target, goal.status) == (
        outcome.member_id,
        Decimal("40"),
        Goal.Status.ACTIVE,
    )
    assert [c["description"] for c in response.json()["conditions"]] == [
        "Feels confident at the board",
        "10 leadership credits",
    ]
    assert Condition.objects.for_org(tenant_a.organization).filter(goal=goal).count() == 2
    assert GoalMetricReading.objects.for_org(tenant_a.organization).filter(goal=goal).count() == 1
    assert _goal_events(goal) == ["goal_created"]


def test_no_time_frame_no_goal(api, tenant_a):
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    body = _goal_body(outcome)
    del body["starts_on"]
    body["due_on"] = None
    response = api(tenant_a).post(_url("goals-list"), body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["starts_on"] == ["A goal needs a time frame: give the date it starts."]
    assert errors["due_on"] == ["A goal needs a time frame: give the date it is due."]
    assert not Goal.objects.for_org(tenant_a.organization).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_on": "2020-01-01", "starts_on": "2020-02-01"}, "due_on"),
        ({"baseline": None}, "baseline"),
        ({"target": "0"}, "target"),
        ({"objective": ""}, "objective"),
        ({"starts_on": "9999-12-31"}, "starts_on"),
        ({"starts_on": "31/12/2024"}, "starts_on"),
        ({"target": "1e20"}, "target"),
        ({"conditions": [{"description": "Fast", "kind": "measurable"}]}, "conditions"),
    ],
)
def test_the_goal_rules_answer_field_by_field(api, tenant_a, overrides, field):
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    response = api(tenant_a).post(_url("goals-list"), _goal_body(outcome, **overrides))
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Goal.objects.for_org(tenant_a.organization).exists()


def test_a_goal_in_another_organizations_outcome_is_refused(api, tenant_a, tenant_b):
    foreign = DesiredOutcomeFactory(member__organization=tenant_b.organization)
    response = api(tenant_a).post(_url("goals-list"), _goal_body(foreign))
    assert response.status_code == 400
    assert "desired_outcome" in response.json()["errors"]
    assert not Goal.objects.unscoped().exists()


def test_a_read_only_key_cannot_write_goals(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    url = _url("goals-detail", goal_id=goal.pk)
    assert client.post(_url("goals-list"), _goal_body(goal.desired_outcome)).status_code == 403
    assert client.patch(url, {"status": "abandoned"}).status_code == 403
    pivot = client.post(
        _url("goals-pivot", goal_id=goal.pk), _goal_body(goal.desired_outcome)
    ).status_code
    assert pivot == 403
    assert list(Goal.objects.for_org(tenant_a.organization).values_list("pk", "status")) == [
        (goal.pk, Goal.Status.ACTIVE)
    ]


# --- goals: progress, the rule, abandonment and pivots ---------------------------------------


def test_progress_to_the_target_with_a_condition_unknown_is_a_hollow_success(api, tenant_a):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    ConditionFactory(goal=goal)
    url = _url("goals-detail", goal_id=goal.pk)
    response = api(tenant_a).patch(url, {"current_value": "40"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "hollow"
    goal.refresh_from_db()
    assert (goal.current_value, goal.status, goal.objective_reached_on) == (
        Decimal("40"),
        Goal.Status.HOLLOW,
        organization_today(tenant_a.organization),
    )
    assert "goal_status_hollow" in _goal_events(goal)


def test_progress_to_the_target_without_conditions_achieves_the_goal(api, tenant_a):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    response = api(tenant_a).patch(_url("goals-detail", goal_id=goal.pk), {"current_value": 41})
    assert response.json()["status"] == "achieved"
    assert GoalMetricReading.objects.for_org(tenant_a.organization).get(goal=goal).value == 41


def test_a_qualitative_objective_is_marked_reached(api, tenant_a):
    goal = GoalFactory(
        desired_outcome__member__organization=tenant_a.organization,
        baseline=None,
        target=None,
        current_value=None,
    )
    day = _today() - dt.timedelta(days=1)
    response = api(tenant_a).patch(
        _url("goals-detail", goal_id=goal.pk), {"objective_reached_on": str(day)}
    )
    assert response.status_code == 200, response.json()
    goal.refresh_from_db()
    assert (goal.objective_reached_on, goal.status) == (day, Goal.Status.ACHIEVED)


def test_abandoning_goes_through_the_service_and_is_final(api, tenant_a):
    client = api(tenant_a)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    url = _url("goals-detail", goal_id=goal.pk)
    response = client.patch(url, {"status": "abandoned", "reason": "Changed careers"})
    assert response.status_code == 200
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ABANDONED
    event = ContextEvent.objects.for_org(tenant_a.organization).get(name="goal_status_abandoned")
    assert event.payload["reason"] == "Changed careers"
    again = client.patch(url, {"current_value": "20"})
    assert again.status_code == 400
    assert "current_value" in again.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "achieved"}, "status"),
        ({"status": "superseded"}, "status"),
        ({"objective": "Something else"}, "objective"),
        ({"due_on": "2030-01-01"}, "due_on"),
        ({"recorded_at": "2025-01-01T10:00:00Z"}, "recorded_at"),
        ({"objective_reached_on": "2025-01-01"}, "objective_reached_on"),
        ({"current_value": "abc"}, "current_value"),
    ],
)
def test_a_goal_change_outside_the_rules_answers_400(api, tenant_a, body, field):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    response = api(tenant_a).patch(_url("goals-detail", goal_id=goal.pk), body)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    goal.refresh_from_db()
    assert (goal.status, goal.current_value, goal.objective_reached_on) == (
        Goal.Status.ACTIVE,
        Decimal("10"),
        None,
    )


def test_a_pivot_supersedes_the_old_goal_and_returns_the_new_one(api, tenant_a):
    client = api(tenant_a)
    old = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    body = {
        "objective": "Complete the 12-credit fast track",
        "starts_on": str(_today()),
        "due_on": str(_today() + dt.timedelta(days=90)),
        "reason": "The board accepted the fast track",
        "conditions": [{"description": "Keeps evenings free"}],
    }
    response = client.post(_url("goals-pivot", goal_id=old.pk), body)
    assert response.status_code == 201, response.json()
    new = Goal.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    old.refresh_from_db()
    assert (old.status, new.supersedes_id, new.desired_outcome_id) == (
        Goal.Status.SUPERSEDED,
        old.pk,
        old.desired_outcome_id,
    )
    assert response.json()["conditions"][0]["description"] == "Keeps evenings free"
    again = client.post(_url("goals-pivot", goal_id=old.pk), body)
    assert again.status_code == 400
    assert "goal" in again.json()["errors"]
    no_frame = client.post(_url("goals-pivot", goal_id=new.pk), {**body, "due_on": None})
    assert no_frame.json()["errors"]["due_on"]


def test_goals_filter_order_and_sync_with_status_changes(api, tenant_a):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    outcome = DesiredOutcomeFactory(member=member)
    soon = GoalFactory(desired_outcome=outcome, due_on=_today() + dt.timedelta(days=10))
    late = GoalFactory(desired_outcome=outcome, due_on=_today() + dt.timedelta(days=100))
    elsewhere = GoalFactory(
        desired_outcome__member__organization=tenant_a.organization, status=Goal.Status.MISSED
    )
    assert _ids(client.get(_url("goals-list"), {"member": member.pk})) == [soon.pk, late.pk]
    assert _ids(
        client.get(_url("goals-list"), {"desired_outcome": outcome.pk, "ordering": "-due_on"})
    ) == [late.pk, soon.pk]
    by_status = client.get(_url("goals-list"), {"status": ["missed", "hollow"]})
    assert _ids(by_status) == [elsewhere.pk]
    assert client.get(_url("goals-list"), {"status": "bogus"}).status_code == 400

    mark = timezone.now()
    Goal.objects.for_org(tenant_a.organization).update(updated_at=mark - dt.timedelta(hours=1))
    client.patch(_url("goals-detail", goal_id=late.pk), {"status": "abandoned"})
    synced = client.get(_url("goals-list"), {"updated_since": mark.isoformat()})
    assert _ids(synced) == [late.pk]


def test_a_goal_is_read_with_its_conditions(api, tenant_a):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    condition = ConditionFactory(goal=goal, description="Feels ready")
    body = api(tenant_a, scopes=["read"]).get(_url("goals-detail", goal_id=goal.pk)).json()
    assert (body["objective"], body["target"], body["status"]) == (goal.objective, 40.0, "active")
    assert [(c["id"], c["description"], c["state"]) for c in body["conditions"]] == [
        (condition.pk, "Feels ready", "unknown")
    ]


def test_listing_goals_takes_the_same_queries_for_3_and_30(api, tenant_a):
    client = api(tenant_a)
    url = _url("goals-list") + "?page_size=100"
    for _ in range(3):
        ConditionFactory(goal__desired_outcome__member__organization=tenant_a.organization)
    three = _queries(client, url)
    for _ in range(27):
        ConditionFactory(goal__desired_outcome__member__organization=tenant_a.organization)
    assert _queries(client, url) == three


# --- conditions ------------------------------------------------------------------------------


def test_a_condition_is_added_to_an_open_goal_of_the_organization(api, tenant_a, tenant_b):
    client = api(tenant_a)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    body = {"goal": goal.pk, "description": "Fewer than 5 hours a week", "kind": "measurable"}
    missing = client.post(_url("conditions-list"), body)
    assert missing.status_code == 400
    assert missing.json()["errors"]["threshold"] == ["A measurable condition needs a threshold."]
    response = client.post(_url("conditions-list"), {**body, "comparison": "lt", "threshold": "5"})
    assert response.status_code == 201, response.json()
    condition = Condition.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    assert (condition.goal_id, condition.threshold, condition.comparison) == (
        goal.pk,
        Decimal("5"),
        "lt",
    )

    foreign = GoalFactory(desired_outcome__member__organization=tenant_b.organization)
    refused = client.post(_url("conditions-list"), {"goal": foreign.pk, "description": "X"})
    assert refused.status_code == 400
    assert "goal" in refused.json()["errors"]
    closed = GoalFactory(
        desired_outcome__member__organization=tenant_a.organization, status=Goal.Status.MISSED
    )
    late = client.post(_url("conditions-list"), {"goal": closed.pk, "description": "X"})
    assert late.status_code == 400
    assert Condition.objects.unscoped().count() == 1


def test_assessing_the_last_condition_turns_a_hollow_success_into_achieved(api, tenant_a):
    client = api(tenant_a)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    condition = ConditionFactory(goal=goal)
    client.patch(_url("goals-detail", goal_id=goal.pk), {"current_value": "40"})
    url = _url("conditions-assess", condition_id=condition.pk)
    wrong = client.post(url, {"observed_value": "3"})
    assert wrong.status_code == 400
    assert set(wrong.json()["errors"]) == {"state", "observed_value"}
    response = client.post(url, {"state": "met", "evidence": "Said so at the review"})
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "met"
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACHIEVED


def test_editing_how_a_condition_is_judged_clears_its_assessment(api, tenant_a):
    client = api(tenant_a)
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=tenant_a.organization,
        kind="measurable",
        comparison="gte",
        threshold=Decimal("10"),
        state=Condition.State.MET,
        observed_value=Decimal("12"),
        assessed_on=_today(),
    )
    url = _url("conditions-detail", condition_id=condition.pk)
    reworded = client.patch(url, {"description": "Ten leadership credits"})
    assert reworded.status_code == 200, reworded.json()
    condition.refresh_from_db()
    assert (condition.description, condition.state) == ("Ten leadership credits", "met")
    assert client.patch(url, {"threshold": "15"}).json()["state"] == "unknown"
    condition.refresh_from_db()
    assert (condition.threshold, condition.observed_value, condition.assessed_on) == (
        Decimal("15"),
        None,
        None,
    )
    confirmed = client.patch(url, {"kind": "confirmed"})
    assert confirmed.status_code == 400
    assert set(confirmed.json()["errors"]) == {"comparison", "threshold"}


def test_removing_the_unmet_condition_of_a_hollow_goal_achieves_it(api, tenant_a):
    client = api(tenant_a)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    condition = ConditionFactory(goal=goal)
    client.patch(_url("goals-detail", goal_id=goal.pk), {"current_value": "40"})
    goal.refresh_from_db()
    assert goal.status == Goal.Status.HOLLOW
    response = client.delete(_url("conditions-detail", condition_id=condition.pk))
    assert response.status_code == 204
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACHIEVED
    assert not Condition.objects.for_org(tenant_a.organization).exists()


def test_a_closed_goals_conditions_stay_as_they_are(api, tenant_a):
    client = api(tenant_a)
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=tenant_a.organization,
        goal__status=Goal.Status.ACHIEVED,
    )
    url = _url("conditions-detail", condition_id=condition.pk)
    assert client.delete(url).status_code == 400
    assert client.patch(url, {"description": "New"}).status_code == 400
    condition.refresh_from_db()
    assert condition.description == "Feels confident presenting to the board"


def test_a_read_only_key_cannot_write_conditions(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    condition = ConditionFactory(goal__desired_outcome__member__organization=tenant_a.organization)
    url = _url("conditions-detail", condition_id=condition.pk)
    body = {"goal": condition.goal_id, "description": "X"}
    assert client.post(_url("conditions-list"), body).status_code == 403
    assert client.patch(url, {"description": "Y"}).status_code == 403
    assert client.delete(url).status_code == 403
    assess = client.post(_url("conditions-assess", condition_id=condition.pk), {"state": "met"})
    assert assess.status_code == 403
    condition.refresh_from_db()
    assert (condition.description, condition.state) == (
        "Feels confident presenting to the board",
        "unknown",
    )
    assert Condition.objects.for_org(tenant_a.organization).count() == 1


def test_conditions_filter_and_sync(api, tenant_a):
    client = api(tenant_a)
    first = ConditionFactory(goal__desired_outcome__member__organization=tenant_a.organization)
    second = ConditionFactory(goal__desired_outcome__member__organization=tenant_a.organization)
    assert _ids(client.get(_url("conditions-list"), {"goal": second.goal_id})) == [second.pk]
    member = first.goal.member_id
    assert _ids(client.get(_url("conditions-list"), {"member": member})) == [first.pk]
    assert _ids(client.get(_url("conditions-list"), {"ordering": "-id"})) == [second.pk, first.pk]
    mark = timezone.now()
    Condition.objects.for_org(tenant_a.organization).update(updated_at=mark - dt.timedelta(1))
    client.post(_url("conditions-assess", condition_id=first.pk), {"state": "not_met"})
    assert _ids(client.get(_url("conditions-list"), {"updated_since": mark.isoformat()})) == [
        first.pk
    ]
    assert _ids(client.get(_url("conditions-list"), {"state": "not_met"})) == [first.pk]


def test_listing_conditions_takes_the_same_queries_for_3_and_30(api, tenant_a):
    client = api(tenant_a)
    url = _url("conditions-list") + "?page_size=100"
    org = tenant_a.organization
    ConditionFactory.create_batch(3, goal__desired_outcome__member__organization=org)
    three = _queries(client, url)
    ConditionFactory.create_batch(27, goal__desired_outcome__member__organization=org)
    assert _queries(client, url) == three


# --- Appropriate Experience ------------------------------------------------------------------


def _experience_body(member, **overrides) -> dict:
    body = {
        "member": member.pk,
        "description": "Quarterly 1:1 strategy session",
        "engagement_type": "meeting_1_1",
        "cadence_days": 90,
        "channel": "video",
    }
    return {**body, **overrides}


def test_an_experience_element_is_added_changed_and_retired(api, tenant_a):
    client = api(tenant_a)
    outcome = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    created = client.post(
        _url("appropriate-experiences-list"),
        _experience_body(outcome.member, desired_outcome=outcome.pk),
    )
    assert created.status_code == 201, created.json()
    element = AppropriateExperience.objects.for_org(tenant_a.organization).get(
        pk=created.json()["id"]
    )
    assert (element.cadence_days, element.desired_outcome_id, element.required) == (
        90,
        outcome.pk,
        True,
    )
    url = _url("appropriate-experiences-detail", experience_id=element.pk)
    changed = client.patch(url, {"cadence_days": 60, "desired_outcome": None})
    assert changed.status_code == 200, changed.json()
    element.refresh_from_db()
    assert (element.cadence_days, element.desired_outcome_id) == (60, None)
    assert client.delete(url).status_code == 204
    element.refresh_from_db()
    assert element.is_active is False
    retired = client.patch(url, {"cadence_days": 30})
    assert retired.status_code == 400
    assert "element" in retired.json()["errors"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cadence_days": 0}, "cadence_days"),
        ({"cadence_days": 100000}, "cadence_days"),
        ({"channel": "pigeon"}, "channel"),
        ({"engagement_type": "high_touch"}, "engagement_type"),
        ({"description": " "}, "description"),
    ],
)
def test_the_experience_rules_answer_field_by_field(api, tenant_a, overrides, field):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        _url("appropriate-experiences-list"), _experience_body(member, **overrides)
    )
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not AppropriateExperience.objects.for_org(tenant_a.organization).exists()


def test_an_element_refers_only_to_the_members_own_outcomes_in_the_organization(
    api, tenant_a, tenant_b
):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    someone_elses = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    mixed = client.post(
        _url("appropriate-experiences-list"),
        _experience_body(member, desired_outcome=someone_elses.pk),
    )
    assert mixed.json()["errors"]["desired_outcome"] == [
        "This desired outcome belongs to another member."
    ]
    foreign_member = MemberFactory(organization=tenant_b.organization)
    foreign = client.post(_url("appropriate-experiences-list"), _experience_body(foreign_member))
    assert "member" in foreign.json()["errors"]
    foreign_outcome = DesiredOutcomeFactory(member__organization=tenant_b.organization)
    element = AppropriateExperienceFactory(member=member)
    detach = client.patch(
        _url("appropriate-experiences-detail", experience_id=element.pk),
        {"desired_outcome": foreign_outcome.pk},
    )
    assert "desired_outcome" in detach.json()["errors"]
    assert AppropriateExperience.objects.unscoped().count() == 1


def test_a_read_only_key_cannot_write_experience(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    element = AppropriateExperienceFactory(member__organization=tenant_a.organization)
    url = _url("appropriate-experiences-detail", experience_id=element.pk)
    assert (
        client.post(
            _url("appropriate-experiences-list"), _experience_body(element.member)
        ).status_code
        == 403
    )
    assert client.patch(url, {"cadence_days": 5}).status_code == 403
    assert client.delete(url).status_code == 403
    element.refresh_from_db()
    assert (element.cadence_days, element.is_active) == (90, True)


def test_experience_filters_and_sync(api, tenant_a):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    weekly = AppropriateExperienceFactory(member=member, cadence_days=7)
    optional = AppropriateExperienceFactory(member=member, required=False, cadence_days=1)
    retired = AppropriateExperienceFactory(
        member__organization=tenant_a.organization, is_active=False
    )
    assert _ids(client.get(_url("appropriate-experiences-list"), {"member": member.pk})) == [
        weekly.pk,
        optional.pk,
    ]
    listed = client.get(_url("appropriate-experiences-list"), {"is_active": "false"})
    assert _ids(listed) == [retired.pk]
    by_cadence = client.get(
        _url("appropriate-experiences-list"), {"member": member.pk, "ordering": "cadence_days"}
    )
    assert _ids(by_cadence) == [optional.pk, weekly.pk]
    mark = timezone.now()
    AppropriateExperience.objects.for_org(tenant_a.organization).update(
        updated_at=mark - dt.timedelta(1)
    )
    client.delete(_url("appropriate-experiences-detail", experience_id=weekly.pk))
    synced = client.get(_url("appropriate-experiences-list"), {"updated_since": mark.isoformat()})
    assert _ids(synced) == [weekly.pk]


def test_listing_experience_takes_the_same_queries_for_3_and_30(api, tenant_a):
    client = api(tenant_a)
    url = _url("appropriate-experiences-list") + "?page_size=100"
    AppropriateExperienceFactory.create_batch(3, member__organization=tenant_a.organization)
    three = _queries(client, url)
    AppropriateExperienceFactory.create_batch(27, member__organization=tenant_a.organization)
    assert _queries(client, url) == three


# --- success gaps ----------------------------------------------------------------------------


def _snapshot(member, *, days_ago: float, gap: float, band: str = Band.WATCH):
    at = timezone.now() - dt.timedelta(days=days_ago)
    run = SuccessGapRun.objects.create(
        organization=member.organization,
        computed_at=at,
        as_of=at.date(),
        configuration={"milestones_weight": 3.0, "pace_weight": 3.0},
    )
    return SuccessGapSnapshot.objects.create(
        organization=member.organization,
        run=run,
        member=member,
        computed_at=at,
        functional=0.8,
        outcome=0.8 - gap / 100,
        gap=gap,
        pace=0.5,
        band=band,
        milestones_due=4,
        milestones_done=3,
        goals_active=1,
    )


def test_the_history_is_a_cursor_stream_newest_first(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    member = MemberFactory(organization=tenant_a.organization)
    other = MemberFactory(organization=tenant_a.organization)
    old, mid, new = (_snapshot(member, days_ago=d, gap=g) for d, g in ((40, 10), (5, 20), (1, 30)))
    _snapshot(other, days_ago=2, gap=50, band=Band.AT_RISK)
    first = client.get(_url("success-gap-snapshots-list"), {"member": member.pk, "page_size": 2})
    assert _ids(first) == [new.pk, mid.pk]
    second = client.get(first.json()["next"])
    assert _ids(second) == [old.pk]
    window = client.get(
        _url("success-gap-snapshots-list"),
        {
            "member": member.pk,
            "since": (timezone.now() - dt.timedelta(days=10)).isoformat(),
            "until": (timezone.now() - dt.timedelta(days=2)).isoformat(),
        },
    )
    assert _ids(window) == [mid.pk]
    at_risk = client.get(_url("success-gap-snapshots-list"), {"band": "at_risk"})
    assert [row["member"] for row in at_risk.json()["results"]] == [other.pk]
    detail = client.get(_url("success-gap-snapshots-detail", snapshot_id=new.pk)).json()
    assert (detail["gap"], detail["band"], detail["parts"]["milestones_done"]) == (30, "watch", 3)
    assert detail["weights"] == {"milestones_weight": 3.0, "pace_weight": 3.0}


def test_snapshots_are_read_only(api, tenant_a):
    client = api(tenant_a)
    snapshot = _snapshot(MemberFactory(organization=tenant_a.organization), days_ago=1, gap=5)
    assert client.post(_url("success-gap-snapshots-list"), {}).status_code == 405
    detail = _url("success-gap-snapshots-detail", snapshot_id=snapshot.pk)
    assert client.delete(detail).status_code == 405
    assert SuccessGapSnapshot.objects.for_org(tenant_a.organization).count() == 1


def test_listing_snapshots_takes_the_same_queries_for_3_and_30(api, tenant_a):
    client = api(tenant_a)
    url = _url("success-gap-snapshots-list") + "?page_size=100"
    for days in range(3):
        _snapshot(MemberFactory(organization=tenant_a.organization), days_ago=days, gap=1)
    three = _queries(client, url)
    for days in range(3, 30):
        _snapshot(MemberFactory(organization=tenant_a.organization), days_ago=days, gap=1)
    assert _queries(client, url) == three


def test_a_members_success_gap_is_explained_as_on_the_member_page(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    member = MemberFactory(organization=tenant_a.organization)
    url = _url("member-success-gap", member_id=member.pk)
    unscored = client.get(url).json()
    assert unscored["snapshot"] is None
    assert unscored["headline"].startswith("Not scored yet")

    _snapshot(member, days_ago=45, gap=10)
    _snapshot(member, days_ago=3, gap=25)
    latest = _snapshot(member, days_ago=1, gap=30)
    body = client.get(url).json()
    expected = gap_explanation(organization=tenant_a.organization, member=member)
    assert body["snapshot"]["id"] == latest.pk
    assert (body["headline"], body["reasons"]) == (expected.headline, expected.reasons)
    assert body["headline"].startswith("Gap 30 (watch)")
    assert (body["change_since_previous"], body["change_since_30_days"]) == (5, 20)


def test_another_organizations_member_has_no_success_gap_here(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_b.organization)
    _snapshot(member, days_ago=1, gap=30)
    response = api(tenant_a).get(_url("member-success-gap", member_id=member.pk))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
