"""A form renderer that writes Django's plain widgets (inputs, selects, text areas) in Python.

Member 360 renders a couple of dozen blank forms per page, and every widget rendered through
Django's widget templates costs a template render plus an include per option and per attribute
list. This renderer produces the same markup as those templates — byte for byte, so labels, ids
and ``aria-*`` attributes are untouched — and hands anything else (error lists, other widgets,
whole-form templates) to the project's default renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import BaseRenderer, get_default_renderer
from django.utils.html import conditional_escape


def _attrs(attrs: Mapping[str, Any]) -> str:
    """``django/forms/widgets/attrs.html``: ``False`` drops an attribute, ``True`` leaves its
    name alone."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


def _input(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    shown = "" if value is None else f' value="{conditional_escape(value)}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _option(option: Mapping[str, Any]) -> str:
    return (
        f'<option value="{conditional_escape(option["value"])}"{_attrs(option["attrs"])}>'
        f"{conditional_escape(option['label'])}</option>"
    )


def _select(widget: Mapping[str, Any]) -> str:
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            parts.append(f"\n  {_option(option)}\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    shown = conditional_escape(value) if value else ""
    return (
        f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{shown}</textarea>"
    )


_WIDGETS = "django/forms/widgets/"
_BUILDERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    **{
        f"{_WIDGETS}{kind}.html": _input
        for kind in ("input", "text", "number", "email", "url", "password", "date", "datetime")
    },
    f"{_WIDGETS}select.html": _select,
    f"{_WIDGETS}textarea.html": _textarea,
}


class PlainWidgetRenderer(BaseRenderer):
    """Plain widgets in Python, everything else by the default renderer (the templates the
    project may override, such as error lists, still come from there)."""

    @property
    def _default(self) -> BaseRenderer:
        return get_default_renderer()

    @property
    def form_template_name(self) -> str:  # type: ignore[override]
        return self._default.form_template_name

    @property
    def field_template_name(self) -> str:  # type: ignore[override]
        return self._default.field_template_name

    def get_template(self, template_name: str):
        return self._default.get_template(template_name)

    def render(self, template_name: str, context: Mapping[str, Any], request=None) -> str:
        build = _BUILDERS.get(template_name)
        if build is None:
            return self._default.render(template_name, context, request=request)
        return build(context["widget"])


PLAIN_WIDGETS = PlainWidgetRenderer()
