"""Structured logs: a JSON-lines formatter and a filter that stamps request id and organization.

Our own, not python-json-logger: it is forty lines, and the fields we want (request id and
organization from the current request) need our filter anyway.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest


@dataclass
class RequestContext:
    """What the log filter may read about the request being served.

    The organization is resolved after this is set (in ``OrganizationMiddleware.process_view``),
    so the filter reads it from the request when the record is made, not when the request began.
    """

    request_id: str
    request: HttpRequest | None = field(default=None, repr=False)

    @property
    def organization_slug(self) -> str | None:
        organization = getattr(self.request, "organization", None)
        return getattr(organization, "slug", None)


_request_context: ContextVar[RequestContext | None] = ContextVar(
    "tandem_request_context", default=None
)


def current_request_context() -> RequestContext | None:
    """The request being served by this thread or task, if any."""
    return _request_context.get()


class RequestContextFilter(logging.Filter):
    """Add ``request_id`` and ``organization`` to every record (``None`` outside a request), so
    formatters can always name them. Celery tasks carry the scoped organization's id instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _request_context.get()
        record.request_id = context.request_id if context else None
        record.organization = context.organization_slug if context else None
        if record.organization is None:
            from tenancy.scope import current_organization_id

            record.organization_id = current_organization_id()
        return True


# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "request_id", "organization", "organization_id", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request id and
    organization, then any ``extra=`` fields, then the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "organization": getattr(record, "organization", None),
        }
        organization_id = getattr(record, "organization_id", None)
        if organization_id is not None:
            entry["organization_id"] = organization_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
