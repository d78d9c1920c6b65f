"""Per-request organization scope for every view whose URL carries ``org_slug``."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tenancy.access import seat_for_request, seat_for_session
from tenancy.api.auth import ORGANIZATION_COOKIE
from tenancy.scope import _current_organization_id


class OrganizationMiddleware:
    """Resolve ``org_slug`` to the caller's seat, and scope the request to its organization
    (and its time zone).

    The scope is set in ``process_view`` (once the URL is resolved) and reset in ``__call__``'s
    ``finally``, so it cannot outlive the request on a reused thread.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organization = None
        request.seat = None
        request._organization_scope_token = None
        try:
            response = self.get_response(request)
            _remember_organization(request, response)
            return response
        finally:
            token = request._organization_scope_token
            if token is not None:
                _current_organization_id.reset(token)
                timezone.deactivate()

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        org_slug = view_kwargs.get("org_slug")
        if org_slug is None:
            return None
        seat = seat_for_session(request, org_slug)
        if seat is not None:
            request.user = seat.user  # read with the seat: the same row get_user would load
        else:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            seat = seat_for_request(user=request.user, org_slug=org_slug)
        request.seat = seat
        request.organization = seat.organization
        request._organization_scope_token = _current_organization_id.set(seat.organization_id)
        # Pages show and read times on the organization's own clock.
        timezone.activate(seat.organization.zone)
        return None


def _remember_organization(request: HttpRequest, response: HttpResponse) -> None:
    """Note the organization last opened in a cookie (no database write): the browsable API
    works in it. Only a slug of the person's own seats is ever honoured, so the cookie grants
    nothing."""
    organization = request.organization
    if organization is None or request.COOKIES.get(ORGANIZATION_COOKIE) == organization.slug:
        return
    response.set_cookie(
        ORGANIZATION_COOKIE,
        organization.slug,
        max_age=60 * 60 * 24 * 365,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
