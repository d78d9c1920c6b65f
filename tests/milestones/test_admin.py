"""The staff admin lists every organization's milestones and commitments (unscoped on
purpose), and its pages open."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from tenancy.models import User
from tests.factories import CommitmentFactory, MilestoneDefinitionFactory, ProgressMilestoneFactory

MODELS = [MilestoneDefinition, ProgressMilestone, Commitment]


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@tandem.test", password="x-pass-1"))
    return client


@pytest.fixture
def rows(tenant_a, tenant_b):
    made = {}
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        made[org.slug] = {
            MilestoneDefinition: MilestoneDefinitionFactory(
                organization=org, name=f"Def {org.slug}"
            ),
            ProgressMilestone: ProgressMilestoneFactory(
                member__organization=org, name=f"Milestone {org.slug}"
            ),
            Commitment: CommitmentFactory(
                goal__desired_outcome__member__organization=org, description=f"Do {org.slug}"
            ),
        }
    return made


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:milestones_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_shows_every_organization(staff_client, rows, model):
    response = staff_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    for slug, made in rows.items():
        assert str(made[model]) in body, f"{slug}'s {model.__name__} is missing"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_change_page_opens(staff_client, rows, model):
    obj = next(iter(rows.values()))[model]
    assert staff_client.get(_url(model, "change", obj.pk)).status_code == 200


def test_big_tables_are_picked_by_id():
    from django.contrib import admin

    assert set(admin.site._registry[ProgressMilestone].raw_id_fields) >= {
        "member",
        "goal",
        "context_event",
    }
    assert set(admin.site._registry[Commitment].raw_id_fields) >= {"goal", "member"}


def _choices(body: str, field: str) -> set[int]:
    """The ids offered by a form's <select name=field>."""
    select = re.search(rf'<select name="{field}".*?</select>', body, re.DOTALL)
    assert select, f"no select for {field}"
    return {int(pk) for pk in re.findall(r'<option value="(\d+)"', select.group(0))}


def test_a_row_is_edited_with_its_own_organizations_choices(staff_client, rows, tenant_a, tenant_b):
    own = rows[tenant_a.organization.slug]
    response = staff_client.get(_url(ProgressMilestone, "change", own[ProgressMilestone].pk))
    assert _choices(response.content.decode(), "definition") == {own[MilestoneDefinition].pk}
    response = staff_client.get(_url(Commitment, "change", own[Commitment].pk))
    assert _choices(response.content.decode(), "owner_seat") == {
        tenant_a.admin.pk,
        tenant_a.msm.pk,
        tenant_a.viewer.pk,
    }


def test_rows_are_added_through_the_services_not_the_admin(staff_client, rows):
    for model in MODELS:
        assert staff_client.get(_url(model, "add")).status_code == 403


def _form_data(response) -> dict:
    """The change form's current values, as the browser posts them back (a pending milestone
    has no date-time to split)."""
    form = response.context["adminform"].form
    values = {name: form[name].value() for name in form.fields}
    return {name: value for name, value in values.items() if value is not None}


def test_an_edit_is_saved_and_a_broken_constraint_is_a_form_error(staff_client, rows, tenant_a):
    milestone = rows[tenant_a.organization.slug][ProgressMilestone]
    url = _url(ProgressMilestone, "change", milestone.pk)
    data = _form_data(staff_client.get(url))
    response = staff_client.post(url, {**data, "name": "Renamed by staff"})
    assert response.status_code == 302
    assert ProgressMilestone.objects.unscoped().get(pk=milestone.pk).name == "Renamed by staff"

    # Strategic with no goal breaks the model's check constraint: shown, not saved.
    response = staff_client.post(url, {**data, "type": "strategic", "goal": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert ProgressMilestone.objects.unscoped().get(pk=milestone.pk).type == "functional"
