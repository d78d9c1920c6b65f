"""Webhook endpoints and deliveries for integrators: the same services as the settings pages.

Webhooks are configuration: every operation, reads included, needs a key with the ``write``
scope (or, in the browsable API, an admin's session), as the pages need an admin.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenancy.api.auth import ApiPrincipal
from tenancy.api.permissions import HasApiScope
from tenancy.api.views import TenantViewSet
from tenancy.models import ApiKey, Seat
from webhooks import services
from webhooks.api import filters, serializers
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import webhook_deliveries_for_list, webhook_endpoints_for_list

# Any id shape reaches the lookup, so "1.5" or "abc" answers the API's JSON 404, not HTML.
ID_PATTERN = "[^/]+"
URL_RULES = (
    "The URL must be https and its host must resolve to public addresses only (checked again "
    "before every send); otherwise 400 with `errors.url`."
)


class ManagesWebhooks(permissions.BasePermission):
    message = "Webhooks need a key with the 'write' scope (or an admin's session)."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal) or ApiKey.Scope.WRITE not in principal.scopes:
            return False
        return principal.seat is None or principal.seat.has_role(Seat.Role.ADMIN)


class WebhookViewSet:
    permission_classes = [HasApiScope, ManagesWebhooks]
    lookup_value_regex = ID_PATTERN


ENDPOINT_EXAMPLE = OpenApiExample(
    "CRM sync",
    value={
        "url": "https://hooks.example.org/tandem",
        "description": "CRM sync",
        "event_types": ["member.band_changed", "nudge.failed"],
    },
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        description=(
            "Where Tandem POSTs the organization's domain events, signed: "
            '`Tandem-Webhook-Signature: v1=<hex HMAC-SHA256 of "<Tandem-Webhook-Timestamp>.'
            '<body>" with the secret>`. Newest first.'
        ),
    ),
    retrieve=extend_schema(summary="Get a webhook endpoint", description="One endpoint."),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description=f"Answers the endpoint with its signing `secret`, shown this once. {URL_RULES}",
        request=serializers.WebhookEndpointCreateSerializer,
        responses={201: serializers.WebhookEndpointWithSecretSerializer},
        examples=[ENDPOINT_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description=f"Only the fields given change. {URL_RULES}",
        request=serializers.WebhookEndpointUpdateSerializer,
        responses={200: serializers.WebhookEndpointSerializer},
        examples=[
            OpenApiExample("Switch off", value={"is_active": False}, request_only=True),
            OpenApiExample(
                "Receive goal changes too",
                value={"event_types": ["member.band_changed", "goal.status_changed"]},
                request_only=True,
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Remove a webhook endpoint",
        description="Removes the endpoint and its delivery history.",
        responses={204: OpenApiResponse(description="Removed.")},
    ),
    rotate_secret=extend_schema(
        summary="Rotate an endpoint's signing secret",
        description="A new secret, shown this once; the old one stops signing at once.",
        request=None,
        responses={200: serializers.WebhookEndpointWithSecretSerializer},
    ),
)
class WebhookEndpointViewSet(
    WebhookViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    queryset_model = WebhookEndpoint
    lookup_url_kwarg = "endpoint_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_class = filters.WebhookEndpointFilter
    ordering_fields = ["created_at", "updated_at", "pk"]
    ordering = ["-created_at", "-pk"]

    def get_tenant_queryset(self) -> QuerySet[WebhookEndpoint]:
        return webhook_endpoints_for_list(organization=self.organization)

    def get_serializer_class(self):
        return {
            "create": serializers.WebhookEndpointCreateSerializer,
            "partial_update": serializers.WebhookEndpointUpdateSerializer,
        }.get(self.action, serializers.WebhookEndpointSerializer)

    def _body(self) -> dict[str, Any]:
        serializer = self.get_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        endpoint, secret = services.webhook_endpoint_create(
            organization=self.organization, created_by=self.principal.seat, **self._body()
        )
        endpoint.secret = secret
        body = serializers.WebhookEndpointWithSecretSerializer(endpoint).data
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        body = self._body()
        active = body.pop("is_active", None)
        if body:
            services.webhook_endpoint_update(
                organization=self.organization, endpoint=endpoint, **body
            )
        if active is not None:
            services.webhook_endpoint_set_active(
                organization=self.organization, endpoint=endpoint, active=active
            )
        return Response(serializers.WebhookEndpointSerializer(self.get_object()).data)

    def destroy(self, request, *args: Any, **kwargs: Any) -> Response:
        services.webhook_endpoint_delete(organization=self.organization, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, endpoint_id: str) -> Response:
        endpoint = self.get_object()
        endpoint.secret = services.webhook_endpoint_rotate_secret(
            organization=self.organization, endpoint=endpoint
        )
        return Response(serializers.WebhookEndpointWithSecretSerializer(endpoint).data)


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries",
        description=(
            "One delivery per domain event and subscribed endpoint: pending (waiting for its "
            "next attempt), succeeded (a 2xx answer) or failed (attempts used up, or the "
            "endpoint switched off). Newest first; filter by endpoint, status and event kind."
        ),
    ),
    retrieve=extend_schema(
        summary="Get a webhook delivery",
        description="One delivery with its payload, last response code and last error.",
    ),
    replay=extend_schema(
        summary="Replay a webhook delivery",
        description=(
            "Sends the same payload again as a new delivery (new timestamp and signature, its "
            "own attempts), due now. Refused with 400 while the delivery is still pending or "
            "when its endpoint is switched off."
        ),
        request=None,
        responses={201: serializers.WebhookDeliverySerializer},
    ),
)
class WebhookDeliveryViewSet(
    WebhookViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet
):
    queryset_model = WebhookDelivery
    lookup_url_kwarg = "delivery_id"
    serializer_class = serializers.WebhookDeliverySerializer
    filterset_class = filters.WebhookDeliveryFilter
    ordering_fields = ["created_at", "updated_at", "pk"]
    ordering = ["-created_at", "-pk"]

    def get_tenant_queryset(self) -> QuerySet[WebhookDelivery]:
        return webhook_deliveries_for_list(organization=self.organization)

    @action(detail=True, methods=["post"])
    def replay(self, request, delivery_id: str) -> Response:
        replay = services.webhook_delivery_replay(
            organization=self.organization, delivery=self.get_object()
        )
        body = serializers.WebhookDeliverySerializer(replay).data
        return Response(body, status=status.HTTP_201_CREATED)
