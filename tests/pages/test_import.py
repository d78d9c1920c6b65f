"""CSV import of members: upload checks, the worker's all-or-nothing run, the status page."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import imports
from members.imports import MAX_IMPORT_BYTES, member_import_create, member_import_run
from members.models import Member, MemberImport
from members.services import member_create
from members.tasks import import_members
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "name,email,external_id,tier,status,region,joined_on,renewal_on,kind\n"
    "Ada Lovelace,ada@example.test,M-1,Gold,Active,North,2023-02-01,2025-02-01,person\n"
    "Babbage Ltd,hello@babbage.test,M-2,Silver,,South,,,organization\n"
    "Grace Hopper,,,,grace,,2024-05-06,,\n"
)


def url(name: str, tenant, **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": tenant.organization.slug, **kwargs})


def upload(client, tenant, text: str | bytes, name: str = "members.csv", **extra):
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        url("members_extra:import", tenant),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        **extra,
    )


def members(tenant):
    return Member.objects.for_org(tenant.organization)


def imports_of(tenant):
    return MemberImport.objects.for_org(tenant.organization)


def run(member_import) -> str:
    """The worker's task, run as a function."""
    return import_members(import_id=member_import.pk, organization_id=member_import.organization_id)


def queued(tenant, text: str) -> MemberImport:
    return member_import_create(
        organization=tenant.organization,
        created_by=tenant.msm,
        file_name="members.csv",
        content=text.encode(),
    )


# --- the upload ------------------------------------------------------------------------------


def test_a_valid_file_is_queued_then_imported_whole_by_the_task(
    login, tenant_a, django_capture_on_commit_callbacks
):
    client = login(tenant_a.msm)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(client, tenant_a, GOOD)
    member_import = imports_of(tenant_a).get()
    assert response.status_code == 302
    assert response["Location"] == url(
        "members_extra:import_status", tenant_a, import_id=member_import.pk
    )
    assert len(callbacks) == 1  # the worker is asked once the upload has committed
    assert member_import.status == "queued" and member_import.total_rows == 3
    assert member_import.created_by == tenant_a.msm
    assert not members(tenant_a).exists()  # nothing before the worker runs

    assert run(member_import) == "done"

    member_import.refresh_from_db()
    assert member_import.status == "done"
    assert member_import.created_count == 3 and member_import.processed_rows == 3
    assert member_import.percent == 100 and member_import.finished_at is not None
    assert member_import.refused == [] and member_import.error == ""
    ada = members(tenant_a).get(external_id="M-1")
    assert (ada.name, ada.email, ada.tier, ada.status, ada.region, ada.kind) == (
        "Ada Lovelace",
        "ada@example.test",
        "Gold",
        "active",
        "North",
        "person",
    )
    assert ada.joined_on == dt.date(2023, 2, 1) and ada.renewal_on == dt.date(2025, 2, 1)
    babbage = members(tenant_a).get(external_id="M-2")
    assert babbage.kind == "organization" and babbage.status == "prospect"  # the default
    grace = members(tenant_a).get(name="Grace Hopper")
    assert grace.status == "grace" and grace.external_id == "" and grace.renewal_on is None


def test_the_status_page_polls_until_done_then_stops(login, tenant_a):
    member_import = queued(tenant_a, GOOD)
    client = login(tenant_a.msm)
    status_url = url("members_extra:import_status", tenant_a, import_id=member_import.pk)

    page = client.get(status_url).content.decode()
    assert "<html" in page and "<progress" in page and 'value="0"' in page
    assert 'hx-trigger="every 1s"' in page and f'hx-get="{status_url}"' in page
    assert f'href="{status_url}">Refresh</a>' in page  # without JavaScript

    fragment = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'hx-trigger="every 1s"' in fragment

    run(member_import)
    done = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in done
    assert 'value="100"' in done and "Imported 3 members" in done
    assert "hx-trigger" not in done and "Refresh" not in done  # polling stops


def test_one_bad_row_imports_nothing_and_the_report_names_the_row_and_field(login, tenant_a):
    text = GOOD + "Bad Email,not-an-email,M-9,,,,,,\n" + "Late Date,,,,,,2024-02-30,,\n"
    member_import = queued(tenant_a, text)
    assert run(member_import) == "failed"

    member_import.refresh_from_db()
    assert not members(tenant_a).exists()  # nothing half-imported
    assert member_import.status == "failed" and member_import.created_count == 0
    assert member_import.processed_rows == 5
    assert member_import.refused == [
        {"row": 5, "field": "email", "message": "Enter a valid email address."},
        {
            "row": 6,
            "field": "joined_on",
            "message": "'2024-02-30' is not a date; write it as YYYY-MM-DD.",
        },
    ]
    assert "2 of 5 rows were refused" in member_import.error
    page = (
        login(tenant_a.msm)
        .get(url("members_extra:import_status", tenant_a, import_id=member_import.pk))
        .content.decode()
    )
    assert "Refused rows" in page and "Enter a valid email address." in page
    assert "<td>5</td><td><code>email</code></td>" in page
    assert "nothing was imported" in page and "hx-trigger" not in page


def test_every_problem_of_a_row_is_reported(tenant_a):
    text = "name,email,status,kind,renewal_on\n,bad,sleeping,robot,03/04/2025\n"
    member_import = queued(tenant_a, text)
    run(member_import)
    member_import.refresh_from_db()
    assert {(p["row"], p["field"]) for p in member_import.refused} == {
        (2, "name"),
        (2, "email"),
        (2, "status"),
        (2, "kind"),
        (2, "renewal_on"),
    }
    messages = {p["field"]: p["message"] for p in member_import.refused}
    assert "use one of: prospect, active, grace, lapsed, cancelled" in messages["status"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", ""),
        ("name", "N" * 201),
        ("email", "not-an-email"),
        ("external_id", "X" * 101),
        ("tier", "T" * 61),
        ("region", "R" * 61),
        ("status", "sleeping"),
        ("kind", "robot"),
    ],
)
def test_rows_follow_the_rules_of_member_create(tenant_a, column, value):
    """The same value is refused, on the same field, by the import and by member_create."""
    fields = {"name": "Rule Check", "tier": "Gold", column: value}
    with pytest.raises(ValidationError) as refused:
        member_create(organization=tenant_a.organization, **fields)
    text = ",".join(fields) + "\n" + ",".join(fields.values()) + "\n"
    member_import = queued(tenant_a, text)
    run(member_import)
    member_import.refresh_from_db()
    assert {p["field"] for p in member_import.refused} == set(refused.value.message_dict)
    assert not members(tenant_a).exists()


def test_duplicate_external_ids_in_the_file_and_in_the_database_are_refused(tenant_a, tenant_b):
    MemberFactory(organization=tenant_a.organization, external_id="TAKEN-1")
    MemberFactory(organization=tenant_b.organization, external_id="OTHER-ORG")
    text = "external_id,name\nA-1,First\nTAKEN-1,Second\nA-1,Third\nOTHER-ORG,Fourth\n"
    member_import = queued(tenant_a, text)
    run(member_import)
    member_import.refresh_from_db()
    assert member_import.refused == [
        {
            "row": 3,
            "field": "external_id",
            "message": "Another member of this organization has this external id.",
        },
        {"row": 4, "field": "external_id", "message": "Row 2 has this external id too."},
    ]  # another organization's external id is no conflict
    assert members(tenant_a).count() == 1


def test_the_header_is_forgiving_about_case_order_blank_lines_and_a_byte_order_mark(tenant_a):
    text = "\ufeffExternal_ID , NAME\r\nE-1,Una\r\n\r\n,Duo\r\n"
    member_import = queued(tenant_a, text)
    assert member_import.total_rows == 2
    run(member_import)
    assert sorted(members(tenant_a).values_list("name", "external_id")) == [
        ("Duo", ""),
        ("Una", "E-1"),
    ]


def test_a_row_with_more_values_than_columns_is_refused(tenant_a):
    member_import = queued(tenant_a, "name,email\nOne,one@example.test,extra\n")
    run(member_import)
    member_import.refresh_from_db()
    assert member_import.refused[0]["field"] == "row" and member_import.refused[0]["row"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,phone,Fax\nAda,1,2\n", "Unknown columns: phone, fax."),
        (b"email\nada@example.test\n", "needs a column named name"),
        (b"name,name\nAda,Ada\n", "appear more than once: name"),
        (b"", "The submitted file is empty."),
        (b"\n\n", "This file is empty"),
        (b"name\n", "no rows of members"),
        (b"name\n\xff\xfe\n", "not UTF-8 text"),
        (b"name\nA\x00B\n", "not UTF-8 text"),
        (b"name\n" + b"x" * 200_000 + b"\n", "cannot be read as CSV"),
    ],
)
def test_a_bad_file_is_refused_at_upload_with_the_error_in_place(login, tenant_a, content, message):
    response = upload(login(tenant_a.msm), tenant_a, content)
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body and "field-error" in body
    assert not imports_of(tenant_a).exists()


def test_too_many_rows_are_refused(tenant_a, monkeypatch):
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 3)
    with pytest.raises(ValidationError) as refused:
        queued(tenant_a, "name\na\nb\nc\nd\n")
    assert "4 rows; we import at most 3" in refused.value.message_dict["file"][0]
    assert not imports_of(tenant_a).exists()


def test_a_file_over_5_mb_is_refused_by_the_page_and_by_the_service(login, tenant_a):
    big = b"name\n" + b"Ann Example\n" * (MAX_IMPORT_BYTES // 12 + 10)
    assert len(big) > MAX_IMPORT_BYTES
    response = upload(login(tenant_a.msm), tenant_a, big)
    assert response.status_code == 400
    assert "the largest file we import is 5 MB" in response.content.decode()
    with pytest.raises(ValidationError) as refused:
        member_import_create(
            organization=tenant_a.organization, created_by=None, file_name="big.csv", content=big
        )
    assert "the largest file we import is 5.0 MB" in refused.value.message_dict["file"][0]
    assert not imports_of(tenant_a).exists()


def test_the_upload_form_has_a_label_csrf_and_no_file_is_an_error(login, tenant_a):
    client = login(tenant_a.admin)
    page = client.get(url("members_extra:import", tenant_a)).content.decode()
    assert 'enctype="multipart/form-data"' in page and "csrfmiddlewaretoken" in page
    assert '<label for="id_file">CSV file</label>' in page
    response = client.post(url("members_extra:import", tenant_a), {})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


# --- the worker ------------------------------------------------------------------------------


def test_the_task_reports_progress_in_steps_and_keeps_queries_per_step(tenant_a, monkeypatch):
    monkeypatch.setattr(imports, "CHECK_STEP", 4)
    rows = "".join(f"Member {n},M-{n}\n" for n in range(10))
    member_import = queued(tenant_a, "name,external_id\n" + rows)
    with CaptureQueriesContext(connection) as queries:
        run(member_import)
    progress = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "members_memberimport" SET "processed_rows"')
    ]
    lookups = [q["sql"] for q in queries.captured_queries if '"external_id" IN' in q["sql"]]
    assert len(progress) == 3  # after rows 4 and 8, and at the end
    assert len(lookups) == 3  # the external ids of each step, checked against the database
    assert members(tenant_a).count() == 10


def test_the_task_runs_the_same_queries_for_10_and_100_rows(tenant_a):
    """Below one progress step, the queries besides the insert do not depend on the rows: no
    per-row query (the rows are validated in Python). The insert is one bulk statement per
    batch (SQLite's limit on query parameters makes its batches smaller)."""

    def queries(rows: int) -> int:
        lines = "".join(f"Member {n},Q{rows}-{n},1990-01-0{1 + n % 9}\n" for n in range(rows))
        member_import = queued(tenant_a, "name,external_id,joined_on\n" + lines)
        with CaptureQueriesContext(connection) as captured:
            assert run(member_import) == "done"
        inserts = [q for q in captured if q["sql"].startswith('INSERT INTO "members_member"')]
        assert len(inserts) <= 1 + rows // 50
        return len(captured) - len(inserts)

    assert queries(10) == queries(100)


def test_running_the_task_twice_imports_once(tenant_a):
    member_import = queued(tenant_a, GOOD)
    assert run(member_import) == "done"
    assert run(member_import) == "done"
    assert members(tenant_a).count() == 3


def test_a_second_run_cannot_finish_an_import_another_run_finished(tenant_a):
    member_import = queued(tenant_a, GOOD)
    imports_of(tenant_a).update(status="done")  # another worker got there first
    result = member_import_run(organization=tenant_a.organization, member_import=member_import)
    assert result.status == "done" and not members(tenant_a).exists()


def test_an_unexpected_error_marks_the_import_failed(tenant_a):
    member_import = MemberImport.objects.create(
        organization=tenant_a.organization,
        file_name="broken.csv",
        content="name\n" + "x" * 200_000 + "\n",  # past the csv module's field limit
        total_rows=1,
    )
    with pytest.raises(csv.Error):
        run(member_import)
    member_import.refresh_from_db()
    assert member_import.status == "failed" and "could not finish" in member_import.error
    assert not members(tenant_a).exists()


def test_a_missing_import_is_nothing_to_do(tenant_a):
    assert import_members(import_id=999_999, organization_id=tenant_a.organization.pk) == "missing"


# --- who may import --------------------------------------------------------------------------


def test_a_viewer_can_neither_see_nor_upload(login, tenant_a):
    member_import = queued(tenant_a, GOOD)
    client = login(tenant_a.viewer)
    assert client.get(url("members_extra:import", tenant_a)).status_code == 403
    assert upload(client, tenant_a, GOOD).status_code == 403
    status_url = url("members_extra:import_status", tenant_a, import_id=member_import.pk)
    assert client.get(status_url).status_code == 403
    assert imports_of(tenant_a).count() == 1
    assert not members(tenant_a).exists()
    dashboard = client.get(url("tenancy:dashboard", tenant_a)).content.decode()
    assert url("members_extra:import", tenant_a) not in dashboard  # no link to a closed door


def test_the_member_list_links_to_the_import_for_those_who_may_import(login, tenant_a):
    link = f'href="{url("members_extra:import", tenant_a)}"'
    assert link in login(tenant_a.msm).get(url("members:list", tenant_a)).content.decode()
    assert link not in login(tenant_a.viewer).get(url("members:list", tenant_a)).content.decode()


def test_another_organizations_import_is_not_found(login, tenant_a, tenant_b):
    theirs = queued(tenant_b, GOOD)
    response = login(tenant_a.admin).get(
        url("members_extra:import_status", tenant_a, import_id=theirs.pk)
    )
    assert response.status_code == 404
    assert "members.csv" not in response.content.decode()


def test_the_import_page_lists_recent_imports_paginated(login, tenant_a, tenant_b):
    for n in range(12):
        MemberImport.objects.create(
            organization=tenant_a.organization, file_name=f"batch-{n:02}.csv", content="name\n"
        )
    MemberImport.objects.create(
        organization=tenant_b.organization, file_name="theirs.csv", content="name\n"
    )
    client = login(tenant_a.msm)
    first = client.get(url("members_extra:import", tenant_a)).content.decode()
    assert "batch-11.csv" in first and "Page 1 of 2" in first and "theirs.csv" not in first
    second = client.get(url("members_extra:import", tenant_a) + "?page=2").content.decode()
    assert "batch-00.csv" in second


def test_pages_use_a_constant_number_of_queries(login, tenant_a):
    """The import list (5 vs 50 imports) and a status page (5 vs 50 refused rows)."""
    client = login(tenant_a.msm)

    def counts(rows: int) -> tuple[int, int]:
        for n in range(rows - imports_of(tenant_a).count()):
            MemberImport.objects.create(
                organization=tenant_a.organization,
                file_name=f"f{n}.csv",
                content="name\n",
                created_by=tenant_a.msm,
            )
        bad = queued(tenant_a, "name,email\n" + "".join(f"N{n},bad\n" for n in range(rows)))
        run(bad)
        bad.refresh_from_db()
        assert len(bad.refused) == rows
        with CaptureQueriesContext(connection) as listing:
            assert client.get(url("members_extra:import", tenant_a)).status_code == 200
        status_url = url("members_extra:import_status", tenant_a, import_id=bad.pk)
        with CaptureQueriesContext(connection) as status:
            assert client.get(status_url).status_code == 200
        return len(listing), len(status)

    assert counts(5) == counts(50)
