"""Small pieces of the settings pages."""

from __future__ import annotations

from typing import Any

from django import template

from tenancy.settings_forms import rule_text

register = template.Library()


@register.filter
def rule_words(rule: Any) -> str:
    """A stored coverage rule as its row reads: ``tier in Gold, Silver``."""
    if not isinstance(rule, dict):
        return str(rule)
    value = rule_text(rule)
    return " ".join(
        part for part in (str(rule.get("field", "")), str(rule.get("op", "")), value) if part
    )
