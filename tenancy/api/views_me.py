"""``GET /api/v1/me``: which organization and scopes a key works with (for checking a key)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from tenancy.api.views import TenantAPIView


class MeSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text="The organization's name.")
    organization_slug = serializers.SlugField()
    time_zone = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    principal = serializers.CharField(help_text="The key (by name and prefix) or the person.")


class MeView(TenantAPIView):
    """The organization this key works for and what it may do: call it to check a new key."""

    @extend_schema(responses=MeSerializer, summary="The organization and scopes of this key")
    def get(self, request):
        organization = self.organization
        data = {
            "organization": organization.name,
            "organization_slug": organization.slug,
            "time_zone": organization.time_zone,
            "scopes": sorted(self.principal.scopes),
            "principal": str(self.principal),
        }
        return Response(MeSerializer(data).data)
