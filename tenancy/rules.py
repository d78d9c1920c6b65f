"""Rules every service applies to its inputs."""

from __future__ import annotations

from typing import Any

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


NUL_REFUSED = "Text may not contain NUL characters (\\u0000)."


def contains_nul(*values: Any) -> bool:
    """Whether any text inside (keys and values of nested objects too) holds a NUL character,
    which PostgreSQL's text and jsonb refuse: services check free-form JSON with this, since
    form and serializer text fields already refuse NUL but JSON fields do not."""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
