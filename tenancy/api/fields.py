"""Serializer fields shared by the API's apps: references between tenant rows, and choices
with an enum component of their own."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
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


def named_choice_field(
    component: str, choices: list[tuple[str, str]], *, blank: bool = False
) -> type[serializers.ChoiceField]:
    """A choice field class whose OpenAPI enum is the component ``component``, named after the
    domain (so one app's ``kind`` or ``status`` never shares, or collides with, another's).
    ``blank`` adds "" to the enum, for a read-only value that is empty until set."""
    values = [value for value, _ in choices] + ([""] if blank else [])

    @extend_schema_field({"type": "string", "enum": values}, component_name=component)
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(choices=choices, **kwargs)

    NamedChoiceField.__name__ = NamedChoiceField.__qualname__ = f"{component}Field"
    return NamedChoiceField
