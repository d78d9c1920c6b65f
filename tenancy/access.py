"""Who may see and do what: resolving the organization of a request and checking roles.

This is the one place that turns ``/o/<org_slug>/…`` into ``request.organization`` and
``request.seat``. "No such organization" and "not one of yours" answer the same 404, so a URL
never reveals that another tenant exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from tenancy.models import Seat, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def seat_for_request(*, user: User, org_slug: str) -> Seat:
    """The caller's seat in the organization named by the URL, or 404."""
    if not user.is_authenticated or not user.is_active:
        raise Http404("No such organization.")
    seat = Seat.objects.for_user(user).filter(organization__slug=org_slug).first()
    if seat is None:
        raise Http404("No such organization.")
    return seat


def require_role(role: str, *, read_role: str = Seat.Role.VIEWER) -> Callable:
    """Decorate a view under ``/o/<org_slug>/``.

    Reads (GET/HEAD/OPTIONS) need ``read_role``; anything that writes needs ``role``. A viewer
    therefore stays read-only everywhere, an MSM works accounts, an admin configures.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            seat = getattr(request, "seat", None)
            if seat is None:
                raise Http404("No such organization.")
            needed = read_role if request.method in SAFE_METHODS else role
            if not seat.has_role(needed):
                raise PermissionDenied(f"This needs the {Seat.Role(needed).label} role.")
            return view(request, *args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorator
