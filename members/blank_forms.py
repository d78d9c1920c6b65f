"""Member 360's blank forms, each kind built and rendered once per process.

The outcomes section carries one blank form per desired outcome (add a goal), per goal
(record progress) and per condition (assess it). They differ only in their ids (the
``auto_id`` prefix, ``id_<key>_``), yet building a Django form (a deep copy of its fields) and
rendering its widgets cost about as much as the rest of the section. Here each kind is built
once, with a stand-in key, its markup rendered once when a template first asks, and each
row's copy is that markup with the row's key substituted. A failed action's bound form is not
blank: it is rendered by itself (``members.member_page._form``).

A blank form's markup depends on nothing but its class, its arguments (a GoalForm's initial
start date: today in the organization's time zone) and the active language, which together
key the kinds kept (a few a day; the store is emptied when it grows past ``_MAX_KINDS``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from members.page_html import FormHtml
from members.widget_html import PLAIN_WIDGETS

_NEWLINE = mark_safe("\n")  # a blank form's error block (a constant)
_STAND_IN_KEY = "standin2147483646"  # a key no row has, replaced by each row's own
_STAND_IN_ID = f"id_{_STAND_IN_KEY}_"


class _Template:
    """One blank form of a kind, with the stand-in key, and its markup once rendered."""

    def __init__(self, form_class: type[forms.Form], kwargs: dict[str, Any]) -> None:
        form = form_class(auto_id=f"{_STAND_IN_ID}%s", renderer=PLAIN_WIDGETS, **kwargs)
        self.html = FormHtml(form)
        self.field_names = frozenset(form.fields)
        self._fields: dict[str, SafeString] = {}

    def field(self, name: str) -> SafeString:
        if name not in self._fields:
            self._fields[name] = self.html.field[name]
        return self._fields[name]


_MAX_KINDS = 256
_TEMPLATES: dict[tuple, _Template] = {}


def blank_form(form_class: type[forms.Form], key: str, **kwargs: Any) -> BlankForm:
    """The blank ``form_class`` whose ids start ``id_<key>_``, as ``form_class(auto_id=
    "id_<key>_%s", renderer=PLAIN_WIDGETS, **kwargs)`` with ``with_html`` would write it
    (``kwargs``: plain values whose ``repr`` tells them apart, such as dates)."""
    kind = (form_class, repr(sorted(kwargs.items())), get_language())
    template = _TEMPLATES.get(kind)
    if template is None:
        if len(_TEMPLATES) >= _MAX_KINDS:
            _TEMPLATES.clear()
        template = _TEMPLATES[kind] = _Template(form_class, kwargs)
    return BlankForm(template, f"id_{key}_")


def blank_form_showing(form_class: type[forms.Form], shown: tuple, **kwargs: Any) -> BlankForm:
    """The blank ``form_class`` with Django's own ids (``id_<field>``), as ``form_class(
    renderer=PLAIN_WIDGETS, **kwargs)`` with ``with_html`` would write it, for a form whose
    markup shows rows read with the page (the seats a hand-over form offers): ``shown`` is
    all that the markup shows of ``kwargs`` (ids, labels, the initial choice), so a kind is
    kept per what it shows and a changed row is a new kind, never a stale one."""
    kind = (form_class, shown, get_language())
    template = _TEMPLATES.get(kind)
    if template is None:
        if len(_TEMPLATES) >= _MAX_KINDS:
            _TEMPLATES.clear()
        template = _TEMPLATES[kind] = _Template(form_class, kwargs)
    return BlankForm(template, "id_")


class _BlankField:
    """A blank form's field as the template reads it around the markup: no errors."""

    errors = ()


_BLANK_FIELD = _BlankField()


class BlankForm:
    """What the page's template reads of a blank form: ``is_bound``, ``html`` (its error
    block, its fields, one field by name) and each field's (empty) ``errors``."""

    is_bound = False

    def __init__(self, template: _Template, id_prefix: str) -> None:
        self._template = template
        self._id_prefix = id_prefix

    def __getitem__(self, name: str) -> _BlankField:
        if name not in self._template.field_names:
            raise KeyError(name)
        return _BLANK_FIELD

    @cached_property
    def html(self) -> _BlankFormHtml:
        return _BlankFormHtml(self)

    def _own(self, markup: SafeString) -> SafeString:
        """``markup`` with this form's ids: an id prefix of a key (letters, digits, a hyphen)
        in safe markup leaves it safe."""
        return SafeString(markup.replace(_STAND_IN_ID, self._id_prefix))


class _BlankFormHtml:
    """``FormHtml`` of a blank form, from its kind's markup."""

    errors = _NEWLINE

    def __init__(self, form: BlankForm) -> None:
        self._form = form

    @cached_property
    def fields(self) -> SafeString:
        return self._form._own(self._form._template.html.fields)

    @cached_property
    def field(self) -> _BlankFields:
        return _BlankFields(self._form)


class _BlankFields:
    def __init__(self, form: BlankForm) -> None:
        self._form = form

    def __getitem__(self, name: str) -> SafeString:
        return self._form._own(self._form._template.field(name))
