"""One POST to a checked target, over a connection pinned to an address the check approved.

``http.client`` rather than ``urllib.request``: no redirects are followed (a redirect could lead
anywhere, inside the network included; a 3xx counts as a failed attempt), no proxy comes from
the environment, and the socket goes to the address ``urlcheck`` checked while TLS still
verifies the certificate for the host name (SNI and hostname check use the name).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from webhooks.urlcheck import Target

RESPONSE_SNIPPET = 500


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def _pin(connection: http.client.HTTPConnection, address: str) -> None:
    def create_connection(target, timeout, source_address=None):
        return socket.create_connection((address, target[1]), timeout, source_address)

    connection._create_connection = create_connection  # type: ignore[attr-defined]


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    _pin(connection, target.addresses[0])
    return connection


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST ``body``; the status and the start of the answer. Network errors raise OSError
    (``socket.timeout``, ``ssl.SSLError`` and ``ConnectionError`` are OSErrors) or
    ``http.client.HTTPException``."""
    connection = _connection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        snippet = response.read(RESPONSE_SNIPPET).decode("utf-8", errors="replace")
        return Response(status=response.status, body=snippet)
    finally:
        connection.close()
