"""The member's confirmation page, opened from the link in an announcement or reminder.

GET only shows the event and a button: mail scanners and link previews fetch links, so a GET
never records anything. The button POSTs (with CSRF) and the confirmation is recorded once.
The token resolves the organization from its own signed payload (orchestration.events); there
is no session and no organization in the URL.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from orchestration.events import (
    CONFIRMABLE,
    ConfirmationLinkError,
    event_for_confirmation_token,
    orchestrated_event_confirm,
    when_words,
)
from orchestration.models import OrchestratedEvent


def _state(event: OrchestratedEvent) -> str:
    """What the page offers: the button ("open"), a thank-you, or why there is nothing to do."""
    if event.confirmed_at is not None:
        return "confirmed"
    if event.status in CONFIRMABLE:
        return "open"
    return event.status


def _page(request: HttpRequest, event: OrchestratedEvent, *, status: int = 200, **extra):
    context = {
        "event": event,
        # Not "organization": the layout would show the staff navigation of that organization.
        "event_organization": event.organization,
        "when": when_words(event.scheduled_for, event.organization),
        "confirmed_when": (
            when_words(event.confirmed_at, event.organization) if event.confirmed_at else ""
        ),
        "state": _state(event),
        **extra,
    }
    return render(request, "orchestration/event_confirm.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def event_confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        event = event_for_confirmation_token(token)
    except ConfirmationLinkError as error:
        response = render(
            request, "orchestration/event_confirm_invalid.html", status=error.status_code
        )
    else:
        if request.method != "POST":
            response = _page(request, event)
        else:
            try:
                result = orchestrated_event_confirm(organization=event.organization, event=event)
            except ValidationError as error:
                refusal = error.message_dict.get("status") or error.messages
                response = _page(request, event, status=409, refusal=refusal[0])
            else:
                outcome = "recorded" if result.recorded else "already"
                response = _page(request, result.event, outcome=outcome)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
