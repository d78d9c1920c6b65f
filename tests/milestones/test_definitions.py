"""Milestone definitions: what an organization expects its members to reach, and when."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from milestones.models import MilestoneDefinition
from milestones.services import milestone_definition_create, milestone_definition_update
from tests.factories import MemberFactory, MilestoneDefinitionFactory, ProgressMilestoneFactory


def _refused(row_counts, field: str, **kwargs) -> ValidationError:
    """Call the create service, assert it names ``field`` and wrote nothing."""
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_definition_create(**kwargs)
    assert field in excinfo.value.message_dict
    assert row_counts() == before
    return excinfo.value


def test_create_stores_the_definition(tenant_a):
    definition = milestone_definition_create(
        organization=tenant_a.organization,
        name="  First course completed ",
        type="functional",
        expected_after_days=21,
        description="The member finishes one course.",
        match_event_name="course_completed",
        match_min_value="2.5",
    )
    stored = MilestoneDefinition.objects.for_org(tenant_a.organization).get()
    assert stored == definition
    assert stored.name == "First course completed"
    assert stored.anchor == MilestoneDefinition.Anchor.JOINED
    assert stored.expected_after_days == 21
    assert stored.match_min_value == Decimal("2.5")
    assert stored.is_active


def test_unknown_type_is_refused(tenant_a, row_counts):
    _refused(row_counts, "type", organization=tenant_a.organization, name="X", type="tactical")


def test_duplicate_name_in_the_organization_is_refused(tenant_a, row_counts):
    MilestoneDefinitionFactory(organization=tenant_a.organization, name="Onboarded")
    _refused(
        row_counts, "name", organization=tenant_a.organization, name="Onboarded", type="functional"
    )
    # A name differing only by case is the same name to the people reading it.
    _refused(
        row_counts, "name", organization=tenant_a.organization, name="onboarded", type="functional"
    )


def test_same_name_in_another_organization_is_fine(tenant_a, tenant_b):
    MilestoneDefinitionFactory(organization=tenant_a.organization, name="Onboarded")
    definition = milestone_definition_create(
        organization=tenant_b.organization, name="Onboarded", type="functional"
    )
    assert definition.organization == tenant_b.organization


def test_empty_name_is_refused(tenant_a, row_counts):
    _refused(row_counts, "name", organization=tenant_a.organization, name="  ", type="functional")


@pytest.mark.parametrize("value", ["high", "", "NaN", "Infinity", True, "1e400000"])
def test_min_value_must_be_a_number(tenant_a, row_counts, value):
    if value == "":
        # An empty form field means "no minimum": accepted, stored as None.
        definition = milestone_definition_create(
            organization=tenant_a.organization,
            name="Any value",
            type="functional",
            match_event_name="login",
            match_min_value=value,
        )
        assert definition.match_min_value is None
        return
    _refused(
        row_counts,
        "match_min_value",
        organization=tenant_a.organization,
        name="Min",
        type="functional",
        match_event_name="login",
        match_min_value=value,
    )


def test_min_value_too_large_for_the_column_is_refused(tenant_a, row_counts):
    _refused(
        row_counts,
        "match_min_value",
        organization=tenant_a.organization,
        name="Huge",
        type="functional",
        match_event_name="login",
        match_min_value=Decimal("1234567890123"),
    )


def test_min_value_needs_an_event_name(tenant_a, row_counts):
    _refused(
        row_counts,
        "match_min_value",
        organization=tenant_a.organization,
        name="Min",
        type="functional",
        match_min_value=Decimal("3"),
    )


def test_strategic_definition_must_be_anchored_on_goal_start(tenant_a, row_counts):
    _refused(
        row_counts,
        "anchor",
        organization=tenant_a.organization,
        name="Credential earned",
        type="strategic",
        anchor="joined",
    )
    definition = milestone_definition_create(
        organization=tenant_a.organization,
        name="Credential earned",
        type="strategic",
        anchor="goal_start",
    )
    assert definition.anchor == MilestoneDefinition.Anchor.GOAL_START


def test_unknown_anchor_is_refused(tenant_a, row_counts):
    _refused(
        row_counts,
        "anchor",
        organization=tenant_a.organization,
        name="X",
        type="functional",
        anchor="renewal",
    )


@pytest.mark.parametrize("days", [-1, 3651, "30", True, 2.5])
def test_expected_after_days_must_be_a_sensible_whole_number(tenant_a, row_counts, days):
    _refused(
        row_counts,
        "expected_after_days",
        organization=tenant_a.organization,
        name="X",
        type="functional",
        expected_after_days=days,
    )


def test_every_error_is_reported_at_once(tenant_a, row_counts):
    MilestoneDefinitionFactory(organization=tenant_a.organization, name="Taken")
    error = _refused(
        row_counts,
        "name",
        organization=tenant_a.organization,
        name="Taken",
        type="tactical",
        match_min_value="high",
    )
    assert {"name", "type", "match_min_value"} <= set(error.message_dict)


# --- update ------------------------------------------------------------------------------------


def _update_refused(row_counts, definition, field: str, **changes) -> None:
    before = row_counts()
    stored_before = MilestoneDefinition.objects.unscoped().values().get(pk=definition.pk)
    with pytest.raises(ValidationError) as excinfo:
        milestone_definition_update(
            organization=definition.organization, definition=definition, **changes
        )
    assert field in excinfo.value.message_dict
    assert row_counts() == before
    assert MilestoneDefinition.objects.unscoped().values().get(pk=definition.pk) == stored_before


def test_update_changes_only_what_is_given(tenant_a):
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization,
        name="Old",
        match_event_name="login",
        match_min_value=Decimal("3"),
    )
    milestone_definition_update(
        organization=tenant_a.organization,
        definition=definition,
        name="New",
        expected_after_days=60,
    )
    stored = MilestoneDefinition.objects.for_org(tenant_a.organization).get()
    assert (stored.name, stored.expected_after_days) == ("New", 60)
    assert (stored.match_event_name, stored.match_min_value) == ("login", Decimal("3"))


def test_update_can_clear_the_minimum_and_deactivate(tenant_a):
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, match_event_name="login", match_min_value=Decimal("3")
    )
    milestone_definition_update(
        organization=tenant_a.organization,
        definition=definition,
        match_min_value=None,
        is_active=False,
    )
    stored = MilestoneDefinition.objects.for_org(tenant_a.organization).get()
    assert stored.match_min_value is None
    assert not stored.is_active


def test_update_keeps_its_own_name_but_refuses_anothers(tenant_a, row_counts):
    MilestoneDefinitionFactory(organization=tenant_a.organization, name="Taken")
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Mine")
    milestone_definition_update(
        organization=tenant_a.organization, definition=definition, name="MINE"
    )
    _update_refused(row_counts, definition, "name", name="taken")


def test_update_applies_the_create_rules(tenant_a, row_counts):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    _update_refused(row_counts, definition, "type", type="tactical")
    _update_refused(row_counts, definition, "match_min_value", match_min_value="high")
    # Making it strategic while it is still counted from joining breaks the anchor rule.
    _update_refused(row_counts, definition, "anchor", type="strategic")
    _update_refused(row_counts, definition, "is_active", is_active="yes")


def test_update_refuses_clearing_the_event_name_under_a_minimum(tenant_a, row_counts):
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, match_event_name="login", match_min_value=Decimal("3")
    )
    _update_refused(row_counts, definition, "match_min_value", match_event_name="")


def test_anchor_cannot_change_once_milestones_were_planned(tenant_a, row_counts):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    fresh = MilestoneDefinitionFactory(organization=tenant_a.organization)
    ProgressMilestoneFactory(
        member=MemberFactory(organization=tenant_a.organization), definition=definition
    )
    _update_refused(row_counts, definition, "anchor", anchor="goal_start")
    milestone_definition_update(
        organization=tenant_a.organization, definition=fresh, anchor="goal_start"
    )
    fresh.refresh_from_db()
    assert fresh.anchor == MilestoneDefinition.Anchor.GOAL_START


def test_update_of_another_organizations_definition_is_refused(tenant_a, tenant_b, row_counts):
    definition = MilestoneDefinitionFactory(organization=tenant_b.organization, name="Theirs")
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_definition_update(
            organization=tenant_a.organization, definition=definition, name="Ours now"
        )
    assert "definition" in excinfo.value.message_dict
    assert row_counts() == before
    assert MilestoneDefinition.objects.unscoped().get(pk=definition.pk).name == "Theirs"


def test_update_refused_by_field_validation_leaves_the_instance_as_stored(tenant_a, row_counts):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Short")
    _update_refused(row_counts, definition, "name", name="x" * 121)
    assert definition.name == "Short"
