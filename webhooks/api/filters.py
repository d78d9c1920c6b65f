"""Filters of the webhook lists."""

from __future__ import annotations

from typing import Final

import django_filters
from django import forms

from orchestration.api.filters import BoundedIsoDateTimeFilter
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

MAX_ID: Final = 2**63 - 1


def _updated_since() -> BoundedIsoDateTimeFilter:
    return BoundedIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Only rows changed at or after this ISO 8601 instant (for incremental sync).",
    )


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number a database integer holds, otherwise 400."""

    field_class = forms.IntegerField


class WebhookEndpointFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()
    updated_since = _updated_since()

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    endpoint = IdFilter(
        field_name="endpoint_id", min_value=1, max_value=MAX_ID, label="Endpoint id."
    )
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event_kind = django_filters.ChoiceFilter(choices=EVENT_TYPES.choices)
    updated_since = _updated_since()

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_kind"]
