"""Rules every service applies to its inputs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from tenancy.models import Organization


def require_same_organization(organization: Organization, **related: models.Model | None) -> None:
    """Refuse related rows from another organization, naming the field of each.

    Services call this on every object handed to them, so a member, seat or goal of another
    tenant can never be attached to this one's rows, whoever the caller is.
    """
    errors = {
        field: f"This {obj._meta.verbose_name} does not belong to this organization."
        for field, obj in related.items()
        if obj is not None and obj.organization_id != organization.pk
    }
    if errors:
        raise ValidationError(errors)
