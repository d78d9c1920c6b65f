"""A real webhook receiver on loopback, and settings that let the sender reach it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.signing import verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then 200), checking the signature with
    ``secret`` when it is set and answering 401 when it does not match."""

    url: str
    statuses: list[int] = field(default_factory=list)
    secret: str | None = None
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.received.append(Received(self.path, headers, body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if receiver.secret is not None:
                ok = verify(
                    secret=receiver.secret,
                    timestamp=headers.get("tandem-webhook-timestamp", ""),
                    body=body,
                    header=headers.get("tandem-webhook-signature", ""),
                )
                receiver.verified.append(ok)
                status = status if ok else 401
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(f"answer {status}".encode())

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver():
    holder = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    holder.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tandem?source=test"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_webhooks(settings):
    """What a developer sets to receive webhooks on their own machine; off everywhere else."""
    settings.WEBHOOK_ALLOW_INSECURE = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOK_FANOUT_GRACE_SECONDS = 0
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def public_dns(monkeypatch):
    """Resolve names as the table says (an address per name), for URL checks without a network."""
    import socket

    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("webhooks.urlcheck.socket.getaddrinfo", fake)
    return table
