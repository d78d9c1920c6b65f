"""Where webhooks may be sent: checked when an endpoint is registered and again before every
send (a name's DNS records can change after registration).

- The scheme is https, unless ``WEBHOOK_ALLOW_INSECURE`` (development only).
- The URL carries no user name or password (secrets belong in the signature, not in a URL an
  admin page shows).
- Every address the host name resolves to is public: loopback, private, link-local, shared,
  multicast, reserved and unspecified addresses are refused unless
  ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (development and tests). One bad address refuses the URL,
  or a name with two records could point the sender inside the network.

``safe_target`` returns the addresses it checked; the sender connects to one of those and
never resolves the name again, so the check and the connection see the same address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 500
DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _refuse(message: str) -> ValidationError:
    return ValidationError({"url": [message]})


def check_url_shape(url: str) -> SplitResult:
    """The URL's parts, or a ValidationError on ``url`` saying what is wrong with it."""
    if not isinstance(url, str) or not url.strip():
        raise _refuse("Enter the URL that will receive the webhooks.")
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 — a port out of range raises here
    except ValueError:
        raise _refuse("This is not a valid URL.") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_INSECURE else ("https",)
    if parts.scheme not in allowed:
        raise _refuse("The URL must start with https:// (webhooks are only sent encrypted).")
    if not parts.hostname:
        raise _refuse("The URL needs a host name, e.g. https://hooks.example.org/tandem.")
    if parts.username is not None or parts.password is not None:
        raise _refuse("Leave the user name and password out of the URL: requests are signed.")
    if any(character.isspace() for character in url.strip()):
        raise _refuse("The URL may not contain spaces.")
    return parts


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to (for TCP), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (UnicodeError, OSError, ValueError):  # gaierror is an OSError
        raise _refuse(f"The host name “{host}” could not be resolved.") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise _refuse(f"The host name “{host}” could not be resolved.")
    return addresses


def check_addresses(host: str, addresses: tuple[str, ...]) -> None:
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    for address in addresses:
        if not _is_public(address):
            raise _refuse(
                f"“{host}” points to {address}, a private, loopback or reserved address: "
                "webhooks are only sent to public addresses."
            )


def safe_target(url: str) -> Target:
    """Check ``url`` (shape, then every address its host resolves to) and return where to
    connect; a ValidationError keyed by ``url`` otherwise."""
    parts = check_url_shape(url)
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    host = parts.hostname
    addresses = resolve(host, port)
    check_addresses(host, addresses)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)
