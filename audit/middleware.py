"""Pages: the seat that ``OrganizationMiddleware`` resolved is the actor of the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import reset_actor, seat_actor, set_actor


class AuditActorMiddleware:
    """Placed after ``tenancy.middleware.OrganizationMiddleware``: its ``process_view`` runs
    after that one's has set ``request.seat``. The actor is reset in ``__call__``'s ``finally``.
    API views set their own actor (``TenantAPIMixin.perform_authentication``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request._audit_actor_token = None
        try:
            return self.get_response(request)
        finally:
            token = request._audit_actor_token
            if token is not None:
                reset_actor(token)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        seat = getattr(request, "seat", None)
        if seat is not None:
            email = getattr(request.user, "email", "")
            request._audit_actor_token = set_actor(seat_actor(seat, email=email))
        return None
