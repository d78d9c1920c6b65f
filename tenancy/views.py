"""Pages of the tenancy app: choosing an organization and its first dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from tenancy.access import require_role
from tenancy.models import Seat
from tenancy.selectors import organization_team, seats_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send a user with one seat straight to My book; let a user with several choose."""
    seats = list(seats_for_user(user=request.user)[:2])
    if len(seats) == 1:
        return redirect("members:book", org_slug=seats[0].organization.slug)
    return redirect("tenancy:choose")


@login_required
def choose_organization(request: HttpRequest) -> HttpResponse:
    return render(request, "tenancy/choose.html", {"seats": seats_for_user(user=request.user)})


@require_safe
@require_role(Seat.Role.VIEWER)
def dashboard(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's home: who is on the team, and where to start."""
    team = list(organization_team(organization=request.organization))
    context = {
        "team": team,
        "role_counts": {
            role.label: sum(1 for seat in team if seat.role == role) for role in Seat.Role
        },
        "other_seats": seats_for_user(user=request.user).exclude(pk=request.seat.pk),
    }
    return render(request, "tenancy/dashboard.html", context)
