"""Filters of the webhook lists."""

from __future__ import annotations

import django_filters

from orchestration.api.serializers import FIRST_YEAR, LAST_YEAR
from tenancy.api.filters import UPDATED_SINCE_LABEL, BoundedIsoDateTimeFilter, IdFilter
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint


def _updated_since() -> BoundedIsoDateTimeFilter:
    """The shared ``updated_since``, in the years orchestration accepts (2000 to 2099), which
    these lists have always used."""
    return BoundedIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label=UPDATED_SINCE_LABEL,
        first_year=FIRST_YEAR,
        last_year=LAST_YEAR,
    )


class WebhookEndpointFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()
    updated_since = _updated_since()

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    endpoint = IdFilter("endpoint_id", label="Endpoint id.")
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event_kind = django_filters.ChoiceFilter(choices=EVENT_TYPES.choices)
    updated_since = _updated_since()

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_kind"]
