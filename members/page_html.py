"""Small pieces of Member 360's HTML written in Python instead of through ``{% url %}`` and
``{% include %}`` in the page's loops.

A page carries a couple of dozen action forms, each posting to the URL of its row twice
(``action`` and ``hx-post``), and each with its error block and fields from an include:
reversing a URL per row and rendering an include per field cost more than the rest of the
section. Here each URL pattern is reversed once per section and the row's id substituted, and
the includes' markup (``members/_field.html``, ``_form_errors.html``, ``_action_errors.html``)
is written byte for byte, with the include's trailing newline.

The longest lists are written here whole, as their template loops wrote them: the timeline's
items, and the milestones and plan commitments with their action forms (``ActionRowHtml``:
the template still writes each form's CSRF token between the parts). The goals of the
outcomes section are in ``members.member_page_goals``.
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


class ActionRowHtml:
    """A list item carrying one action form, in the two ways the page writes it.

    For a seat that may act, ``before_token`` and ``after_token``: the template writes
    ``{% csrf_token %}`` between them (only the template knows the token). For a viewer,
    ``read_only``: the item without its form. Every part is markup whose values the writer
    escaped."""

    def __init__(
        self, start: str, form_open: str, form_close: str, end: str, viewer_part: str = ""
    ) -> None:
        self._start = start
        self._form_open = form_open
        self._form_close = form_close
        self._end = end
        self._viewer_part = viewer_part

    @property
    def before_token(self) -> SafeString:
        return SafeString(self._start + self._form_open)

    @property
    def after_token(self) -> SafeString:
        return SafeString(self._form_close + self._end)

    @property
    def read_only(self) -> SafeString:
        return SafeString(self._start + self._viewer_part + self._end)


# A milestone of the timeline, as the milestones section's loop wrote it.
_MILESTONE_START = (
    '\n          <li class="milestone milestone-{status}" id="milestone-{pk}">\n'
    '            <span aria-hidden="true">{mark}</span>\n'
    "            {name}\n"
    '            <span class="muted small">{note}</span>\n'
    "            "
)
_MILESTONE_FORM_OPEN = (
    "\n              \n"
    '                <form method="post" action="{url}"\n'
    '                      hx-post="{url}" hx-target="#milestones" hx-swap="outerHTML"'
    ' class="inline-form">\n'
    "                  "
)
_MILESTONE_REOPEN = (
    '<button type="submit" class="link-button">Reopen<span class="visually-hidden">'
    " “{name}”</span></button>\n"
    "                </form>\n"
    "              \n"
    "            "
)
_MILESTONE_ACHIEVE = (
    '<button type="submit" class="button button-small">Mark achieved'
    '<span class="visually-hidden">: “{name}”</span></button>\n'
    "                </form>\n"
    "              \n"
    "            "
)
_MILESTONE_END = "\n            {errors}\n          </li>\n        "


def milestone_item_html(row: Mapping[str, Any]) -> ActionRowHtml:
    """A milestone (``member_page_rows.milestone_rows``) with its achieve or reopen form."""
    esc = conditional_escape
    name, url = esc(row["name"]), esc(row["action_url"])
    done = row["done"]
    return ActionRowHtml(
        start=_MILESTONE_START.format(
            status=esc(row["status"]),
            pk=esc(row["pk"]),
            mark="✓" if done else "○",
            name=name,
            note=esc(row["note"]),
        ),
        form_open=_MILESTONE_FORM_OPEN.format(url=url),
        form_close=(_MILESTONE_REOPEN if done else _MILESTONE_ACHIEVE).format(name=name),
        end=_MILESTONE_END.format(errors=esc(row["errors_html"])),
    )


# A commitment of a goal's plan, as the plan section's loop wrote it.
_COMMITMENT_START = (
    '\n                <li class="commitment{done_class}" id="commitment-{pk}">\n                  '
)
_COMMITMENT_FORM_OPEN = (
    "\n                    \n"
    '                      <form method="post" action="{url}"\n'
    '                            hx-post="{url}" hx-target="#plan" hx-swap="outerHTML"'
    ' class="inline-form">\n'
    "                        "
)
_COMMITMENT_UNTICK = (
    '<button type="submit" class="tick tick-done" title="Untick">'
    '<span aria-hidden="true">✓</span>'
    '<span class="visually-hidden">Untick “{description}”</span></button>\n'
    "                      </form>\n"
    "                    \n"
    "                  "
)
_COMMITMENT_TICK = (
    '<button type="submit" class="tick" title="Tick as done">'
    '<span aria-hidden="true">○</span>'
    '<span class="visually-hidden">Tick “{description}” as done</span></button>\n'
    "                      </form>\n"
    "                    \n"
    "                  "
)
_COMMITMENT_MARK = (
    '\n                    <span aria-hidden="true">{mark}</span>\n                  '
)
_COMMITMENT_END = (
    '\n                  <div>{description}<span class="visually-hidden">{state}</span>\n'
    "                    {errors}</div>\n"
    "                </li>\n"
    "              "
)


def commitment_item_html(
    *, pk: int, description: str, done: bool, action_url: str, errors_html: SafeString
) -> ActionRowHtml:
    """A commitment of the plan with its tick or untick form (a viewer sees the mark)."""
    esc = conditional_escape
    description = esc(description)
    return ActionRowHtml(
        start=_COMMITMENT_START.format(done_class=" commitment-done" if done else "", pk=esc(pk)),
        form_open=_COMMITMENT_FORM_OPEN.format(url=esc(action_url)),
        form_close=(_COMMITMENT_UNTICK if done else _COMMITMENT_TICK).format(
            description=description
        ),
        end=_COMMITMENT_END.format(
            description=description,
            state=" (done)" if done else " (open)",
            errors=esc(errors_html),
        ),
        viewer_part=_COMMITMENT_MARK.format(mark="✓" if done else "○"),
    )
