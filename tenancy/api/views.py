"""The base of every API view: it binds the caller's organization, runs each write in one
transaction, claims Idempotency-Keys, and renders inside the organization's scope.

A view of ours declares ``queryset_model`` and a ``get_queryset`` that asks a selector for
``self.organization``'s rows; writes go through the app's services, exactly as pages do.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone
from rest_framework import mixins, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from audit.context import principal_actor, reset_actor, set_actor
from tenancy.api import idempotency
from tenancy.api.auth import ApiPrincipal
from tenancy.models import Organization
from tenancy.scope import _current_organization_id


class TenantAPIMixin:
    """Scope, idempotency and rendering for an ``APIView``."""

    queryset_model: type[models.Model] | None = None

    @property
    def principal(self) -> ApiPrincipal:
        return self.request.user

    @property
    def organization(self) -> Organization:
        return self.request.user.organization

    def dispatch(self, request, *args: Any, **kwargs: Any):
        self._scope_token = None
        self._audit_token = None
        self._idempotency_record = None
        try:
            if request.method in SAFE_METHODS:
                return self._dispatch_and_render(request, *args, **kwargs)
            # A write is all or nothing, its Idempotency-Key claim included: a second copy of
            # the request waits on the claim's unique key until this one commits, then replays.
            with transaction.atomic():
                response = self._dispatch_and_render(request, *args, **kwargs)
                if response.status_code >= 500:
                    transaction.set_rollback(True)
                return response
        finally:
            if self._scope_token is not None:
                _current_organization_id.reset(self._scope_token)
                timezone.deactivate()
            if self._audit_token is not None:
                reset_actor(self._audit_token)

    def _dispatch_and_render(self, request, *args: Any, **kwargs: Any):
        response = super().dispatch(request, *args, **kwargs)
        # Render now, inside the scope: the browsable API's forms query tenant rows.
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        return response

    def perform_authentication(self, request) -> None:
        principal = request.user
        if isinstance(principal, ApiPrincipal):
            self._scope_token = _current_organization_id.set(principal.organization.pk)
            timezone.activate(principal.organization.zone)
            self._audit_token = set_actor(principal_actor(principal))  # who the audit names

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotency_record = idempotency.claim(request)

    def handle_exception(self, exc: Exception):
        if isinstance(exc, idempotency.Replay):
            return exc.response()
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency_record is not None:
            idempotency.settle(self._idempotency_record, response)
            self._idempotency_record = None
        return response

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no org
            return self.queryset_model.objects.unscoped().none()
        return self.get_tenant_queryset()

    def get_tenant_queryset(self) -> models.QuerySet:
        raise NotImplementedError(f"{type(self).__name__} must define get_tenant_queryset().")


class TenantAPIView(TenantAPIMixin, APIView):
    """For endpoints that are not a resource (bulk ingest, actions)."""


class TenantViewSet(TenantAPIMixin, viewsets.GenericViewSet):
    """Compose with DRF's mixins (``mixins.ListModelMixin`` …) for the operations a resource
    allows; create/update/destroy should be overridden to call the app's services."""


class ReadOnlyTenantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """List and retrieve only."""
