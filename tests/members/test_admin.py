"""The members admin lists every organization's rows for Tandem's staff, with its searches and
filters; one row is opened and edited inside its own organization, ownership is not edited
there, and new rows come from the services."""

import pytest
from django.urls import reverse

from members.models import Advocacy, MembershipEvent, OwnershipChange
from tests.factories import (
    AdvocacyFactory,
    MemberFactory,
    MembershipEventFactory,
    OwnershipChangeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def rows(tenant_a, tenant_b):
    ada = MemberFactory(
        organization=tenant_a.organization,
        name="Ada Quill",
        external_id="CRM-ADA",
        owner=tenant_a.msm,
        status="active",
        tier="Fellow",
        region="East",
    )
    bob = MemberFactory(
        organization=tenant_b.organization, name="Bob Inkwell", status="lapsed", tier="Student"
    )
    for member in (ada, bob):
        MembershipEventFactory(member=member)
        AdvocacyFactory(member=member, kind="referral", score=None)
        OwnershipChangeFactory(member=member)
    return ada, bob


@pytest.mark.parametrize("model", ["member", "ownershipchange", "membershipevent", "advocacy"])
def test_changelists_show_every_organizations_rows(staff_client, rows, model):
    response = staff_client.get(reverse(f"admin:members_{model}_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ada Quill" in body and "Bob Inkwell" in body


@pytest.mark.parametrize("query", ["quill", "CRM-ADA", "member"])
def test_members_are_searched_by_name_email_and_external_id(staff_client, rows, query):
    ada, _ = rows
    if query == "member":
        query = ada.email
    response = staff_client.get(reverse("admin:members_member_changelist"), {"q": query})
    body = response.content.decode()
    assert "Ada Quill" in body and "Bob Inkwell" not in body


@pytest.mark.parametrize(
    "params", [{"status__exact": "lapsed"}, {"tier": "Student"}, {"region": "North"}]
)
def test_members_are_filtered_by_status_tier_and_region(staff_client, rows, params):
    response = staff_client.get(reverse("admin:members_member_changelist"), params)
    body = response.content.decode()
    assert "Bob Inkwell" in body and "Ada Quill" not in body


@pytest.mark.parametrize("model", ["ownershipchange", "membershipevent", "advocacy"])
def test_history_is_searched_by_member(staff_client, rows, model):
    response = staff_client.get(reverse(f"admin:members_{model}_changelist"), {"q": "inkwell"})
    body = response.content.decode()
    assert "Bob Inkwell" in body and "Ada Quill" not in body


def _row(model, rows):
    ada, _ = rows
    if model == "member":
        return ada
    related = {
        "ownershipchange": OwnershipChange,
        "membershipevent": MembershipEvent,
        "advocacy": Advocacy,
    }[model]
    return related.objects.unscoped().get(member=ada)


@pytest.mark.parametrize("model", ["member", "ownershipchange", "membershipevent", "advocacy"])
def test_one_row_opens_and_deletes_inside_its_organization_and_new_rows_come_from_services(
    staff_client, rows, model
):
    row = _row(model, rows)
    change = staff_client.get(reverse(f"admin:members_{model}_change", args=[row.pk]))
    assert change.status_code == 200
    assert "Ada Quill" in change.content.decode()
    delete = staff_client.get(reverse(f"admin:members_{model}_delete", args=[row.pk]))
    assert delete.status_code == 200
    assert staff_client.get(reverse(f"admin:members_{model}_add")).status_code == 403


def member_form(member, **changes):
    data = {
        "kind": member.kind,
        "name": member.name,
        "email": member.email,
        "external_id": member.external_id,
        "tier": member.tier,
        "status": member.status,
        "joined_on": member.joined_on.isoformat(),
        "renewal_on": member.renewal_on.isoformat(),
        "region": member.region,
        "attributes": "{}",
    }
    return {**data, **changes}


def test_a_member_is_corrected_in_the_admin_but_its_owner_is_not_changed_there(
    staff_client, rows, tenant_a
):
    ada, _ = rows
    url = reverse("admin:members_member_change", args=[ada.pk])
    response = staff_client.post(url, member_form(ada, name="Ada Quill-Byron", owner=""))
    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.name == "Ada Quill-Byron"
    assert ada.owner == tenant_a.msm  # the owner is read-only: hand-offs go through the service


def test_the_admin_refuses_a_duplicate_external_id_within_the_organization(
    staff_client, rows, tenant_a
):
    ada, _ = rows
    MemberFactory(organization=tenant_a.organization, external_id="CRM-TAKEN")
    url = reverse("admin:members_member_change", args=[ada.pk])
    response = staff_client.post(url, member_form(ada, external_id="CRM-TAKEN"))
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert "Another member of this organization has this external id." in str(errors)
    ada.refresh_from_db()
    assert ada.external_id == "CRM-ADA"


def test_an_advocacy_row_cannot_be_linked_to_another_organizations_member(staff_client, rows):
    ada, bob = rows
    advocacy = Advocacy.objects.unscoped().get(member=ada)
    url = reverse("admin:members_advocacy_change", args=[advocacy.pk])
    response = staff_client.post(
        url,
        {
            "member": ada.pk,
            "kind": "referral",
            "occurred_on": advocacy.occurred_on.isoformat(),
            "score": "",
            "referred_member": bob.pk,
            "note": "",
        },
    )
    assert response.status_code == 200
    assert "referred_member" in response.context["adminform"].form.errors
    advocacy.refresh_from_db()
    assert advocacy.referred_member_id is None
