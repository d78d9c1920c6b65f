"""The portfolio page: how the whole organization is doing, for admins and team leads (and
read-only for everyone with a seat)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from engagement.selectors import direction_mix_by_seat
from members.portfolio import experience_fulfilment_by_organization
from members.selectors import portfolio_results, results_by_band
from orchestration.selectors import anticipation_rate, anticipation_rate_by_seat
from outcomes.models import Band
from tenancy.access import require_role
from tenancy.models import Organization, Seat

ANTICIPATION_DAYS = 90
MIX_DAYS = 30
TEAM_PAGE_SIZE = 25
# Seats that work accounts; a viewer logs no engagement and owns no account.
WORKING_ROLES = (Seat.Role.ADMIN, Seat.Role.MSM)


def band_label(band: str) -> str:
    return Band(band).label if band in Band.values else "Not scored"


def _bands(organization: Organization) -> list[dict[str, Any]]:
    rows = results_by_band(organization=organization)
    total = sum(row["members"] for row in rows)
    return [
        {
            **row,
            "label": band_label(row["band"]),
            "share": row["members"] / total if total else None,
            "css": f"bar-{row['band'] or 'none'}",
        }
        for row in rows
    ]


def _team(organization: Organization, now: dt.datetime) -> list[dict[str, Any]]:
    """Each working seat's direction mix (30 days) and anticipation rate (90 days)."""
    mixes = direction_mix_by_seat(
        organization=organization, since=now - dt.timedelta(days=MIX_DAYS), until=now
    )
    anticipation = {
        row["seat_id"]: row
        for row in anticipation_rate_by_seat(
            organization=organization,
            since=now - dt.timedelta(days=ANTICIPATION_DAYS),
            until=now,
        )
    }
    return [
        {**row, "anticipation": anticipation.get(row["seat"].pk)}
        for row in mixes
        if row["seat"].role in WORKING_ROLES
    ]


@require_safe
@require_role(Seat.Role.VIEWER)
def portfolio(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Gap distribution, results by band, anticipation, direction mix per seat, AX fulfilment."""
    organization = request.organization
    now = timezone.now()
    bands = _bands(organization)
    context = {
        "totals": portfolio_results(organization=organization),
        "bands": bands,
        "gap_chart": [(row["label"], row["members"], row["css"]) for row in bands],
        "renewal_chart": [(row["label"], row["renewal_rate"], row["css"]) for row in bands],
        "anticipation": anticipation_rate(
            organization=organization,
            since=now - dt.timedelta(days=ANTICIPATION_DAYS),
            until=now,
        ),
        "anticipation_days": ANTICIPATION_DAYS,
        "mix_days": MIX_DAYS,
        "experience": experience_fulfilment_by_organization(organization=organization),
        "team": Paginator(_team(organization, now), TEAM_PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
    }
    return render(request, "members/portfolio.html", context)
