"""Who is calling the API, and for which organization.

Every API request is made by a *principal*: an API key (integrations) or a signed-in person
using the browsable API. Either way the principal carries exactly one organization and the
scopes it may use. The organization never comes from the URL, the query or the body.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from ops.prepared import PreparedRead
from tenancy.models import ApiKey, Organization, Seat
from tenancy.services import (
    API_KEY_USE_RESOLUTION,
    api_key_hash,
    api_key_prefix,
    api_key_record_use,
)

ORGANIZATION_COOKIE = "tandem_org"


@dataclass(frozen=True)
class ApiPrincipal:
    """The caller of an API request; stands in for ``request.user``."""

    organization: Organization
    scopes: frozenset[str]
    api_key: ApiKey | None = None
    seat: Seat | None = None
    is_authenticated: bool = field(default=True, init=False)
    is_anonymous: bool = field(default=False, init=False)
    is_active: bool = field(default=True, init=False)

    @property
    def identity(self) -> str:
        """A stable label for throttling and idempotency: one bucket per key or per seat."""
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        return f"seat:{self.seat.pk}"

    def get_username(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.api_key is not None:
            return f"API key {self.api_key}"
        return self.seat.user.email


# Every API call reads its key: compiled once per connection (ops.prepared), since building the
# queryset cost more CPU than running it.
_LIVE_KEYS = PreparedRead(
    lambda *, prefix: ApiKey.objects.live_with_prefix(prefix).select_related("organization"),
    prefix=str,
)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer tdm_…``: found by its prefix, checked against the stored hash in
    constant time, refused when revoked."""

    keyword = "Bearer"

    def authenticate(self, request) -> tuple[ApiPrincipal, ApiKey] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as: Authorization: Bearer <key>.")
            )
        try:
            secret = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("That is not an API key.")) from None
        api_key = self._live_key(secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        if not _used_recently(api_key):
            api_key_record_use(organization=api_key.organization, api_key=api_key)
        principal = ApiPrincipal(
            organization=api_key.organization, scopes=frozenset(api_key.scopes), api_key=api_key
        )
        return principal, api_key

    @staticmethod
    def _live_key(secret: str) -> ApiKey | None:
        prefix = api_key_prefix(secret)
        if prefix is None:
            return None
        digest = api_key_hash(secret)
        for candidate in _LIVE_KEYS.rows(prefix=prefix):
            if hmac.compare_digest(candidate.key_hash, digest):
                return candidate
        return None

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def _used_recently(api_key: ApiKey) -> bool:
    """Whether the row just read already shows a use within the recording resolution: then
    ``api_key_record_use``'s UPDATE would match nothing (the stored time only moves forward),
    so the query is not sent."""
    last = api_key.last_used_at
    return last is not None and last > timezone.now() - API_KEY_USE_RESOLUTION


class SeatSessionAuthentication(authentication.SessionAuthentication):
    """A signed-in person using the browsable API (with CSRF), working in the organization
    they last opened in Tandem, or their only one. Scopes follow the seat's role."""

    def authenticate(self, request) -> tuple[ApiPrincipal, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        seats = Seat.objects.for_user(user).select_related("organization", "user")
        chosen = request._request.COOKIES.get(ORGANIZATION_COOKIE)
        seat = next((s for s in seats if s.organization.slug == chosen), None)
        if seat is None:
            seats = list(seats)
            if len(seats) != 1:
                raise exceptions.PermissionDenied(
                    _("Open the organization you mean in Tandem first, then come back.")
                )
            seat = seats[0]
        scopes = {ApiKey.Scope.READ}
        if seat.has_role(Seat.Role.MSM):
            scopes.add(ApiKey.Scope.WRITE)
        return ApiPrincipal(
            organization=seat.organization, scopes=frozenset(scopes), seat=seat
        ), None
