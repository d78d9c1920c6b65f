"""Sample URL arguments for the leak matrix, by URL keyword.

The leak matrix calls every URL that takes an organization slug or an object id with another
organization's values. It knows how to make a value for each keyword listed here; a URL with a
keyword that is not listed fails the matrix until a maker is added. Makers receive the
organization the value must belong to, and return a slug or the id of a row they create in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenancy.models import Organization

SampleMaker = Callable[[Organization], Any]


def _member_id(organization: Organization) -> int:
    from tests.factories import MemberFactory

    return MemberFactory(organization=organization, name="Leaky Secret-Member").pk


URL_KWARG_SAMPLES: dict[str, SampleMaker] = {
    "org_slug": lambda organization: organization.slug,
    "member_id": _member_id,
}

# URL namespaces outside the matrix, each with the reason.
EXCLUDED_NAMESPACES = {
    "admin": "Django admin: staff only, deliberately unscoped; tenants' users are never staff.",
    "public": (
        "capability links: the signed token is the credential, not a session; tampering and "
        "expiry are tested in tests/orchestration/test_events*.py"
    ),
}
