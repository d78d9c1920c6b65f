from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

# The layout's navigation (templates/base.html): name -> URL name under /o/<org_slug>/.
ORGANIZATION_LINKS: Mapping[str, str] = {
    "book": "members:book",
    "members": "members:list",
    "portfolio": "members_extra:portfolio",
    "team": "tenancy:dashboard",
    "settings": "tenancy:settings",
}
# And the links every signed-in page shows.
ACCOUNT_LINKS: Mapping[str, str] = {"choose": "tenancy:choose", "logout": "logout"}


def organization(request: HttpRequest) -> dict:
    """Expose the organization and seat resolved for this request to every template, and the
    layout's links (``org_urls``, ``account_urls``)."""
    organization = getattr(request, "organization", None)
    prefix, urlconf = get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF
    return {
        "organization": organization,
        "seat": getattr(request, "seat", None),
        "org_urls": None if organization is None else _links(prefix, urlconf, organization.slug),
        "account_urls": _links(prefix, urlconf, None),
    }


@functools.lru_cache(maxsize=512)
def _links(prefix: str, urlconf: str, org_slug: str | None) -> Mapping[str, str]:
    """The layout's URLs, reversed once per process for each organization instead of seven
    ``{% url %}`` on every page. A URL depends only on the URL configuration, the script
    prefix and the slug, which make the key, so nothing here can go stale."""
    if org_slug is None:
        return MappingProxyType({name: reverse(view) for name, view in ACCOUNT_LINKS.items()})
    kwargs = {"org_slug": org_slug}
    return MappingProxyType(
        {name: reverse(view, kwargs=kwargs) for name, view in ORGANIZATION_LINKS.items()}
    )
