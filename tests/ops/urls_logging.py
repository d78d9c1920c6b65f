"""A test-only URLconf: an organization page that logs while it is served."""

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

logger = logging.getLogger("tests.ops.view")


def logging_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    logger.warning("served %s", org_slug, extra={"member_count": 3})
    return HttpResponse("logged")


urlpatterns = [
    path("o/<slug:org_slug>/log-something/", logging_view),
    path("", include("config.urls")),
]
