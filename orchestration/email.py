"""An outbox email backend that delivers each Message-ID once.

Why: the dispatcher (orchestration/dispatch.py) may deliver the same nudge twice — a worker killed
after handing the message over but before recording it as sent, a released lease, a redelivered
task. Every nudge's message carries a Message-ID derived from its organization and idempotency
key, so a second delivery of the same nudge carries the same Message-ID. This backend names the
file after that Message-ID and creates it exclusively: the second delivery finds the file there
and counts as "already delivered" instead of writing a duplicate. Development and the worker
tests use it (``var/outbox`` by default, ``EMAIL_FILE_PATH`` to change it): one ``.eml`` file per
message, which you can open in any mail client.

How the file is created: the message is written to a private temporary file (``os.open`` with
``O_CREAT | O_EXCL``) and then published under its final name with ``os.link``, which like
``O_EXCL`` fails when the name exists — atomically, on one file system. Publishing a complete
file, rather than creating the final name and then writing into it, means a worker killed in the
middle leaves no half-written message that would pass for a delivered one. A kill between the
link and the clean-up can leave a ``.tmp`` file behind; it is never read as a message.

With SMTP in production (``EMAIL_URL`` or ``EMAIL_HOST``, see config/settings) there is no
shared folder to check: the same Message-ID is what lets the receiving side (the relay, the
mailbox provider, the member's mail client) recognise and drop a duplicate. Our side records the
nudge as sent with a guarded UPDATE right after the SMTP server accepted the message, so the only
window for a duplicate is a crash between that handoff and that UPDATE — the nudge is then
released after its lease and handed over again, with the same Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


def outbox_filename(message_id: str) -> str:
    """The file a Message-ID is delivered to: a hash, so any Message-ID makes a safe name."""
    return hashlib.sha256(message_id.strip().encode()).hexdigest() + ".eml"


class OutboxEmailBackend(BaseEmailBackend):
    """Writes each message to ``<EMAIL_FILE_PATH>/<sha256 of its Message-ID>.eml``, once.

    ``send_messages`` counts a duplicate as delivered (the earlier copy is the delivery), and
    ``duplicates`` says how many it recognised, for callers and tests that want to know.
    """

    def __init__(self, *, file_path: str | os.PathLike | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        folder = file_path or getattr(settings, "EMAIL_FILE_PATH", None)
        self.file_path = Path(folder or Path(settings.VAR_DIR) / "outbox").resolve()
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"EMAIL_FILE_PATH {str(self.file_path)!r} cannot be used as an outbox: {exc}"
            ) from exc
        self.duplicates = 0

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        delivered = 0
        for message in email_messages:
            try:
                self.deliver(message)
            except Exception:
                if not self.fail_silently:
                    raise
            else:
                delivered += 1
        return delivered

    def deliver(self, message: EmailMessage) -> bool:
        """Write the message once; True when written now, False when it was delivered before."""
        mime = message.message()
        message_id = str(mime["Message-ID"])
        final = self.file_path / outbox_filename(message_id)
        if final.exists():
            return self._duplicate(message_id)
        temporary = self.file_path / f".{final.stem}.{uuid.uuid4().hex}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(mime.as_bytes(linesep="\n"))
            try:
                os.link(temporary, final)
            except FileExistsError:
                return self._duplicate(message_id)
            return True
        finally:
            temporary.unlink(missing_ok=True)

    def _duplicate(self, message_id: str) -> bool:
        self.duplicates += 1
        logger.info("Message %s was already in the outbox; not writing it twice.", message_id)
        return False
