"""The MSM's pages about members: My book and the member list (with CSV export)."""

from __future__ import annotations

import csv
import datetime as dt
import functools

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from engagement.forms import LogEngagementForm
from engagement.selectors import direction_mix
from engagement.services import engagement_record
from members.forms import MemberFilterForm
from members.member_page import header_context, member_page_context, timeline_context
from members.models import Member
from members.selectors import member_tiers, members_for_list
from outcomes.scoring import success_gaps_recompute
from tenancy.access import require_role
from tenancy.models import Seat

PAGE_SIZE = 25


def _filtered(request: HttpRequest, *, owner: Seat | None):
    form = MemberFilterForm(
        request.GET or None, tiers=member_tiers(organization=request.organization)
    )
    form.is_valid()
    members = members_for_list(organization=request.organization, owner=owner, **form.filters())
    return form, members


def _page(request: HttpRequest, members):
    return Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_safe
@require_role(Seat.Role.VIEWER)
def my_book(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The accounts I own, riskiest first, with my direction mix over the last 30 days."""
    form, members = _filtered(request, owner=request.seat)
    context = {"form": form, "page": _page(request, members), "query": _query_without_page(request)}
    if request.htmx:
        return render(request, "members/book.html#results", context)
    now = timezone.now()
    context["mix"] = direction_mix(
        organization=request.organization,
        seat=request.seat,
        since=now - dt.timedelta(days=30),
        until=now,
    )
    return render(request, "members/book.html", context)


@require_safe
@require_role(Seat.Role.VIEWER)
def member_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Every member of the organization, searchable, filterable, sortable, paginated."""
    form, members = _filtered(request, owner=None)
    context = {"form": form, "page": _page(request, members), "query": _query_without_page(request)}
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
    _, members = _filtered(request, owner=None)
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


def with_member(view):
    """Fetch the URL's member before anything else answers: the default manager is scoped to
    the request's organization, so another organization's id is a 404 whatever the method."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, member_id: int, **kwargs):
        member = get_object_or_404(Member.objects.select_related("owner__user"), pk=member_id)
        return view(request, org_slug, member, **kwargs)

    return wrapper


@require_role(Seat.Role.VIEWER)
@with_member
@require_safe
def member_detail(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Member 360: where the member stands, why, and what is happening with them."""
    context = member_page_context(organization=request.organization, member=member)
    context["engagement_form"] = LogEngagementForm()
    return render(request, "members/detail.html", context)


def _refresh_score(request: HttpRequest, member: Member) -> Member:
    """Score the member now, so the page shows the new gap at once (the debounced worker
    recompute scheduled by the change will find the same figures)."""
    success_gaps_recompute(organization=request.organization, member_ids=[member.pk])
    member.refresh_from_db()
    return member


@require_role(Seat.Role.MSM)
@with_member
@require_POST
def log_engagement(request: HttpRequest, org_slug: str, member: Member) -> HttpResponse:
    """Record an engagement; answer with the timeline (and the header, out of band)."""
    form = LogEngagementForm(request.POST)
    if form.is_valid():
        try:
            engagement_record(
                organization=request.organization,
                member=member,
                seat=request.seat,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
    if form.errors:
        if not request.htmx:  # without JavaScript: the whole page, errors in place
            context = member_page_context(organization=request.organization, member=member)
            context["engagement_form"] = form
            return render(request, "members/detail.html", context, status=400)
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
