"""Small pieces of Member 360's HTML written in Python instead of through ``{% url %}`` and
``{% include %}`` in the page's loops.

A page carries a couple of dozen action forms, each posting to the URL of its row twice
(``action`` and ``hx-post``), and each with its error block and fields from an include:
reversing a URL per row and rendering an include per field cost more than the rest of the
section. Here each URL pattern is reversed once per section and the row's id substituted, and
the includes' markup (``members/_field.html``, ``_form_errors.html``, ``_action_errors.html``)
is written byte for byte, with the include's trailing newline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from tenancy.models import Organization

_NEWLINE = mark_safe("\n")  # a constant
_STAND_IN_ID = 2_147_483_646  # an id no row has, replaced by each row's own


def id_url(name: str, organization: Organization, id_kwarg: str) -> Callable[[Any], str]:
    """The URL of ``name`` for any row id: reversed once, the id substituted per row."""
    head, tail = _url_around_id(name, organization.slug, id_kwarg)
    return lambda pk: f"{head}{pk}{tail}"


# (name, organization slug, id keyword, script prefix, urlconf) -> the URL around the id. The
# URL patterns do not change while a process runs; the script prefix and urlconf a request may
# set are in the key. Emptied past _MAX_URLS (a few per organization visited).
_URLS: dict[tuple, tuple[str, str]] = {}
_MAX_URLS = 4096


def _url_around_id(name: str, slug: str, id_kwarg: str) -> tuple[str, str]:
    key = (name, slug, id_kwarg, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    found = _URLS.get(key)
    if found is None:
        url = reverse(name, kwargs={"org_slug": slug, id_kwarg: _STAND_IN_ID})
        head, tail = url.split(str(_STAND_IN_ID))
        if len(_URLS) >= _MAX_URLS:
            _URLS.clear()
        found = _URLS[key] = (head, tail)
    return found


def action_errors_html(errors: Sequence[str]) -> SafeString:
    """``members/_action_errors.html`` (a row without errors, as nearly all are, is the
    include's newline alone)."""
    if not errors:
        return _NEWLINE
    items = format_html_join("", '<p class="field-error" role="alert">{}</p>', _each(errors))
    return format_html("{}\n", items)


def _each(errors: Iterable[str]) -> Iterable[tuple[str]]:
    return ((error,) for error in errors)


def form_errors_html(form: forms.Form) -> SafeString:
    """``members/_form_errors.html``: the form's non-field errors (none on a blank form)."""
    errors = form.non_field_errors() if form.is_bound else ()
    if not errors:
        return _NEWLINE
    items = format_html_join("", "<p>{}</p>", _each(errors))
    return format_html('<div class="form-errors" role="alert">{}</div>\n', items)


def field_html(field: forms.BoundField) -> SafeString:
    """``members/_field.html``: a field's label, widget and errors."""
    errors = field.errors
    if not errors:
        return format_html(
            '<div class="field">\n  <label for="{}">{}</label>{}\n  \n</div>\n',
            field.id_for_label,
            field.label,
            field,
        )
    return format_html(
        '<div class="field field-invalid">\n  <label for="{}">{}</label>{}\n'
        '  <div class="field-error" id="{}_error">{}</div>\n</div>\n',
        field.id_for_label,
        field.label,
        field,
        field.auto_id,
        format_html_join("", "<p>{}</p>", _each(errors)),
    )


class FormHtml:
    """A form's error block and fields as the page writes them (``form.html`` in the
    template), built only when the template asks."""

    def __init__(self, form: forms.Form) -> None:
        self.form = form

    @cached_property
    def errors(self) -> SafeString:
        return form_errors_html(self.form)

    @cached_property
    def fields(self) -> SafeString:
        """Every field, as ``{% for field in form %}{% include "members/_field.html" %}``."""
        return format_html_join("", "{}", ((field_html(field),) for field in self.form))

    @cached_property
    def field(self) -> _Fields:
        return _Fields(self.form)


class _Fields:
    """One field's markup by name (``form.html.field.value``)."""

    def __init__(self, form: forms.Form) -> None:
        self._form = form

    def __getitem__(self, name: str) -> SafeString:
        return field_html(self._form[name])


def with_html(form: forms.Form) -> forms.Form:
    """``form``, carrying its ``html``."""
    form.html = FormHtml(form)
    return form


# The timeline's items as ``{% for %}`` over the display rows wrote them (each item with the
# loop's whitespace around it; the ``{% empty %}`` item when there is none): forty items of
# six values each were a third of the page's template variables.
_ENGAGEMENT_ITEM = (
    '\n      <li class="timeline-item"><time datetime="{}">{}</time>\n'
    "        <strong>{}</strong> · {}{}\n"
    "        {}</li>\n    "
)
_NO_ENGAGEMENT = mark_safe('<li class="muted">No engagements yet.</li>')  # a constant
_CONTEXT_EVENT_ITEM = (
    '\n      <li class="timeline-item"><time datetime="{}">{}</time> {}: {}{}</li>\n    '
)
_NO_CONTEXT_EVENT = mark_safe('<li class="muted">No context yet.</li>')  # a constant


def engagement_items_html(rows: Sequence[Mapping[str, Any]]) -> SafeString:
    """The timeline's engagement items (``member_page_rows.engagement_rows``), every value
    escaped as the template escaped it (``format_html`` per item cost as much again)."""
    if not rows:
        return _NO_ENGAGEMENT
    esc = conditional_escape
    items = []
    for row in rows:
        by = "" if row["by"] is None else " · " + esc(row["by"])
        summary = "<p>" + esc(row["summary"]) + "</p>" if row["summary"] else ""
        items.append(
            _ENGAGEMENT_ITEM.format(
                esc(row["iso"]),
                esc(row["at"]),
                esc(row["type"]),
                esc(row["direction"]),
                by,
                summary,
            )
        )
    return SafeString("".join(items))


def context_event_items_html(rows: Sequence[Mapping[str, Any]]) -> SafeString:
    """The timeline's context items (``member_page_rows.context_event_rows``), every value
    escaped as the template escaped it."""
    if not rows:
        return _NO_CONTEXT_EVENT
    esc = conditional_escape
    items = []
    for row in rows:
        value = "" if row["value"] is None else " (" + esc(row["value"]) + ")"
        items.append(
            _CONTEXT_EVENT_ITEM.format(
                esc(row["iso"]), esc(row["day"]), esc(row["kind"]), esc(row["name"]), value
            )
        )
    return SafeString("".join(items))
