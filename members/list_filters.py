"""The fields of the filters above the members table (My book and the member list).

Every book and list page shows the same five filters, and nearly every visit shows them with the
same few values (none, a band and a sort, a page). Rendered through ``_filters.html``'s loop,
each visit paid a template loop and five widget renders, about a third of the page's template
time. Here the fields' markup is written in Python, byte for byte what the loop wrote, and kept
per process by everything it is made of: the filter values asked for, the tier choices (read
from the database on every visit, so never stale) and the language. It is markup, not data:
two requests with the same key get the same text whoever makes them.
"""

from __future__ import annotations

from collections.abc import Hashable

from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from members.forms import MemberFilterForm

FIELD = (
    '\n    <div class="field field-inline{invalid}">\n'
    '      <label for="{id}">{label}</label>\n'
    "      {widget}\n"
    "      {errors}\n"
    "    </div>\n  "
)
# Distinct filter values seen by one process; cleared past this size (searches are free text).
FIELDS_KEPT = 512

_kept: dict[Hashable, SafeString] = {}


def _key(form: MemberFilterForm) -> Hashable:
    """Everything the fields' markup depends on: the values asked for, the choices offered."""
    values = None
    if form.is_bound:
        values = tuple((name, tuple(form.data.getlist(name))) for name in form.fields)
    tiers = tuple(form.fields["tier"].choices)
    return (values, tiers, get_language())


def _write(form: MemberFilterForm) -> SafeString:
    parts = []
    for field in form:
        errors = field.errors
        parts.append(
            FIELD.format(
                invalid=" field-invalid" if errors else "",
                id=conditional_escape(field.id_for_label),
                label=conditional_escape(field.label),
                widget=field,
                errors="".join(
                    f'<p class="field-error">{conditional_escape(error)}</p>' for error in errors
                ),
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or safe


def filter_fields(form: MemberFilterForm) -> SafeString:
    """The form's fields as ``_filters.html`` lays them out (label, widget, errors)."""
    key = _key(form)
    markup = _kept.get(key)
    if markup is None:
        if len(_kept) >= FIELDS_KEPT:
            _kept.clear()
        markup = _kept[key] = _write(form)
    return markup
