"""Drill 4: the database fails in the middle of a multi-step service.

The failure is the database's own: a trigger created by the test refuses every insert into a
table that the service writes late (an SQLite ``RAISE(ABORT)`` trigger, a PostgreSQL trigger
function that ``RAISE``s a check violation), after the service has already written elsewhere. For a page, an API
call and a Celery task, the answer is a clear error, and the database holds nothing of the
partial write: every table's row count is the same before and after.

The tests commit for real (``transactional_db``): nothing is hidden by a test transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse

from members.models import Member, MemberImport, OwnershipChange
from members.tasks import import_members
from tests.conftest import make_tenant
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def refuse_inserts(table: str) -> Iterator[None]:
    """Make the database refuse every insert into ``table`` until the block ends, as a
    constraint would (SQLite's RAISE(ABORT) is a constraint failure; PostgreSQL's is raised as a
    check violation so both report an IntegrityError)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION drill_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'drill: this table refuses inserts'"
                " USING ERRCODE = 'check_violation'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER drill_refuse BEFORE INSERT ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION drill_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER drill_refuse BEFORE INSERT ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'drill: this table refuses inserts'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER drill_refuse ON {table}")
                cursor.execute("DROP FUNCTION drill_refuse()")
            else:
                cursor.execute("DROP TRIGGER drill_refuse")


def row_counts() -> dict[str, int]:
    """Every table's row count."""
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {
        table: (before[table], after[table]) for table in before if before[table] != after[table]
    }


def test_a_page_answers_the_error_page_and_writes_nothing(caplog):
    """Member 360's owner hand-off: the member's owner is updated and the change audited, then
    the hand-off's history row is refused."""
    tenant = make_tenant("drill-db-page", "Drill Database Page Society")
    member = MemberFactory(organization=tenant.organization, owner=tenant.msm)
    client = Client(raise_request_exception=False)
    client.force_login(tenant.msm.user)
    url = reverse(
        "members:owner_reassign",
        kwargs={"org_slug": tenant.organization.slug, "member_id": member.pk},
    )
    body = {"to_seat": tenant.admin.pk, "note": "Over to you"}
    before = row_counts()
    with refuse_inserts(OwnershipChange._meta.db_table):
        response = client.post(url, body, HTTP_HX_REQUEST="true")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "nothing was half-saved" in page
    assert "Traceback" not in page and "refuses inserts" not in page
    assert changed(before, row_counts()) == {}
    assert Member.objects.unscoped().get(pk=member.pk).owner_id == tenant.msm.pk
    assert "refuses inserts" in caplog.text  # the operator sees what failed

    # With the database healthy again, the same hand-off goes through.
    assert client.post(url, body, HTTP_HX_REQUEST="true").status_code == 200
    assert Member.objects.unscoped().get(pk=member.pk).owner_id == tenant.admin.pk


def test_an_api_call_answers_a_json_error_and_writes_nothing(api):
    """Creating a member with an owner: the member row is inserted (and audited), then the first
    entry of its ownership history is refused."""
    tenant = make_tenant("drill-db-api", "Drill Database API Society")
    client = api(tenant)
    client.raise_request_exception = False
    url = reverse("api:members-list")
    body = {"name": "Ada Lovelace", "owner": tenant.msm.pk}
    before = row_counts()
    with refuse_inserts(OwnershipChange._meta.db_table):
        response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="drill-1")
    # The database refused the write as a constraint would: the API answers a conflict.
    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert "refuses inserts" not in response.content.decode()
    assert changed(before, row_counts()) == {}
    assert not Member.objects.unscoped().filter(organization=tenant.organization).exists()

    # The integrator retries with the same idempotency key: the refusal was not kept under it
    # (it was, and replayed for 24 hours, before this drill), so the retry creates the member.
    retry = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="drill-1")
    assert retry.status_code == 201, retry.content
    member = Member.objects.unscoped().get(pk=retry.json()["id"])
    assert OwnershipChange.objects.unscoped().filter(member=member).count() == 1


def test_a_celery_task_rolls_back_and_marks_its_work_failed():
    """The CSV import task: the import is moved to done, then its members' bulk insert is
    refused. The task retries (a database error may pass), then gives up: the import says it
    failed, and no member of it exists."""
    tenant = make_tenant("drill-db-task", "Drill Database Task Society")
    member_import = MemberImport.objects.unscoped().create(
        organization=tenant.organization,
        file_name="members.csv",
        content="name,email\nAda Lovelace,ada@example.test\nGrace Hopper,grace@example.test\n",
        total_rows=2,
    )
    before = row_counts()
    kwargs = {"import_id": member_import.pk, "organization_id": tenant.organization.pk}
    with refuse_inserts(Member._meta.db_table):
        result = import_members.apply(kwargs=kwargs)
    assert result.failed()
    assert isinstance(result.result, DatabaseError)
    member_import.refresh_from_db()
    assert member_import.status == MemberImport.Status.FAILED
    assert "nothing of it was imported" in member_import.error
    assert member_import.created_count == 0
    assert changed(before, row_counts()) == {}
    assert not Member.objects.unscoped().filter(organization=tenant.organization).exists()
