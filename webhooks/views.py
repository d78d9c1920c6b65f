"""The admin's webhook settings pages, under ``/o/<org_slug>/settings/webhooks/``.

Admins only, reads included (like every settings page). Views are thin: the form checks shapes,
the services check rules and write, and a service's field errors come back on the form. The
URL's row is fetched through the request-scoped default manager first, so another
organization's id is a 404 whatever the method. Pages that show a secret are never cached.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from tenancy.settings_views import (
    admin_only,
    done_and_redirect,
    no_store,
    paginate,
    put_errors,
    with_row,
)
from webhooks.forms import EndpointForm
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    webhook_deliveries_for_list,
    webhook_endpoints_for_list,
    webhook_recent_deliveries,
)
from webhooks.services import (
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_active,
)

LIST = "webhooks/settings_webhooks.html"
DETAIL = "webhooks/settings_endpoint.html"


def _list_answer(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    organization = request.organization
    context = {
        "page": paginate(request, webhook_endpoints_for_list(organization=organization)),
        "deliveries": webhook_recent_deliveries(organization=organization),
        "form": context.pop("form", None) or EndpointForm(),
        **context,
    }
    template = f"{LIST}#area" if request.htmx else LIST
    status = 200 if request.htmx else status
    return no_store(render(request, template, context, status=status))


def _detail_answer(
    request: HttpRequest, endpoint: WebhookEndpoint, *, status: int = 200, **context: Any
) -> HttpResponse:
    deliveries = webhook_deliveries_for_list(organization=request.organization, endpoint=endpoint)
    context = {"endpoint": endpoint, "page": paginate(request, deliveries), **context}
    template = f"{DETAIL}#area" if request.htmx else DETAIL
    status = 200 if request.htmx else status
    return no_store(render(request, template, context, status=status))


@admin_only
@require_safe
def webhook_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Endpoints, the form to add one, and the latest deliveries."""
    return _list_answer(request)


@admin_only
@require_POST
def webhook_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Register an endpoint and show its secret, this once."""
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                organization=request.organization, created_by=request.seat, **form.cleaned_data
            )
        except ValidationError as error:
            put_errors(form, error)
        else:
            return _list_answer(request, created=endpoint, secret=secret)
    return _list_answer(request, form=form, status=400)


@admin_only
@with_row(WebhookEndpoint, "endpoint_id")
@require_safe
def webhook_detail(request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint) -> HttpResponse:
    """One endpoint: its subscriptions, its secret's hint and its deliveries."""
    return _detail_answer(request, endpoint)


@admin_only
@with_row(WebhookEndpoint, "endpoint_id")
@require_POST
def webhook_set_active(
    request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint
) -> HttpResponse:
    active = request.POST.get("active") == "1"
    webhook_endpoint_set_active(organization=request.organization, endpoint=endpoint, active=active)
    if request.htmx:
        return _list_answer(request)
    state = "switched on" if active else "switched off"
    return done_and_redirect(request, f"{endpoint.url} {state}.", "webhooks:endpoint_list")


@admin_only
@with_row(WebhookEndpoint, "endpoint_id")
@require_POST
def webhook_rotate(request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint) -> HttpResponse:
    """A new secret, shown once; the old one stops signing at once."""
    secret = webhook_endpoint_rotate_secret(organization=request.organization, endpoint=endpoint)
    return _detail_answer(request, endpoint, secret=secret)


@admin_only
@with_row(WebhookEndpoint, "endpoint_id")
@require_POST
def webhook_delete(request: HttpRequest, org_slug: str, endpoint: WebhookEndpoint) -> HttpResponse:
    webhook_endpoint_delete(organization=request.organization, endpoint=endpoint)
    if request.htmx:
        return _list_answer(request)
    return done_and_redirect(request, f"{endpoint.url} removed.", "webhooks:endpoint_list")


@admin_only
@with_row(WebhookDelivery, "delivery_id")
@require_POST
def delivery_replay(request: HttpRequest, org_slug: str, delivery: WebhookDelivery) -> HttpResponse:
    """Send a delivery again (a new delivery, signed afresh), from the list or the endpoint."""
    on_endpoint = request.POST.get("view") == "endpoint"
    endpoint = delivery.endpoint
    try:
        webhook_delivery_replay(organization=request.organization, delivery=delivery)
    except ValidationError as error:
        problem = {"replay_error": " ".join(error.messages), "replay_of": delivery.pk}
        if on_endpoint:
            return _detail_answer(request, endpoint, status=400, **problem)
        return _list_answer(request, status=400, **problem)
    if request.htmx:
        if on_endpoint:
            return _detail_answer(request, endpoint, replayed=delivery.pk)
        return _list_answer(request, replayed=delivery.pk)
    note = f"Delivery {delivery.pk} queued to be sent again."
    if on_endpoint:
        return done_and_redirect(request, note, "webhooks:endpoint", endpoint_id=endpoint.pk)
    return done_and_redirect(request, note, "webhooks:endpoint_list")
