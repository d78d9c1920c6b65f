"""Scopes: reading needs ``read``, anything that writes needs ``write``."""

from __future__ import annotations

from rest_framework import permissions

from tenancy.api.auth import ApiPrincipal
from tenancy.models import ApiKey


class HasApiScope(permissions.BasePermission):
    message = "This key may not do that: writing needs the 'write' scope, reading the 'read' scope."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            return False
        needed = (
            ApiKey.Scope.READ if request.method in permissions.SAFE_METHODS else ApiKey.Scope.WRITE
        )
        return needed in principal.scopes
