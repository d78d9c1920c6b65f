"""Who is acting: the seat of a page request, the key (or seat) of an API request, or the
system (Celery tasks, management commands, anything outside a request).

The actor lives in a ContextVar, like the organization scope: set per request and always reset
in ``finally``, so a reused thread never lends one request's actor to the next. Nothing is
queried to build it; the label of a seat is read only when an entry is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenancy.models import ApiKey, Seat


@dataclass(frozen=True)
class Actor:
    kind: str  # AuditEntry.ActorKind
    seat: Seat | None = None
    api_key: ApiKey | None = None
    email: str = ""  # the signed-in person's address, when the caller already has it

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"API key {self.api_key.name} (tdm_{self.api_key.prefix}…)"
        if self.seat is not None:
            email = self.email or self.seat.user.email
            return f"{email} ({self.seat.role})"
        return "system"


SYSTEM = Actor(kind="system")

_current_actor: ContextVar[Actor] = ContextVar("tandem_audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    """The actor of the code running now; the system when no request set one."""
    return _current_actor.get()


def seat_actor(seat: Seat, *, email: str = "") -> Actor:
    return Actor(kind="seat", seat=seat, email=email)


def principal_actor(principal) -> Actor:
    """The actor of an API request's ``ApiPrincipal``: its key, else its signed-in seat."""
    if getattr(principal, "api_key", None) is not None:
        return Actor(kind="api_key", api_key=principal.api_key)
    return seat_actor(principal.seat)


def set_actor(actor: Actor) -> Token:
    """Set the actor; the caller must pass the token to ``reset_actor`` in a ``finally``."""
    return _current_actor.set(actor)


def reset_actor(token: Token) -> None:
    _current_actor.reset(token)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute every write inside the block to ``actor``."""
    token = _current_actor.set(actor)
    try:
        yield actor
    finally:
        _current_actor.reset(token)
