"""Serializer fields for references between tenant rows."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """The id of a row in the caller's organization.

    The queryset is the model's scoped manager, evaluated at validation time inside the
    request's organization scope, so another organization's id answers "does not exist" (400),
    never a row. Rendered as a plain input in the browsable API rather than a select of every row.
    """

    def __init__(self, model: type[models.Model] | None = None, **kwargs) -> None:
        if model is not None and not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects)
        kwargs.setdefault("style", {"base_template": "input.html"})
        super().__init__(**kwargs)
