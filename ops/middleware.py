"""Request-level operations middleware: request ids, security headers and the probe shortcut."""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ops import views
from ops.logging import RequestContext, _request_context

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only when it cannot forge log lines or headers: short, plain characters.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")

request_logger = logging.getLogger("tandem.request")


def request_id_from(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is sane, else a new one (so a proxy's id follows the
    request through our logs, and nothing a client sends can break a log line)."""
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    if _SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id: on ``request.request_id``, the response's X-Request-ID header,
    and, through a ContextVar reset in ``finally``, every log record made while serving it.

    With ``TANDEM_LOG_REQUESTS`` on (production), also log one line per request with method,
    path, status and duration, so access logs share the JSON format and the id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.log_requests: bool = getattr(settings, "TANDEM_LOG_REQUESTS", False)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id
        token = _request_context.set(RequestContext(request_id=request_id, request=request))
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if self.log_requests:
                request_logger.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            _request_context.reset(token)


class SecurityHeadersMiddleware:
    """Content-Security-Policy (with a per-request nonce) and Permissions-Policy on every
    response, on top of what Django's SecurityMiddleware and XFrameOptionsMiddleware send.

    Our pages load only our own scripts and styles, so the policy is ``'self'`` plus the nonce
    (for a template that truly needs an inline block); never ``'unsafe-inline'`` for scripts.
    Paths in ``TANDEM_CSP_RELAXED_STYLE_PATHS`` (the Swagger UI, which sets inline styles) also
    allow inline styles. A view that sets its own policy keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.relaxed_style_paths: tuple[str, ...] = tuple(
            getattr(settings, "TANDEM_CSP_RELAXED_STYLE_PATHS", ())
        )
        self.permissions_policy: str = settings.TANDEM_PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            relaxed = request.path.startswith(self.relaxed_style_paths)
            response["Content-Security-Policy"] = content_security_policy(
                nonce, inline_styles=relaxed
            )
        response.setdefault("Permissions-Policy", self.permissions_policy)
        return response


def content_security_policy(nonce: str, *, inline_styles: bool = False) -> str:
    """The policy for one response. ``inline_styles`` adds ``'unsafe-inline'`` to style-src
    only; with it, browsers ignore a style nonce, so the nonce is left out there."""
    style_src = "'self' 'unsafe-inline'" if inline_styles else f"'self' 'nonce-{nonce}'"
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": style_src,
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class HealthCheckMiddleware:
    """Answer ``/healthz`` and ``/readyz`` before host validation and the CSRF/session stack.

    Orchestrators probe a container by its own address, with no Host header from
    ALLOWED_HOSTS and over plain HTTP; routing the probes through the URL resolver would answer
    400 (DisallowedHost). Placed after SecurityMiddleware, whose HTTPS redirect exempts these
    paths (``SECURE_REDIRECT_EXEMPT``), so the probes still get the security headers.
    """

    PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
        "/healthz": views.healthz,
        "/readyz": views.readyz,
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.PROBES.get(request.path_info.rstrip("/"))
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
