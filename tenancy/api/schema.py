"""The OpenAPI description: bearer keys, the Idempotency-Key header, and the one error shape
documented on every operation (so a schema-driven client, or a fuzzer, knows every answer)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from tenancy.api import idempotency


class ApiErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, throttled.")
    detail = serializers.CharField(help_text="A sentence for people.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Field by field (non_field_errors for the whole request); empty when not a "
        "validation error.",
    )


ERROR_ANSWERS = {
    "400": "The request has errors; see errors, field by field.",
    "401": "No key, or an unknown or revoked key.",
    "403": "The key lacks the scope this needs.",
    "404": "No such row in your organization.",
    "409": "Conflicts with the current state (or the same Idempotency-Key is still running).",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Too many requests for this key; see Retry-After.",
}
READ_ERRORS = ("400", "401", "403", "404", "429")


class TandemAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    idempotency.HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Any unique string (a UUID): a retry with the same key gets the "
                    "first answer back and writes nothing again. Kept 24 hours.",
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = READ_ERRORS if self.method in ("GET", "HEAD") else tuple(ERROR_ANSWERS)
        for code in codes:
            if code not in responses:
                answer = self._get_response_for_code(ApiErrorSerializer, code, direction=direction)
                answer["description"] = ERROR_ANSWERS[code]
                responses[code] = answer
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made by an admin in Settings → API keys: "
            "`Authorization: Bearer tdm_…`.",
        }


class SeatSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.api.auth.SeatSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
