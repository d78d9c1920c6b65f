"""``/healthz`` and ``/readyz`` for docker compose and any orchestrator.

``/healthz`` says only that the process answers (no database: a slow database must not get a
healthy web process restarted); ``/readyz`` says whether it can do useful work now (database and
broker). Neither needs authentication nor an organization.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from ops.checks import run_readiness_checks


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 naming the ones that did not."""
    results = run_readiness_checks()
    failed = [name for name, result in results.items() if not result.ok]
    body = {
        "status": "fail" if failed else "ok",
        "checks": {name: result.as_dict() for name, result in results.items()},
        "failed": failed,
    }
    return JsonResponse(body, status=503 if failed else 200)
