"""The outcomes admin shows every organization's rows to Tandem's staff, edits one row inside
its own organization (the condition inline included), keeps the links the services derive
read-only, and leaves creating linked rows to the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
    ScoringConfiguration,
    SuccessGapRun,
    SuccessGapSnapshot,
)
from tenancy.admin import TenantAdmin
from tests.factories import (
    AppropriateExperienceFactory,
    ConditionFactory,
    DesiredOutcomeFactory,
    GoalMetricReadingFactory,
    UserFactory,
)

LINKED = ["desiredoutcome", "goal", "goalmetricreading", "condition", "appropriateexperience"]


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def rows(tenant_a, tenant_b):
    condition = ConditionFactory(
        goal__desired_outcome__member__organization=tenant_a.organization,
        goal__desired_outcome__member__name="Ada Lovelace",
    )
    reading = GoalMetricReadingFactory(goal=condition.goal)
    element = AppropriateExperienceFactory(
        member=condition.goal.member, desired_outcome=condition.goal.desired_outcome
    )
    ConditionFactory(
        goal__desired_outcome__member__organization=tenant_b.organization,
        goal__desired_outcome__member__name="Bo Beta",
    )
    return {
        "desiredoutcome": condition.goal.desired_outcome,
        "goal": condition.goal,
        "goalmetricreading": reading,
        "condition": condition,
        "appropriateexperience": element,
    }


@pytest.mark.parametrize(
    "model",
    [
        DesiredOutcome,
        Goal,
        GoalMetricReading,
        Condition,
        AppropriateExperience,
        ScoringConfiguration,
        SuccessGapRun,
        SuccessGapSnapshot,
    ],
)
def test_models_are_registered_on_the_tenant_admin(model):
    assert isinstance(admin.site._registry[model], TenantAdmin)


@pytest.mark.parametrize("model", LINKED)
def test_changelist_change_and_delete_pages(staff, rows, model):
    changelist = staff.get(reverse(f"admin:outcomes_{model}_changelist"))
    assert changelist.status_code == 200
    # Both organizations' rows (B has a desired outcome, a goal and a condition too).
    expected = 1 if model in ("appropriateexperience", "goalmetricreading") else 2
    assert changelist.context["cl"].result_count == expected
    search = staff.get(reverse(f"admin:outcomes_{model}_changelist"), {"q": "zzz-nothing"})
    assert search.context["cl"].result_count == 0
    pk = rows[model].pk
    assert staff.get(reverse(f"admin:outcomes_{model}_change", args=[pk])).status_code == 200
    assert staff.get(reverse(f"admin:outcomes_{model}_delete", args=[pk])).status_code == 200


@pytest.mark.parametrize("model", [*LINKED, "successgapsnapshot"])
def test_linked_rows_are_not_added_through_the_admin(staff, model):
    assert staff.get(reverse(f"admin:outcomes_{model}_add")).status_code == 403


@pytest.mark.parametrize("model", ["scoringconfiguration", "successgaprun"])
def test_scoring_admin_pages(staff, model):
    assert staff.get(reverse(f"admin:outcomes_{model}_changelist")).status_code == 200
    # Configuration comes through the settings service, runs and snapshots from the engine.
    assert staff.get(reverse(f"admin:outcomes_{model}_add")).status_code == 403


def test_goal_page_shows_its_conditions_and_member(staff, rows):
    goal = rows["goal"]
    body = staff.get(reverse("admin:outcomes_goal_change", args=[goal.pk])).content.decode()
    assert rows["condition"].description in body
    assert "Ada Lovelace" in body


def goal_form(goal: Goal, condition: Condition, **condition_changes) -> dict:
    row = {
        "id": condition.pk,
        "goal": goal.pk,
        "description": condition.description,
        "kind": condition.kind,
        "metric_name": "",
        "comparison": "",
        "threshold": "",
        "observed_value": "",
        "state": condition.state,
        "evidence": "",
        "assessed_on": "",
        **condition_changes,
    }
    return {
        "objective": goal.objective,
        "metric_name": goal.metric_name,
        "metric_unit": goal.metric_unit,
        "baseline": goal.baseline,
        "target": goal.target,
        "current_value": goal.current_value,
        "starts_on": goal.starts_on.isoformat(),
        "due_on": goal.due_on.isoformat(),
        "status": goal.status,
        "conditions-TOTAL_FORMS": 1,
        "conditions-INITIAL_FORMS": 1,
        **{f"conditions-0-{key}": value for key, value in row.items()},
    }


def test_a_goal_and_its_conditions_are_edited_inside_its_organization(staff, rows):
    goal, condition = rows["goal"], rows["condition"]
    response = staff.post(
        reverse("admin:outcomes_goal_change", args=[goal.pk]),
        goal_form(goal, condition, state="met", assessed_on=goal.starts_on.isoformat()),
    )
    assert response.status_code == 302
    stored = Condition.objects.unscoped().get(pk=condition.pk)
    assert (stored.state, stored.organization_id) == ("met", goal.organization_id)
    stored_goal = Goal.objects.unscoped().get(pk=goal.pk)
    assert (stored_goal.member_id, stored_goal.desired_outcome_id) == (
        goal.member_id,
        goal.desired_outcome_id,
    )


def test_the_inline_cannot_add_conditions(staff, rows):
    goal, condition = rows["goal"], rows["condition"]
    data = goal_form(goal, condition)
    data["conditions-TOTAL_FORMS"] = 2
    data.update(
        {
            "conditions-1-goal": goal.pk,
            "conditions-1-description": "Added behind the services' back",
            "conditions-1-kind": "confirmed",
            "conditions-1-state": "unknown",
        }
    )
    staff.post(reverse("admin:outcomes_goal_change", args=[goal.pk]), data)
    assert not Condition.objects.unscoped().filter(description__startswith="Added").exists()


def test_experience_element_cannot_serve_another_members_outcome(staff, rows, tenant_a):
    element = rows["appropriateexperience"]
    other = DesiredOutcomeFactory(member__organization=tenant_a.organization)
    form = {
        "desired_outcome": other.pk,
        "description": element.description,
        "engagement_type": element.engagement_type,
        "cadence_days": element.cadence_days,
        "channel": element.channel,
        "required": "on",
        "is_active": "on",
    }
    url = reverse("admin:outcomes_appropriateexperience_change", args=[element.pk])
    response = staff.post(url, form)
    assert response.status_code == 200
    assert "desired_outcome" in response.context["adminform"].form.errors
    assert AppropriateExperience.objects.unscoped().get(pk=element.pk).desired_outcome_id == (
        element.desired_outcome_id
    )
    form["desired_outcome"] = ""
    assert staff.post(url, form).status_code == 302
    assert AppropriateExperience.objects.unscoped().get(pk=element.pk).desired_outcome_id is None


def test_experience_element_cannot_link_another_organizations_outcome(staff, rows, tenant_b):
    element = rows["appropriateexperience"]
    foreign = DesiredOutcomeFactory(member__organization=tenant_b.organization)
    response = staff.post(
        reverse("admin:outcomes_appropriateexperience_change", args=[element.pk]),
        {
            "desired_outcome": foreign.pk,
            "description": element.description,
            "engagement_type": element.engagement_type,
            "cadence_days": element.cadence_days,
            "channel": element.channel,
        },
    )
    assert response.status_code == 200
    assert "desired_outcome" in response.context["adminform"].form.errors
