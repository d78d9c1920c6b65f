"""API routes of the webhooks app: (prefix, viewset, basename) for the v1 router."""

from webhooks.api.views import WebhookDeliveryViewSet, WebhookEndpointViewSet

ROUTES: list = [
    ("webhook-endpoints", WebhookEndpointViewSet, "webhook-endpoints"),
    ("webhook-deliveries", WebhookDeliveryViewSet, "webhook-deliveries"),
]
