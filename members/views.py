"""The MSM's pages about members: My book (with today's tasks and this week's events), the
member list (with CSV export) and Member 360 with its inline actions."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from engagement.forms import LogEngagementForm
from engagement.selectors import direction_mix
from engagement.services import engagement_record
from members.forms import MemberFilterForm
from members.list_filters import filter_fields
from members.member_page import (
    PAGED_SECTIONS,
    Bound,
    action_errors,
    header_context,
    member_page_context,
    section_context,
    timeline_context,
)
from members.models import Member
from members.selectors import member_table_page, member_tiers, members_for_list
from members.services import member_assign_owner
from members.table_rows import member_table_rows
from members.widget_html import PLAIN_WIDGETS
from milestones.models import Commitment, ProgressMilestone
from milestones.services import (
    commitment_complete,
    commitment_reopen,
    milestone_achieve,
    milestone_reopen,
)
from ops.prepared import PreparedRead
from orchestration.forms import OwnerReassignForm
from orchestration.models import Task
from orchestration.selectors import events_to_announce_or_confirm_page
from orchestration.tasks_services import task_complete, task_reopen, tasks_for_seat
from outcomes.forms import ConditionAssessForm, DesiredOutcomeForm, GoalForm, GoalProgressForm
from outcomes.models import Condition, DesiredOutcome, Goal
from outcomes.scoring import success_gaps_recompute
from outcomes.services import (
    condition_assess,
    desired_outcome_create,
    goal_create,
    goal_record_progress,
)
from tenancy.access import require_role
from tenancy.models import Seat
from tenancy.selectors import organization_team, organization_today

PAGE_SIZE = 25


def _filter_form(request: HttpRequest) -> MemberFilterForm:
    """The filters of the book and the list, validated (invalid values are ignored and shown)."""
    form = MemberFilterForm(
        request.GET or None, tiers=member_tiers(organization=request.organization)
    )
    form.is_valid()
    return form


def _table(request: HttpRequest, *, owner: Seat | None) -> dict[str, Any]:
    """The filters (their fields written by ``members.list_filters``) and the members table's
    context: the page (its count and links), the page's rows written in Python from the few
    columns they show (``members.table_rows``), and the query string the page links start
    from."""
    form = _filter_form(request)
    page = member_table_page(
        organization=request.organization,
        owner=owner,
        number=request.GET.get("page"),
        per_page=PAGE_SIZE,
        **form.filters(),
    )
    return {
        "form": form,
        # Written when the template shows the filters (not in an htmx answer of the table).
        "filter_fields": functools.partial(filter_fields, form),
        "page": page,
        "member_rows": member_table_rows(page.object_list, organization=request.organization),
        "query": _query_without_page(request),
    }


def _query_without(request: HttpRequest, *names: str) -> str:
    """The query string without the named parameters (page links add their own)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _query_without_page(request: HttpRequest) -> str:
    return _query_without(request, "page")


BOOK_PANEL_SIZE = 10


def _book_tasks(request: HttpRequest, *, bound: Bound | None = None) -> dict[str, Any]:
    """My open tasks due today or overdue (oldest first), a page at a time."""
    tasks = tasks_for_seat(organization=request.organization, seat=request.seat, upcoming_days=0)
    page = Paginator(tasks["overdue"] + tasks["today"], BOOK_PANEL_SIZE).get_page(
        request.GET.get("tasks_page")
    )
    for task in page.object_list:
        task.action_errors = action_errors(bound, f"task-{task.pk}")
    return {
        "tasks_page": page,
        "today": organization_today(request.organization),
        "tasks_query": _query_without(request, "tasks_page", "panel"),
    }


def _book_events(request: HttpRequest) -> dict[str, Any]:
    """The events of my members to announce or to have confirmed this week."""
    page = events_to_announce_or_confirm_page(
        organization=request.organization,
        owner=request.seat,
        number=request.GET.get("events_page"),
        per_page=BOOK_PANEL_SIZE,
    )
    return {
        "events_page": page,
        "events_query": _query_without(request, "events_page", "panel"),
    }


# The side panels of My book an htmx page link re-renders alone (``?panel=…``).
BOOK_PANELS: dict[str, Callable[[HttpRequest], dict[str, Any]]] = {
    "tasks": _book_tasks,
    "events": _book_events,
}


def _mix_parts(mix: dict[str, Any]) -> list[tuple[str, float, str]]:
    """The direction mix as the parts of the shared bar (name, share, css class)."""
    return [
        (part["label"], float(part["share"]), f"mix-{key}")
        for key, part in mix["directions"].items()
    ]


def _book(request: HttpRequest, *, bound: Bound | None = None, status: int = 200) -> HttpResponse:
    context = _table(request, owner=request.seat)
    if request.htmx and request.method == "GET":
        return render(request, "members/book.html#results", context)
    now = timezone.now()
    mix = direction_mix(
        organization=request.organization,
        seat=request.seat,
        since=now - dt.timedelta(days=30),
        until=now,
    )
    context.update(mix=mix, mix_parts=_mix_parts(mix), **_book_events(request))
    context.update(_book_tasks(request, bound=bound))
    return render(request, "members/book.html", context, status=status)


@require_safe
@require_role(Seat.Role.VIEWER)
def my_book(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The accounts I own, riskiest first; my tasks for today and overdue; the events of my
    members to announce or confirm this week; my direction mix over the last 30 days."""
    panel = request.GET.get("panel")
    if request.htmx and panel in BOOK_PANELS:
        return render(request, f"members/book.html#{panel}_panel", BOOK_PANELS[panel](request))
    return _book(request)


@require_safe
@require_role(Seat.Role.VIEWER)
def member_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Every member of the organization, searchable, filterable, sortable, paginated."""
    context = _table(request, owner=None)
    template = "members/list.html#results" if request.htmx else "members/list.html"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = [
    "id",
    "external_id",
    "name",
    "email",
    "tier",
    "status",
    "region",
    "joined_on",
    "renewal_on",
    "owner",
    "band",
    "gap",
]


@require_safe
@require_role(Seat.Role.VIEWER)
def member_export(request: HttpRequest, org_slug: str) -> StreamingHttpResponse:
    """The filtered member list as CSV, streamed in chunks (one query per 2,000 rows)."""
    members = members_for_list(
        organization=request.organization, owner=None, **_filter_form(request).filters()
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for m in members.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    m.pk,
                    m.external_id,
                    m.name,
                    m.email,
                    m.tier,
                    m.status,
                    m.region,
                    m.joined_on or "",
                    m.renewal_on or "",
                    m.owner.user.email if m.owner else "",
                    m.success_band,
                    "" if m.success_gap is None else f"{m.success_gap:.1f}",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.organization.slug}-members.csv"'
    )
    return response


def with_row(model: type[models.Model], url_kwarg: str, *related: str) -> Callable:
    """Fetch the URL's row before anything else answers, within the request's organization,
    so another organization's id is a 404 whatever the method. The read is compiled once per
    connection (``PreparedRead``): Member 360 and every member action start with it."""

    def build(*, organization_id: int, pk: int) -> QuerySet:
        return model.objects.for_org(organization_id).select_related(*related).filter(pk=pk)

    read = PreparedRead(build, organization_id=int, pk=int)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, **kwargs: Any) -> HttpResponse:
            pk = kwargs.pop(url_kwarg)
            row = read.first(organization_id=request.organization.pk, pk=pk)
            if row is None:
                raise Http404(f"No {model._meta.verbose_name} matches the given query.")
            return view(request, org_slug, row, **kwargs)

        return wrapper

    return decorator


with_member = with_row(Member, "member_id", "owner__user")


def _paging(request: HttpRequest) -> dict[str, str]:
    """For each paginated section, the query string its page links start from."""
    return {
        f"{section}_query": _query_without(request, f"{section}_page", "section")
        for section in PAGED_SECTIONS
    }


def _member_page(
    request: HttpRequest,
    member: Member,
    *,
    bound: Bound | None = None,
    engagement_form: LogEngagementForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = member_page_context(
        organization=request.organization, member=member, bound=bound, params=request.GET
    )
    context.update(
        engagement_form=engagement_form or LogEngagementForm(renderer=PLAIN_WIDGETS),
        **_paging(request),
    )
    return render(request, "members/detail.html", context, status=status)


def _sections(
    request: HttpRequest,
    member: Member,
    sections: Iterable[str],
    *,
    oob: Iterable[str] = (),
    bound: Bound | None = None,
) -> HttpResponse:
    """The partials of ``sections`` in place, then those of ``oob`` swapped out of band."""
    html = ""
    for names, out_of_band in ((sections, False), (oob, True)):
        for section in names:
            context = section_context(
                section,
                organization=request.organization,
                member=member,
                bound=bound,
                params=request.GET,
            )
            context.update(oob=out_of_band, **_paging(request))
            html += render_to_string(f"members/detail.html#{section}", context, request=request)
    return HttpResponse(html)


@require_role(Seat.Role.VIEWER)
@with_member
@require_safe
def member_detail(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Member 360: where the member stands, why, and what is happening with them. A page link
    of a paginated section (``?section=tasks&tasks_page=2``) answers that section alone."""
    section = request.GET.get("section")
    if request.htmx and section in PAGED_SECTIONS:
        return _sections(request, member, [section])
    return _member_page(request, member)


def _refresh_score(request: HttpRequest, member: Member) -> Member:
    """Score the member now, so the page shows the new gap at once (the debounced worker
    recompute scheduled by the change will find the same figures)."""
    success_gaps_recompute(organization=request.organization, member_ids=[member.pk])
    return Member.objects.select_related("owner__user").get(pk=member.pk)


def _add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's field-keyed errors under the form's fields (renamed where the form says
    so); the others above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    renamed = getattr(form, "ERROR_FIELDS", {})
    for field, messages in error.message_dict.items():
        field = renamed.get(field, field)
        form.add_error(field if field in form.fields else None, messages)


def _write(form: forms.Form, write: Callable[[], object]) -> bool:
    """Run the write when the form is valid; True when it was written."""
    if form.is_valid():
        try:
            write()
        except ValidationError as error:
            _add_service_errors(form, error)
    return not form.errors


def _member_action(
    request: HttpRequest,
    member: Member,
    *,
    section: str,
    key: str,
    form: forms.Form,
    write: Callable[[], object],
    oob: Iterable[str] = ("header",),
) -> HttpResponse:
    """How every inline action of Member 360 answers.

    Valid and written: the member is scored at once; htmx gets the section again with the
    header (the new gap) out of band, a plain form a redirect back to the section. Refused:
    the form comes back in place with its errors — the section alone for htmx (200), the whole
    page without JavaScript (400). The services are atomic, so a refusal wrote nothing.
    """
    if not _write(form, write):
        bound = {key: form}
        if not request.htmx:
            return _member_page(request, member, bound=bound, status=400)
        return _sections(request, member, [section], bound=bound)
    member = _refresh_score(request, member)
    if not request.htmx:
        url = reverse(
            "members:detail", kwargs={"org_slug": request.organization.slug, "member_id": member.pk}
        )
        return redirect(f"{url}#{section}")
    return _sections(request, member, [section], oob=oob)


# --- milestones and commitments -----------------------------------------------------------------


@require_role(Seat.Role.MSM)
@with_row(ProgressMilestone, "milestone_id", "member__owner__user")
@require_POST
def milestone_achieve_view(
    request: HttpRequest, org_slug: str, milestone: ProgressMilestone
) -> HttpResponse:
    """Mark a milestone achieved by hand."""
    return _member_action(
        request,
        milestone.member,
        section="milestones",
        key=f"milestone-{milestone.pk}",
        form=forms.Form(request.POST),
        write=lambda: milestone_achieve(
            organization=request.organization,
            milestone=milestone,
            via=ProgressMilestone.Via.MANUAL,
        ),
    )


@require_role(Seat.Role.MSM)
@with_row(ProgressMilestone, "milestone_id", "member__owner__user")
@require_POST
def milestone_reopen_view(
    request: HttpRequest, org_slug: str, milestone: ProgressMilestone
) -> HttpResponse:
    """Take back an achievement marked by mistake."""
    return _member_action(
        request,
        milestone.member,
        section="milestones",
        key=f"milestone-{milestone.pk}",
        form=forms.Form(request.POST),
        write=lambda: milestone_reopen(organization=request.organization, milestone=milestone),
    )


@require_role(Seat.Role.MSM)
@with_row(Commitment, "commitment_id", "member__owner__user")
@require_POST
def commitment_complete_view(
    request: HttpRequest, org_slug: str, commitment: Commitment
) -> HttpResponse:
    """Tick a commitment of the joint-accountability plan."""
    return _member_action(
        request,
        commitment.member,
        section="plan",
        key=f"commitment-{commitment.pk}",
        form=forms.Form(request.POST),
        write=lambda: commitment_complete(organization=request.organization, commitment=commitment),
    )


@require_role(Seat.Role.MSM)
@with_row(Commitment, "commitment_id", "member__owner__user")
@require_POST
def commitment_reopen_view(
    request: HttpRequest, org_slug: str, commitment: Commitment
) -> HttpResponse:
    """Untick a commitment ticked by mistake."""
    return _member_action(
        request,
        commitment.member,
        section="plan",
        key=f"commitment-{commitment.pk}",
        form=forms.Form(request.POST),
        write=lambda: commitment_reopen(organization=request.organization, commitment=commitment),
    )


# --- desired outcomes, goals and conditions -------------------------------------------------------

# A change to goals or conditions can close a goal, which leaves the accountability board.
OUTCOME_OOB = ("plan", "header")


@require_role(Seat.Role.MSM)
@with_member
@require_POST
def outcome_create_view(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Open a desired outcome for the member."""
    form = DesiredOutcomeForm(request.POST, auto_id="id_outcome_%s")
    return _member_action(
        request,
        member,
        section="outcomes",
        key="outcome",
        form=form,
        write=lambda: desired_outcome_create(
            organization=request.organization, member=member, **form.cleaned_data
        ),
    )


@require_role(Seat.Role.MSM)
@with_row(DesiredOutcome, "outcome_id", "member__owner__user")
@require_POST
def goal_create_view(request: HttpRequest, org_slug: str, outcome: DesiredOutcome) -> HttpResponse:
    """Set a goal in a desired outcome; no time frame, no goal (the service says so)."""
    key = f"goal-{outcome.pk}"
    form = GoalForm(request.POST, auto_id=f"id_{key}_%s")
    return _member_action(
        request,
        outcome.member,
        section="outcomes",
        key=key,
        form=form,
        write=lambda: goal_create(
            organization=request.organization, desired_outcome=outcome, **form.goal_kwargs()
        ),
        oob=OUTCOME_OOB,
    )


@require_role(Seat.Role.MSM)
@with_row(Goal, "goal_id", "member__owner__user")
@require_POST
def goal_progress_view(request: HttpRequest, org_slug: str, goal: Goal) -> HttpResponse:
    """Record a new value of a measurable goal's metric."""
    key = f"progress-{goal.pk}"
    form = GoalProgressForm(request.POST, auto_id=f"id_{key}_%s")
    return _member_action(
        request,
        goal.member,
        section="outcomes",
        key=key,
        form=form,
        write=lambda: goal_record_progress(
            organization=request.organization, goal=goal, value=form.cleaned_data["value"]
        ),
        oob=OUTCOME_OOB,
    )


@require_role(Seat.Role.MSM)
@with_row(Condition, "condition_id", "goal__member__owner__user")
@require_POST
def condition_assess_view(
    request: HttpRequest, org_slug: str, condition: Condition
) -> HttpResponse:
    """Record a condition as met or not met (a measurable one by the value observed)."""
    key = f"condition-{condition.pk}"
    form = ConditionAssessForm(request.POST, auto_id=f"id_{key}_%s")
    return _member_action(
        request,
        condition.goal.member,
        section="outcomes",
        key=key,
        form=form,
        write=lambda: condition_assess(
            organization=request.organization, condition=condition, **form.assess_kwargs()
        ),
        oob=OUTCOME_OOB,
    )


# --- ownership ---------------------------------------------------------------------------------


@require_role(Seat.Role.MSM)
@with_member
@require_POST
def owner_reassign_view(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Hand the account to another MSM or admin, with a note for them."""
    form = OwnerReassignForm(
        request.POST, seats=organization_team(organization=request.organization)
    )
    return _member_action(
        request,
        member,
        section="ownership",
        key="owner",
        form=form,
        write=lambda: member_assign_owner(
            organization=request.organization,
            member=member,
            to_seat=form.cleaned_data["to_seat"],
            changed_by=request.seat,
            note=form.cleaned_data["note"],
        ),
    )


# --- tasks -------------------------------------------------------------------------------------


def _task_action(request: HttpRequest, task: Task, write: Callable[[], object]) -> HttpResponse:
    """A task is ticked from Member 360 or from My book's panel (``from=book``); each answers
    with its own part of the page."""
    if request.POST.get("from") != "book":
        return _member_action(
            request,
            task.member,
            section="tasks",
            key=f"task-{task.pk}",
            form=forms.Form(request.POST),
            write=write,
        )
    form = forms.Form(request.POST)
    if not _write(form, write):
        bound = {f"task-{task.pk}": form}
        if not request.htmx:
            return _book(request, bound=bound, status=400)
        return render(request, "members/book.html#tasks_panel", _book_tasks(request, bound=bound))
    _refresh_score(request, task.member)
    if not request.htmx:
        return redirect("members:book", org_slug=request.organization.slug)
    context = {**_book_tasks(request), "changed_task": task}
    return render(request, "members/book.html#tasks_panel", context)


@require_role(Seat.Role.MSM)
@with_row(Task, "task_id", "member__owner__user")
@require_POST
def task_complete_view(request: HttpRequest, org_slug: str, task: Task) -> HttpResponse:
    """Tick a task done."""
    return _task_action(
        request, task, lambda: task_complete(organization=request.organization, task=task)
    )


@require_role(Seat.Role.MSM)
@with_row(Task, "task_id", "member__owner__user")
@require_POST
def task_reopen_view(request: HttpRequest, org_slug: str, task: Task) -> HttpResponse:
    """Put a task ticked by mistake back on the list."""
    return _task_action(
        request, task, lambda: task_reopen(organization=request.organization, task=task)
    )


@require_role(Seat.Role.MSM)
@with_member
@require_POST
def log_engagement(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Record an engagement; answer with the timeline (and the header, out of band)."""
    form = LogEngagementForm(request.POST)
    written = _write(
        form,
        lambda: engagement_record(
            organization=request.organization,
            member=member,
            seat=request.seat,
            **form.cleaned_data,
        ),
    )
    if not written:
        if not request.htmx:  # without JavaScript: the whole page, errors in place
            return _member_page(request, member, engagement_form=form, status=400)
        context = {
            "member": member,
            "engagement_form": form,
            **timeline_context(organization=request.organization, member=member),
        }
        return render(request, "members/detail.html#timeline", context)
    member = _refresh_score(request, member)
    if not request.htmx:
        return redirect("members:detail", org_slug=org_slug, member_id=member.pk)
    context = {
        "engagement_form": LogEngagementForm(),
        "oob": True,
        **header_context(organization=request.organization, member=member),
        **timeline_context(organization=request.organization, member=member),
    }
    # The new timeline in place, and the header (with the new gap) swapped out of band.
    html = render_to_string("members/detail.html#timeline", context, request=request)
    html += render_to_string("members/detail.html#header", context, request=request)
    return HttpResponse(html)
