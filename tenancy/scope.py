"""The organization scope: which tenant the current request or task works for.

The scope lives in a ContextVar so that it follows the code that set it (a request, a Celery
task, a test) and nothing else. It is set by a context manager and always reset in ``finally``,
so a reused thread never carries one request's organization into the next.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tenancy.models import Organization

_current_organization_id: ContextVar[int | None] = ContextVar(
    "tandem_organization_id", default=None
)

F = TypeVar("F", bound=Callable[..., Any])


class UnscopedQueryError(RuntimeError):
    """A tenant model was queried with no organization scope: we refuse rather than leak."""


def current_organization_id() -> int | None:
    """The id of the organization in scope, or None when nothing set one."""
    return _current_organization_id.get()


def _organization_id(organization: Organization | int) -> int:
    organization_id = organization if isinstance(organization, int) else organization.pk
    if organization_id is None:
        raise ValueError("An organization scope needs a saved organization.")
    return organization_id


@contextmanager
def organization_scope(organization: Organization | int) -> Iterator[int]:
    """Scope every tenant query inside the block to one organization."""
    token = _current_organization_id.set(_organization_id(organization))
    try:
        yield _current_organization_id.get()
    finally:
        _current_organization_id.reset(token)


def scoped_task(func: F) -> F:
    """Run a Celery task body inside the scope of its ``organization_id`` keyword argument.

    A task that forgets to pass the organization fails loudly instead of running unscoped.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        organization_id = kwargs.get("organization_id")
        if organization_id is None:
            raise UnscopedQueryError(f"{func.__name__} needs an organization_id keyword argument.")
        with organization_scope(int(organization_id)):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
