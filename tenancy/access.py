"""Who may see and do what: resolving the organization of a request and checking roles.

This is the one place that turns ``/o/<org_slug>/…`` into ``request.organization`` and
``request.seat``. "No such organization" and "not one of yours" answer the same 404, so a URL
never reveals that another tenant exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

from ops.prepared import PreparedRead
from tenancy.models import Seat, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def seat_for_request(*, user: User, org_slug: str) -> Seat:
    """The caller's seat in the organization named by the URL, or 404."""
    if not user.is_authenticated or not user.is_active:
        raise Http404("No such organization.")
    # (organization, user) is unique: at most one row, so no ORDER BY (the model's ordering
    # would join the user table only to sort it).
    seat = next(iter(Seat.objects.for_user(user).filter(organization__slug=org_slug)[:1]), None)
    if seat is None:
        raise Http404("No such organization.")
    return seat


def _session_seat(*, user_id: int, org_slug: str) -> QuerySet[Seat]:
    # The one cross-organization read of seats, keyed by the session's own user (as
    # ``Seat.objects.for_user``); (organization, user) is unique, hence no ORDER BY.
    return (
        Seat.objects.unscoped()
        .filter(user_id=user_id, organization__slug=org_slug)
        .select_related("organization", "user")
        .order_by()[:1]
    )


# Compiled once per connection: building this queryset on every page cost more than running it.
_SESSION_SEAT = PreparedRead(_session_seat, user_id=int, org_slug=str)


def seat_for_session(request: HttpRequest, org_slug: str) -> Seat | None:
    """The signed-in user's seat in ``org_slug``, with its user and organization, in one query
    instead of two (the user, then the seat): every page under ``/o/<org_slug>/`` needs both.

    Only a shortcut for what ``django.contrib.auth.get_user`` would accept anyway: a session
    naming a ``ModelBackend`` whose ``get_user`` is Django's, a user it may authenticate who is
    active, and a session hash equal to the user's current one. Anything else (no session, a
    custom backend, a stale hash, a hash signed with a fallback secret, no seat there) answers
    None, and the caller takes Django's own path, which decides as it always has (including
    flushing the session or rotating its key). Also None once ``request.user`` has been loaded.
    """
    if "_cached_user" in request.__dict__:  # AuthenticationMiddleware's loaded user
        return None
    session = request.session
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = load_backend(backend_path)
    if type(backend).get_user is not ModelBackend.get_user:
        return None
    if type(user_id) is not int:
        return None
    seat = _SESSION_SEAT.first(user_id=user_id, org_slug=org_slug)
    if seat is None:
        return None
    user = seat.user
    if not backend.user_can_authenticate(user) or not user.is_active:
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
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
