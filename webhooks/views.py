"""The admin's webhook settings pages, under ``/o/<org_slug>/settings/webhooks/``.

Admins only, reads included (like every settings page). Views are thin: the form checks shapes,
the services check rules and write, and a service's field errors come back on the form. The
URL's row is fetched through the request-scoped default manager first, so another
organization's id is a 404 whatever the method. Pages that show a secret are never cached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from tenancy.access import require_role
from tenancy.models import Seat
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

PAGE_SIZE = 25
LIST = "webhooks/settings_webhooks.html"
DETAIL = "webhooks/settings_endpoint.html"

admin_only = require_role(Seat.Role.ADMIN, read_role=Seat.Role.ADMIN)


def with_row(model: type[models.Model], kwarg: str) -> Callable:
    """Hand the view the URL's row, read in the request's scope (404 for another tenant's)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, **kwargs: Any) -> HttpResponse:
            row = get_object_or_404(model.objects.all(), pk=kwargs.pop(kwarg))
            return view(request, org_slug, row, **kwargs)

        return wrapper

    return decorator


def _page(request: HttpRequest, rows: Any) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page") or request.POST.get("page"))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _put_errors(form: EndpointForm, error: ValidationError) -> None:
    for field, texts in error.message_dict.items():
        form.add_error(field if field in form.fields else None, texts)


def _list_answer(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    organization = request.organization
    context = {
        "page": _page(request, webhook_endpoints_for_list(organization=organization)),
        "deliveries": webhook_recent_deliveries(organization=organization),
        "form": context.pop("form", None) or EndpointForm(),
        **context,
    }
    template = f"{LIST}#area" if request.htmx else LIST
    status = 200 if request.htmx else status
    return _no_store(render(request, template, context, status=status))


def _detail_answer(
    request: HttpRequest, endpoint: WebhookEndpoint, *, status: int = 200, **context: Any
) -> HttpResponse:
    deliveries = webhook_deliveries_for_list(organization=request.organization, endpoint=endpoint)
    context = {"endpoint": endpoint, "page": _page(request, deliveries), **context}
    template = f"{DETAIL}#area" if request.htmx else DETAIL
    status = 200 if request.htmx else status
    return _no_store(render(request, template, context, status=status))


def _done(request: HttpRequest, message: str, to: str, **kwargs: Any) -> HttpResponse:
    messages.success(request, message)
    return redirect(to, org_slug=request.organization.slug, **kwargs)


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
            _put_errors(form, error)
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
    return _done(request, f"{endpoint.url} {state}.", "webhooks:endpoint_list")


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
    return _done(request, f"{endpoint.url} removed.", "webhooks:endpoint_list")


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
        return _done(request, note, "webhooks:endpoint", endpoint_id=endpoint.pk)
    return _done(request, note, "webhooks:endpoint_list")
