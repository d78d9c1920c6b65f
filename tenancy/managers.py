"""Managers that fail closed: a tenant query without an organization raises.

``Model.objects`` filters by the organization in scope (``tenancy.scope``) and raises
``UnscopedQueryError`` when there is none. ``Model.objects.for_org(org)`` is the explicit scoped
entry point services and selectors use. ``Model.objects.unscoped()`` is the one escape hatch,
for the Django admin, migrations, data-wide maintenance and tests — grep for it in review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import BaseUserManager
from django.db import models

from tenancy.scope import UnscopedQueryError, current_organization_id

if TYPE_CHECKING:
    from tenancy.models import Organization


class TenantQuerySet(models.QuerySet):
    def for_org(self, organization: Organization | int) -> TenantQuerySet:
        organization_id = organization if isinstance(organization, int) else organization.pk
        if organization_id is None:
            raise UnscopedQueryError("for_org() needs a saved organization.")
        return self.filter(organization_id=organization_id)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """The default manager of every tenant model."""

    def get_queryset(self) -> TenantQuerySet:
        organization_id = current_organization_id()
        if organization_id is None:
            raise UnscopedQueryError(
                f"{self.model.__name__} was queried without an organization. Use "
                f"{self.model.__name__}.objects.for_org(org), or run inside organization_scope()."
            )
        return super().get_queryset().filter(organization_id=organization_id)

    def for_org(self, organization: Organization | int) -> TenantQuerySet:
        return self.unscoped().for_org(organization)

    def none(self) -> TenantQuerySet:
        """An empty queryset needs no scope: it can show no organization's rows (schema
        generation asks for one to learn a model's filters)."""
        return self.unscoped().none()

    def unscoped(self) -> TenantQuerySet:
        """Every organization's rows. Only for the admin, migrations, maintenance and tests."""
        return super().get_queryset()

    def create(self, **kwargs: Any) -> models.Model:
        """Create a row in the organization given, or else the one in scope."""
        if "organization" not in kwargs and "organization_id" not in kwargs:
            organization_id = current_organization_id()
            if organization_id is None:
                raise UnscopedQueryError(f"{self.model.__name__} needs an organization.")
            kwargs["organization_id"] = organization_id
        return self.unscoped().create(**kwargs)


class UserManager(BaseUserManager):
    """Users log in by email; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str):
        return self.get(email__iexact=username)
