"""Per-key rate limits, counted in the default cache (shared between processes in production
when ``CACHE_URL`` points at Redis). Over the limit answers 429 with ``Retry-After``."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from tenancy.api.auth import ApiPrincipal


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_cache_key(self, request, view) -> str | None:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.identity}
