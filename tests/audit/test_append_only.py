"""The trail is never editable: not through the model, its querysets, or the Django admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import Client

from audit.models import AuditEntry, AuditEntryIsAppendOnly
from audit.services import audit_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(tenant_a) -> AuditEntry:
    return audit_record(
        organization=tenant_a.organization,
        action="update",
        model="members.Member",
        object_id=1,
        changes={"tier": ["Member", "Fellow"]},
    )


def test_an_entry_cannot_be_updated_or_deleted(entry, tenant_a):
    entry.action = "delete"
    with pytest.raises(AuditEntryIsAppendOnly):
        entry.save()
    with pytest.raises(AuditEntryIsAppendOnly):
        entry.delete()
    rows = AuditEntry.objects.for_org(tenant_a.organization)
    with pytest.raises(AuditEntryIsAppendOnly):
        rows.update(action="delete")
    with pytest.raises(AuditEntryIsAppendOnly):
        rows.delete()
    stored = AuditEntry.objects.for_org(tenant_a.organization).get(pk=entry.pk)
    assert stored.action == "update" and stored.changes == {"tier": ["Member", "Fellow"]}


def test_the_django_admin_offers_no_add_change_or_delete(entry):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    model_admin = site._registry[AuditEntry]
    request = type("R", (), {"user": staff})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    listing = client.get("/admin/audit/auditentry/")
    assert listing.status_code == 200 and b"members.Member" in listing.content
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    view = client.get(f"/admin/audit/auditentry/{entry.pk}/change/")
    assert view.status_code == 200 and b'name="_save"' not in view.content
    assert client.get(f"/admin/audit/auditentry/{entry.pk}/delete/").status_code == 403
    posted = client.post(f"/admin/audit/auditentry/{entry.pk}/change/", {"action": "delete"})
    assert posted.status_code == 403
    assert AuditEntry.objects.unscoped().get(pk=entry.pk).action == "update"
