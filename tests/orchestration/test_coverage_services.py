"""Creating and changing coverage models (every input checked, nothing half-written), and the
preview that counts what a configuration would do without writing anything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import Member, OwnershipChange
from orchestration.coverage import (
    CoveragePreview,
    coverage_apply,
    coverage_model_create,
    coverage_model_update,
    coverage_preview,
)
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat
from tests.factories import CoverageModelFactory, MemberFactory, PlaybookFactory, SeatFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
GOLD = [{"field": "tier", "op": "eq", "value": "Gold"}]


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


def rows(organization) -> tuple[int, int, int]:
    return (
        CoverageModel.objects.for_org(organization).count(),
        CoveragePoolSeat.objects.for_org(organization).count(),
        CoveragePlaybook.objects.for_org(organization).count(),
    )


def pool_of(model) -> list[int]:
    return list(
        CoveragePoolSeat.objects.for_org(model.organization_id)
        .filter(coverage_model=model)
        .order_by("pk")
        .values_list("seat_id", flat=True)
    )


def playbooks_of(model) -> set[int]:
    return set(
        CoveragePlaybook.objects.for_org(model.organization_id)
        .filter(coverage_model=model)
        .values_list("playbook_id", flat=True)
    )


def refused(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(**kwargs)
    return caught.value.message_dict


# --- create -----------------------------------------------------------------------------------


def test_create_writes_the_model_its_pool_in_order_and_its_playbooks(org, tenant_a):
    playbook = PlaybookFactory(organization=org)
    model = coverage_model_create(
        organization=org,
        name="  Gold members ",
        priority=40,
        criteria=({"field": "tier", "op": "in", "value": ("Gold", "Gold")},),
        assignment_policy="least_loaded",
        engagement_cadence_days=30,
        pool_seats=[tenant_a.msm, tenant_a.admin, tenant_a.msm],
        playbooks=[playbook],
        description="Our most engaged tier.",
    )
    model.refresh_from_db()
    assert model.name == "Gold members"
    assert (model.priority, model.assignment_policy, model.engagement_cadence_days) == (
        40,
        "least_loaded",
        30,
    )
    assert model.criteria == [{"field": "tier", "op": "in", "value": ["Gold"]}]
    assert pool_of(model) == [tenant_a.msm.pk, tenant_a.admin.pk]
    assert playbooks_of(model) == {playbook.pk}
    assert model.is_active


def test_create_defaults(org):
    model = coverage_model_create(organization=org, name="Everyone")
    assert (model.priority, model.criteria, model.assignment_policy) == (100, [], "round_robin")
    assert rows(org) == (1, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the coverage model a name."),
        ({"name": "x" * 121}, "name", "within 120 characters"),
        ({"priority": -1}, "priority", "0 or more"),
        ({"priority": "5"}, "priority", "whole number"),
        ({"priority": True}, "priority", "whole number"),
        ({"criteria": [{"field": "colour", "op": "eq", "value": "red"}]}, "criteria", "Rule 1:"),
        ({"criteria": "tier = Gold"}, "criteria", "must be a list"),
        ({"assignment_policy": "random"}, "assignment_policy", "round_robin, least_loaded"),
        ({"engagement_cadence_days": 0}, "engagement_cadence_days", "1 or more"),
        ({"description": None}, "description", "text"),
    ],
)
def test_create_refuses_bad_input_with_a_field_error_and_writes_nothing(
    org, tenant_a, kwargs, field, message
):
    arguments = {"organization": org, "name": "Gold", "pool_seats": [tenant_a.msm], **kwargs}
    errors = refused(coverage_model_create, **arguments)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert rows(org) == (0, 0, 0)


def test_names_are_unique_per_organization(org, tenant_b):
    coverage_model_create(organization=org, name="Gold")
    errors = refused(coverage_model_create, organization=org, name="Gold")
    assert errors == {"name": ["Another coverage model of this organization has this name."]}
    coverage_model_create(organization=tenant_b.organization, name="Gold")  # another org: fine
    assert rows(org) == (1, 0, 0)


def test_pool_seats_must_be_of_the_organization_and_able_to_own_accounts(org, tenant_a, tenant_b):
    errors = refused(
        coverage_model_create, organization=org, name="Gold", pool_seats=[tenant_b.msm]
    )
    assert list(errors) == ["pool_seats"]
    assert "does not belong to this organization" in errors["pool_seats"][0]

    errors = refused(
        coverage_model_create,
        organization=org,
        name="Gold",
        pool_seats=[tenant_a.msm, tenant_a.viewer],
    )
    assert list(errors) == ["pool_seats"]
    assert "is a viewer and cannot own accounts" in errors["pool_seats"][0]
    assert refused(coverage_model_create, organization=org, name="G", pool_seats=["x"]) == {
        "pool_seats": ["The pool takes seats."]
    }
    assert rows(org) == (0, 0, 0)


def test_playbooks_must_be_of_the_organization(org, tenant_b):
    foreign = PlaybookFactory(organization=tenant_b.organization)
    errors = refused(coverage_model_create, organization=org, name="Gold", playbooks=[foreign])
    assert list(errors) == ["playbooks"]
    assert "does not belong to this organization" in errors["playbooks"][0]
    assert rows(org) == (0, 0, 0)


def test_every_bad_field_is_reported_at_once(org, tenant_a):
    errors = refused(
        coverage_model_create,
        organization=org,
        name="",
        priority=-3,
        criteria=[{"field": "tier"}],
        pool_seats=[tenant_a.viewer],
    )
    assert set(errors) == {"name", "priority", "criteria", "pool_seats"}


# --- update -----------------------------------------------------------------------------------


@pytest.fixture
def model(org, tenant_a):
    return coverage_model_create(
        organization=org,
        name="Gold",
        priority=10,
        criteria=GOLD,
        pool_seats=[tenant_a.msm],
        playbooks=[PlaybookFactory(organization=org)],
        description="Before",
    )


def test_update_changes_only_the_fields_given(org, model):
    before_pool, before_playbooks = pool_of(model), playbooks_of(model)
    coverage_model_update(organization=org, coverage_model=model, priority=70)
    model.refresh_from_db()
    assert model.priority == 70
    assert (model.name, model.criteria, model.description) == ("Gold", GOLD, "Before")
    assert pool_of(model) == before_pool
    assert playbooks_of(model) == before_playbooks


def test_update_replaces_the_pool_and_playbooks_when_given(org, model, tenant_a):
    new_playbook = PlaybookFactory(organization=org)
    extra = SeatFactory(organization=org, role="msm")
    coverage_model_update(
        organization=org,
        coverage_model=model,
        pool_seats=[extra, tenant_a.admin],
        playbooks=[new_playbook],
        criteria=[],
        is_active=False,
    )
    model.refresh_from_db()
    assert pool_of(model) == [extra.pk, tenant_a.admin.pk]
    assert playbooks_of(model) == {new_playbook.pk}
    assert model.criteria == []
    assert model.is_active is False
    coverage_model_update(organization=org, coverage_model=model, pool_seats=[], playbooks=())
    assert pool_of(model) == [] and playbooks_of(model) == set()


def test_a_refused_update_changes_nothing(org, model, tenant_a, tenant_b):
    CoverageModelFactory(organization=org, name="Silver")
    errors = refused(
        coverage_model_update,
        organization=org,
        coverage_model=model,
        name="Silver",
        priority=5,
        criteria=[{"field": "tier", "op": "eq", "value": 1}],
        pool_seats=[tenant_b.msm],
    )
    assert set(errors) == {"name", "criteria", "pool_seats"}
    assert (model.name, model.priority) == ("Gold", 10)  # the object too
    model.refresh_from_db()
    assert (model.name, model.priority, model.criteria) == ("Gold", 10, GOLD)
    assert pool_of(model) == [tenant_a.msm.pk]


def test_update_may_keep_its_own_name_and_refuses_another_organizations_model(org, model, tenant_b):
    coverage_model_update(organization=org, coverage_model=model, name="Gold")
    foreign = CoverageModelFactory(organization=tenant_b.organization)
    errors = refused(coverage_model_update, organization=org, coverage_model=foreign, priority=1)
    assert list(errors) == ["coverage_model"]
    assert refused(coverage_model_update, organization=org, coverage_model=model, is_active="no")


def test_saving_a_model_schedules_coverage_once_it_commits(
    org, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        model = coverage_model_create(organization=org, name="Gold")
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        coverage_model_update(organization=org, coverage_model=model, priority=3)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        coverage_model_create(organization=org, name="")
    assert callbacks == []


# --- preview ----------------------------------------------------------------------------------


def state(organization) -> tuple:
    """Everything coverage could write, to prove the preview wrote none of it."""
    return (
        list(
            Member.objects.for_org(organization)
            .order_by("pk")
            .values_list("pk", "coverage_model_id", "owner_id", "updated_at")
        ),
        list(
            CoverageModel.objects.for_org(organization)
            .order_by("pk")
            .values_list("pk", "name", "priority", "criteria", "round_robin_position")
        ),
        CoveragePoolSeat.objects.for_org(organization).count(),
        OwnershipChange.objects.for_org(organization).count(),
    )


@pytest.fixture
def applied(org, tenant_a):
    """Gold (priority 50) covers Gold members; a catch-all (priority 10) the rest. 3 Gold
    members (one owned), 2 Silver ones in the North, 1 Silver in the South; all matched."""
    gold = CoverageModelFactory(organization=org, name="Gold", priority=50, criteria=GOLD)
    rest = CoverageModelFactory(organization=org, name="Rest", priority=10, criteria=[])
    MemberFactory(organization=org, tier="Gold", owner=tenant_a.msm)
    for _ in range(2):
        MemberFactory(organization=org, tier="Gold")
    for _ in range(2):
        MemberFactory(organization=org, tier="Silver", region="North")
    MemberFactory(organization=org, tier="Silver", region="South", owner=tenant_a.msm)
    coverage_apply(organization=org, today=TODAY)
    return gold, rest


NORTH = [{"field": "region", "op": "eq", "value": "North"}]


def test_preview_counts_a_new_configuration_after_priority_resolution(org, applied, tenant_a):
    before = state(org)
    below_gold = coverage_preview(
        organization=org,
        model_or_fields={"name": "North", "priority": 30, "criteria": NORTH},
        today=TODAY,
    )
    # Gold outranks it, so only the two Silver northerners would move to it; no pool, no owners.
    assert below_gold == CoveragePreview(matched=2, changed_model=2, changed_owner=0)

    above_gold = coverage_preview(
        organization=org,
        model_or_fields={
            "name": "North",
            "priority": 60,
            "criteria": NORTH,
            "pool_seats": [tenant_a.admin],
        },
        today=TODAY,
    )
    # Every member is in the North by default (the factory), so 5 of 6 would move to it; the
    # owned Gold member keeps its owner: 4 unowned would get one.
    assert above_gold.matched == 5
    assert above_gold.changed_model == 5
    assert above_gold.changed_owner == 4
    assert above_gold.summary == (
        "5 members would match, 4 would change owner, 5 would change coverage model."
    )
    assert state(org) == before


def test_a_new_configuration_loses_a_tie_to_an_existing_model(org, applied):
    tie = coverage_preview(
        organization=org, model_or_fields={"priority": 50, "criteria": GOLD}, today=TODAY
    )
    assert tie == CoveragePreview(matched=0, changed_model=0, changed_owner=0)
    assert str(tie).startswith("0 members would match")


def test_preview_of_an_existing_model_changed_in_memory(org, applied, tenant_a):
    gold, rest = applied
    CoveragePoolSeat.objects.create(organization=org, coverage_model=rest, seat=tenant_a.msm)
    before = state(org)
    unchanged = coverage_preview(organization=org, model_or_fields=rest, today=TODAY)
    assert unchanged == CoveragePreview(matched=3, changed_model=0, changed_owner=2)

    rest.priority = 99  # now above Gold: it would take everyone
    preview = coverage_preview(organization=org, model_or_fields=rest, today=TODAY)
    assert preview == CoveragePreview(matched=6, changed_model=3, changed_owner=4)

    gold.criteria = [{"field": "tier", "op": "eq", "value": "Nobody"}]
    gold.is_active = False  # previewed as if active
    preview = coverage_preview(organization=org, model_or_fields=gold, today=TODAY)
    assert preview == CoveragePreview(matched=0, changed_model=3, changed_owner=0)
    assert state(org) == before
    rest.refresh_from_db()
    assert rest.priority == 10


def test_preview_refuses_bad_configurations(org, applied, tenant_a, tenant_b):
    errors = refused(
        coverage_preview,
        organization=org,
        model_or_fields={"criteria": [{"field": "colour", "op": "eq", "value": "red"}]},
    )
    assert list(errors) == ["criteria"]
    assert "unknown field 'colour'" in errors["criteria"][0]
    assert list(refused(coverage_preview, organization=org, model_or_fields={"priority": -1})) == [
        "priority"
    ]
    assert list(
        refused(
            coverage_preview, organization=org, model_or_fields={"pool_seats": [tenant_a.viewer]}
        )
    ) == ["pool_seats"]
    foreign = CoverageModelFactory(organization=tenant_b.organization)
    assert list(refused(coverage_preview, organization=org, model_or_fields=foreign)) == [
        "coverage_model"
    ]
    with pytest.raises(TypeError, match="colour"):
        coverage_preview(organization=org, model_or_fields={"colour": "red"})


def test_preview_counts_only_the_organizations_members(org, applied, tenant_b):
    MemberFactory.create_batch(3, organization=tenant_b.organization, tier="Gold")
    preview = coverage_preview(
        organization=org, model_or_fields={"priority": 99, "criteria": GOLD}, today=TODAY
    )
    assert preview.matched == 3


@pytest.mark.parametrize("members", [5, 50])
def test_preview_takes_the_same_queries_for_5_and_50_members(org, tenant_a, members):
    CoverageModelFactory(organization=org, priority=50, criteria=GOLD)
    for index in range(members):
        MemberFactory(organization=org, tier="Gold" if index % 2 else "Silver")
    with CaptureQueriesContext(connection) as captured:
        preview = coverage_preview(
            organization=org,
            model_or_fields={"priority": 10, "criteria": NORTH, "pool_seats": [tenant_a.msm]},
            today=TODAY,
        )
    silver = members // 2 + members % 2  # Gold outranks the preview
    # Coverage was never applied: every member would change model (Gold's too).
    assert preview == CoveragePreview(matched=silver, changed_model=members, changed_owner=silver)
    assert len(captured) == 2  # the other active models, then one grouped count
