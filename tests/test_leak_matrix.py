"""The leak matrix: every URL that takes an organization slug or an object id, called by a
member of organization A with organization B's slug and ids, answers 404 and shows nothing of B.

URLs are found by walking the URLconf, so a new page is covered the moment it is routed. A URL
whose keywords have no sample maker in ``tests/url_samples.py`` fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.url_samples import EXCLUDED_NAMESPACES, URL_KWARG_SAMPLES


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]


def _pattern_kwargs(pattern) -> tuple[str, ...]:
    return tuple(pattern.regex.groupindex)


def walk(
    resolver: URLResolver, namespace: str = "", inherited: tuple[str, ...] = (), api: bool = False
) -> list[Route]:
    """Every named route with URL keywords; ``api=True`` walks into the API namespace too."""
    routes = []
    for entry in resolver.url_patterns:
        kwargs = inherited + _pattern_kwargs(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES and not (api and entry.namespace == "api"):
                continue
            child = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            routes += walk(entry, child, kwargs, api)
        elif isinstance(entry, URLPattern) and entry.name and kwargs:
            routes.append(Route(name=f"{namespace}{entry.name}", kwargs=kwargs))
    return routes


ROUTES = walk(get_resolver())


def test_the_matrix_finds_routes():
    """Guard against a walk that silently finds nothing."""
    assert Route("tenancy:dashboard", ("org_slug",)) in ROUTES


def test_every_route_keyword_has_a_sample_maker():
    missing = sorted(
        {f"{route.name}: <{kw}>" for route in ROUTES for kw in route.kwargs}
        - {
            f"{route.name}: <{kw}>"
            for route in ROUTES
            for kw in route.kwargs
            if kw in URL_KWARG_SAMPLES
        }
    )
    assert not missing, (
        "These URL keywords have no sample maker; add one to tests/url_samples.py so the "
        f"leak matrix can call them: {missing}"
    )


def _samples(route: Route, organization) -> dict:
    return {
        kw: URL_KWARG_SAMPLES[kw](organization) for kw in route.kwargs if kw in URL_KWARG_SAMPLES
    }


def _assert_hidden(response, tenant, label: str) -> None:
    assert response.status_code == 404, f"{label} answered {response.status_code}, not 404"
    body = response.content.decode(errors="replace")
    for secret in (tenant.organization.name, tenant.msm.user.email, "Leaky Secret-Member"):
        assert secret not in body, f"{label} shows {secret!r} of the other organization"


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organizations_slug_and_ids_answer_404(route, method, tenant_a, tenant_b, login):
    if any(kw not in URL_KWARG_SAMPLES for kw in route.kwargs):
        pytest.fail(f"{route.name} has keywords without sample makers: {route.kwargs}")
    client = login(tenant_a.admin)

    # B's slug and B's ids, as A's admin.
    url = reverse(route.name, kwargs=_samples(route, tenant_b.organization))
    _assert_hidden(getattr(client, method)(url), tenant_b, f"{method.upper()} {url}")

    # A's own slug, but B's ids: only for routes that take ids besides the slug.
    if "org_slug" in route.kwargs and len(route.kwargs) > 1:
        kwargs = _samples(route, tenant_b.organization)
        kwargs["org_slug"] = tenant_a.organization.slug
        url = reverse(route.name, kwargs=kwargs)
        _assert_hidden(getattr(client, method)(url), tenant_b, f"{method.upper()} {url}")
