"""The leak matrix for the API: every ``/api/v1/`` route that takes an id, called with
organization A's key and organization B's ids, answers 404 and shows nothing of B — for every
method. A method the route does not offer may answer 405 (before any lookup), but only if the
``Allow`` header really leaves it out.

Routes come from walking the URLconf, as in tests/test_leak_matrix.py, so a new endpoint is
covered the moment it is routed; its URL keyword needs a maker in tests/url_samples.py.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse

from tests.test_leak_matrix import Route, walk
from tests.url_samples import URL_KWARG_SAMPLES

API_ROUTES = [route for route in walk(get_resolver(), api=True) if route.name.startswith("api:")]
METHODS = ["get", "put", "patch", "delete", "post"]


def test_the_api_matrix_finds_routes():
    assert len(API_ROUTES) >= 1, "the walk found no API routes with ids"


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda route: route.name)
def test_another_organizations_ids_answer_404_for_every_method(
    route: Route, api, login, tenant_a, tenant_b
):
    missing = [kw for kw in route.kwargs if kw not in URL_KWARG_SAMPLES]
    assert not missing, f"{route.name} needs sample makers in tests/url_samples.py for {missing}"
    client = api(tenant_a)
    url = reverse(
        route.name, kwargs={kw: URL_KWARG_SAMPLES[kw](tenant_b.organization) for kw in route.kwargs}
    )
    found_404 = False
    for method in METHODS:
        response = getattr(client, method)(url, {}, format="json")
        label = f"{method.upper()} {url}"
        body = response.content.decode(errors="replace")
        for secret in (tenant_b.organization.name, tenant_b.msm.user.email, "Leaky Secret-Member"):
            assert secret not in body, f"{label} shows {secret!r} of the other organization"
        if response.status_code == 405:
            allowed = {m.strip().lower() for m in response.get("Allow", "").split(",")}
            assert method not in allowed, f"{label} answered 405 though it allows {method}"
            continue
        assert response.status_code == 404, f"{label} answered {response.status_code}, not 404"
        assert response.json()["code"] == "not_found"
        found_404 = True
    assert found_404, f"{route.name}: no method reached the lookup"
    # The browsable API, signed in as A's admin, is bound the same way.
    response = login(tenant_a.admin).get(url, HTTP_ACCEPT="application/json")
    assert response.status_code in (404, 405), f"session GET {url}: {response.status_code}"
