"""MSM tasks: made by hand under the rules (an owner who works accounts, a title, a due day),
completed, reopened, reassigned; a seat's list split into overdue, today and upcoming, and a
member's tasks, each in one query whatever the number of tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orchestration.models import Task
from orchestration.tasks_services import (
    member_tasks,
    task_complete,
    task_create,
    task_reassign,
    task_reopen,
    tasks_for_seat,
)
from tests.factories import MemberFactory, SeatFactory, TaskFactory

TODAY = dt.date(2030, 6, 15)


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)


def test_create_gives_the_task_to_the_owner_given(tenant_a, member):
    task = task_create(
        organization=tenant_a.organization,
        member=member,
        title="  Prepare the renewal call ",
        due_on=TODAY,
        owner=tenant_a.admin,
        notes=" Bring the usage figures ",
    )
    stored = Task.objects.for_org(tenant_a.organization).get(pk=task.pk)
    assert (stored.owner, stored.member, stored.title, stored.notes, stored.due_on) == (
        tenant_a.admin,
        member,
        "Prepare the renewal call",
        "Bring the usage figures",
        TODAY,
    )
    assert stored.done_at is None and stored.enrollment is None


def test_create_without_owner_goes_to_the_members_owner(tenant_a, member):
    task = task_create(
        organization=tenant_a.organization, member=member, title="Call", due_on=TODAY
    )
    assert task.owner == tenant_a.msm


@pytest.mark.parametrize("members_owner", ["viewer", None])
def test_create_without_owner_is_unassigned_when_the_owner_cannot_work_it(tenant_a, members_owner):
    member = MemberFactory(
        organization=tenant_a.organization,
        owner=tenant_a.seat(members_owner) if members_owner else None,
    )
    task = task_create(
        organization=tenant_a.organization, member=member, title="Call", due_on=TODAY
    )
    assert task.owner is None


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({"due_on": None}, "due_on"),
        ({"due_on": "2030-06-15"}, "due_on"),
        ({"due_on": dt.datetime(2030, 6, 15, 9, tzinfo=dt.UTC)}, "due_on"),
        ({"owner": "viewer"}, "owner"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(tenant_a, member, arguments, field):
    if arguments.get("owner") == "viewer":
        arguments = {"owner": tenant_a.viewer}
    with pytest.raises(ValidationError) as error:
        task_create(
            organization=tenant_a.organization,
            member=member,
            **{"title": "Call", "due_on": TODAY, **arguments},
        )
    assert field in error.value.message_dict
    assert not Task.objects.unscoped().exists()


def test_create_refuses_another_organizations_member_or_seat(tenant_a, tenant_b, member):
    stranger = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as error:
        task_create(organization=tenant_a.organization, member=stranger, title="x", due_on=TODAY)
    assert "member" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        task_create(
            organization=tenant_a.organization,
            member=member,
            title="x",
            due_on=TODAY,
            owner=tenant_b.msm,
        )
    assert "owner" in error.value.message_dict
    assert not Task.objects.unscoped().exists()


def test_complete_keeps_the_first_completion_and_reopen_clears_it(tenant_a, member):
    organization = tenant_a.organization
    task = TaskFactory(member=member, owner=tenant_a.msm)
    when = timezone.now() - dt.timedelta(hours=2)
    assert task_complete(organization=organization, task=task, at=when).done_at == when
    assert task_complete(organization=organization, task=task).done_at == when
    assert Task.objects.for_org(organization).get(pk=task.pk).done_at == when
    assert task_reopen(organization=organization, task=task).done_at is None
    assert Task.objects.for_org(organization).get(pk=task.pk).done_at is None
    assert task_reopen(organization=organization, task=task).done_at is None


@pytest.mark.parametrize(
    "at",
    [
        timezone.now() + dt.timedelta(days=1),
        dt.datetime(2030, 1, 1, 9),  # naive
        dt.date(2030, 1, 1),
    ],
)
def test_complete_refuses_a_bad_time(tenant_a, member, at):
    task = TaskFactory(member=member)
    with pytest.raises(ValidationError) as error:
        task_complete(organization=tenant_a.organization, task=task, at=at)
    assert "at" in error.value.message_dict
    assert Task.objects.unscoped().get(pk=task.pk).done_at is None


def test_reassign_hands_the_task_over_or_unassigns_it(tenant_a, member):
    task = TaskFactory(member=member, owner=tenant_a.msm)
    task_reassign(organization=tenant_a.organization, task=task, owner=tenant_a.admin)
    assert Task.objects.unscoped().get(pk=task.pk).owner == tenant_a.admin
    task_reassign(organization=tenant_a.organization, task=task, owner=None)
    assert Task.objects.unscoped().get(pk=task.pk).owner is None


def test_reassign_refuses_a_viewer_or_another_organizations_seat(tenant_a, tenant_b, member):
    task = TaskFactory(member=member, owner=tenant_a.msm)
    for owner in (tenant_a.viewer, tenant_b.msm):
        with pytest.raises(ValidationError) as error:
            task_reassign(organization=tenant_a.organization, task=task, owner=owner)
        assert "owner" in error.value.message_dict
    assert Task.objects.unscoped().get(pk=task.pk).owner == tenant_a.msm


def test_services_refuse_another_organizations_task(tenant_a, tenant_b):
    task = TaskFactory(member__organization=tenant_b.organization)
    for service in (task_complete, task_reopen):
        with pytest.raises(ValidationError) as error:
            service(organization=tenant_a.organization, task=task)
        assert "task" in error.value.message_dict
    with pytest.raises(ValidationError):
        task_reassign(organization=tenant_a.organization, task=task, owner=None)
    assert Task.objects.unscoped().get(pk=task.pk).done_at is None


# --- reads ---------------------------------------------------------------------------------


def _task(member, seat, days: int, **fields) -> Task:
    return TaskFactory(
        member=member, owner=seat, due_on=TODAY + dt.timedelta(days=days), title=f"{days}", **fields
    )


def test_tasks_for_seat_splits_open_tasks_by_due_day(tenant_a, tenant_b, member):
    seat = tenant_a.msm
    late, older = _task(member, seat, -1), _task(member, seat, -10)
    due_today = _task(member, seat, 0)
    soon, edge = _task(member, seat, 3), _task(member, seat, 14)
    _task(member, seat, 15)  # beyond the upcoming window
    _task(member, seat, -2, done_at=timezone.now())  # done
    _task(member, tenant_a.admin, 0)  # someone else's
    TaskFactory(member__organization=tenant_b.organization, due_on=TODAY)
    grouped = tasks_for_seat(organization=tenant_a.organization, seat=seat, today=TODAY)
    assert grouped == {"overdue": [older, late], "today": [due_today], "upcoming": [soon, edge]}


def test_tasks_for_seat_defaults_to_the_organizations_today(tenant_a, member):
    today = timezone.localdate(timezone=tenant_a.organization.zone)
    task = TaskFactory(member=member, owner=tenant_a.msm, due_on=today)
    grouped = tasks_for_seat(organization=tenant_a.organization, seat=tenant_a.msm)
    assert grouped["today"] == [task]


def test_tasks_for_seat_refuses_another_organizations_seat(tenant_a, tenant_b):
    with pytest.raises(ValidationError) as error:
        tasks_for_seat(organization=tenant_a.organization, seat=tenant_b.msm)
    assert "seat" in error.value.message_dict


def test_member_tasks_lists_open_tasks_first_then_the_latest_done(tenant_a, tenant_b, member):
    open_late = _task(member, tenant_a.msm, 5)
    open_soon = _task(member, None, 1)
    done_early = _task(member, tenant_a.msm, 0, done_at=timezone.now() - dt.timedelta(days=3))
    done_late = _task(member, tenant_a.msm, -4, done_at=timezone.now())
    _task(MemberFactory(organization=tenant_a.organization), tenant_a.msm, 0)
    assert list(member_tasks(organization=tenant_a.organization, member=member)) == [
        open_soon,
        open_late,
        done_late,
        done_early,
    ]
    with pytest.raises(ValidationError):
        member_tasks(
            organization=tenant_a.organization,
            member=MemberFactory(organization=tenant_b.organization),
        )


def _queries(read) -> int:
    with CaptureQueriesContext(connection) as context:
        read()
    return len(context.captured_queries)


@pytest.mark.parametrize("count", [5, 50])
def test_reads_take_one_query_whatever_the_number_of_tasks(tenant_a, count):
    organization, seat = tenant_a.organization, tenant_a.msm
    member = MemberFactory(organization=organization, owner=seat)
    for index in range(count):
        _task(MemberFactory(organization=organization), seat, index % 20 - 10)
        _task(member, seat if index % 2 else None, index % 20 - 10)

    def read_seat() -> None:
        grouped = tasks_for_seat(organization=organization, seat=seat, today=TODAY)
        assert sum(len(tasks) for tasks in grouped.values()) > 0
        [task.member.name for tasks in grouped.values() for task in tasks]

    def read_member() -> None:
        tasks = list(member_tasks(organization=organization, member=member))
        assert len(tasks) == count
        [task.owner.user.email for task in tasks if task.owner]

    assert _queries(read_seat) == 1
    assert _queries(read_member) == 1


def test_a_seat_of_another_role_can_still_be_listed(tenant_a):
    # A viewer never gets tasks, so their list is simply empty (not an error).
    seat = SeatFactory(organization=tenant_a.organization, role="viewer")
    grouped = tasks_for_seat(organization=tenant_a.organization, seat=seat, today=TODAY)
    assert grouped == {"overdue": [], "today": [], "upcoming": []}
