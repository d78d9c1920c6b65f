"""What the API shows of webhook endpoints and deliveries, and the bodies it accepts (shape and
bounds only; the URL's safety and the event types' rules are the services')."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webhooks.services import DESCRIPTION_LENGTH
from webhooks.urlcheck import MAX_URL_LENGTH

EVENT_TYPE_CHOICES = EVENT_TYPES.choices


@extend_schema_field(
    {
        "type": "string",
        "enum": list(EVENT_TYPES.values),
        "description": "A domain event kind: " + ", ".join(EVENT_TYPES.values) + ".",
    }
)
class EventTypeField(serializers.ChoiceField):
    """A domain event kind (one schema, inline, wherever a kind appears)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=EVENT_TYPE_CHOICES, **kwargs)


def _event_types(*, required: bool) -> serializers.ListField:
    return serializers.ListField(
        child=EventTypeField(),
        min_length=1,
        max_length=len(EVENT_TYPE_CHOICES),
        required=required,
        help_text="The domain events it receives.",
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = _event_types(required=True)
    secret_hint = serializers.CharField(
        read_only=True, help_text="The start of the signing secret, to tell secrets apart."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "is_active",
            "secret_hint",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The endpoint with its signing secret in full: only in the answer that creates it or
    rotates it."""

    secret = serializers.CharField(
        read_only=True, help_text="Sign-check deliveries with it. Shown this once."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        help_text="https URL whose host resolves to public addresses only.",
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_LENGTH, required=False, allow_blank=True, default=""
    )
    event_types = _event_types(required=True)


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, required=False)
    description = serializers.CharField(
        max_length=DESCRIPTION_LENGTH, required=False, allow_blank=True
    )
    event_types = _event_types(required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="Switching off fails the deliveries it still had to receive."
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    replay_of = serializers.IntegerField(source="replay_of_id", read_only=True, allow_null=True)
    payload = serializers.DictField(read_only=True, help_text="The JSON body sent.")
    event_kind = serializers.CharField(
        read_only=True, help_text="The domain event kind: one of the endpoints' `event_types`."
    )
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "domain_event_id",
            "event_kind",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "replay_of",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
