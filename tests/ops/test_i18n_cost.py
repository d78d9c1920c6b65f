"""Translation is off (``USE_I18N = False``: an English-only product, and every gettext and
get_language cost an active-language lookup on each call). What readers see must not change:
Django's and our messages in English, en-us formats for dates and numbers."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.template import Context, Template
from django.utils import formats, translation
from django.utils.translation import gettext, gettext_lazy, ngettext

from tenancy.models import Seat


class _NameForm(forms.Form):
    name = forms.CharField()


def test_translation_is_off_and_the_language_is_still_en_us():
    assert settings.USE_I18N is False
    assert settings.LANGUAGE_CODE == "en-us"
    assert translation.get_language() == "en-us"


def test_messages_read_as_written():
    assert gettext("Save") == "Save"
    assert str(gettext_lazy("Open the organization")) == "Open the organization"
    assert ngettext("%(n)s member", "%(n)s members", 1) == "%(n)s member"
    assert ngettext("%(n)s member", "%(n)s members", 2) == "%(n)s members"
    assert Seat.Role(Seat.Role.MSM).label == str(Seat.Role.MSM.label)
    form = _NameForm(data={})
    assert form.errors == {"name": ["This field is required."]}


def test_dates_and_numbers_keep_the_en_us_formats():
    day = dt.date(2026, 3, 5)
    assert formats.date_format(day) == "March 5, 2026"
    assert formats.date_format(day, "SHORT_DATE_FORMAT") == "03/05/2026"
    assert formats.number_format(1234.5, 1, force_grouping=True) == "1,234.5"
    rendered = Template("{{ day|date }} {{ day|date:'D j M' }}").render(Context({"day": day}))
    assert rendered == "March 5, 2026 Thu 5 Mar"
