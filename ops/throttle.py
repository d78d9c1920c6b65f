"""Failed-login throttling, counted in the default cache (Redis through CACHE_URL in
production, so every web process shares the counts).

After ``LOGIN_THROTTLE_MAX_PER_EMAIL`` failures for one email, or ``LOGIN_THROTTLE_MAX_PER_IP``
from one client address, within ``LOGIN_THROTTLE_WINDOW_SECONDS`` of the first failure, the login
form refuses without checking the password until that window ends. A successful login clears the
email's count (not the address's: one office may share it with someone guessing).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest

_PREFIX = "login-throttle"


@dataclass(frozen=True)
class Lockout:
    """A refusal: how long until the caller may try again."""

    retry_after_seconds: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_seconds / 60))

    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"Too many failed attempts; try again in {self.minutes} {unit}."


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address. Behind ``TANDEM_TRUSTED_PROXIES`` proxies, the address that many
    hops back in X-Forwarded-For (what our own proxies saw), never one the client could forge."""
    if request is None:
        return None
    proxies: int = settings.TANDEM_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None


def _keys(kind: str, value: str) -> tuple[str, str]:
    # Hashed: emails stay out of cache keys (and memcached's key rules).
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{_PREFIX}:{kind}:{digest}:count", f"{_PREFIX}:{kind}:{digest}:since"


def _subjects(email: str | None, ip: str | None) -> list[tuple[str, str, int]]:
    subjects = []
    if email:
        subjects.append(("email", email.strip().lower(), settings.LOGIN_THROTTLE_MAX_PER_EMAIL))
    if ip:
        subjects.append(("ip", ip, settings.LOGIN_THROTTLE_MAX_PER_IP))
    return subjects


def check(email: str | None, ip: str | None) -> Lockout | None:
    """The lockout in force for this email or address, if either has reached its limit."""
    window: int = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    now = time.time()
    worst: Lockout | None = None
    for kind, value, limit in _subjects(email, ip):
        count_key, since_key = _keys(kind, value)
        values = cache.get_many([count_key, since_key])
        if values.get(count_key, 0) < limit:
            continue
        since = values.get(since_key, now)
        lockout = Lockout(retry_after_seconds=max(1, math.ceil(since + window - now)))
        if worst is None or lockout.retry_after_seconds > worst.retry_after_seconds:
            worst = lockout
    return worst


def record_failure(email: str | None, ip: str | None) -> None:
    """Count one failed login. The window starts at the first failure and is not extended by
    later ones (``add`` keeps the first value, ``incr`` keeps the expiry)."""
    window: int = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    for kind, value, _limit in _subjects(email, ip):
        count_key, since_key = _keys(kind, value)
        cache.add(since_key, time.time(), timeout=window)
        cache.add(count_key, 0, timeout=window)
        try:
            cache.incr(count_key)
        except ValueError:  # expired between add and incr: start again
            cache.set(count_key, 1, timeout=window)


def clear_email(email: str | None) -> None:
    """Forget the email's failures after it logs in successfully."""
    if email:
        cache.delete_many(_keys("email", email.strip().lower()))


class LoginThrottleMixin:
    """For Django's authentication forms: refuse before ``authenticate()`` while locked out,
    count each invalid login, and clear the email's count on success."""

    def clean(self) -> dict:
        form: AuthenticationForm = self  # type: ignore[assignment]
        email = form.cleaned_data.get("username")
        password = form.cleaned_data.get("password")
        if not (email and password):
            return super().clean()  # type: ignore[misc]
        ip = client_ip(form.request)
        lockout = check(email, ip)
        if lockout is not None:
            raise forms.ValidationError(lockout.message(), code="too_many_attempts")
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except forms.ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                record_failure(email, ip)
            raise
        clear_email(email)
        return cleaned


class ThrottledAdminAuthenticationForm(LoginThrottleMixin, AdminAuthenticationForm):
    """The admin's login form, throttled with the same counts as the product's."""
