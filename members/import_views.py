"""CSV import of members: the upload form, and a status page that follows the worker."""

from __future__ import annotations

import functools

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from members.imports import COLUMNS, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, member_import_create
from members.models import MemberImport
from tenancy.access import require_role
from tenancy.models import Seat

IMPORTS_PAGE_SIZE = 10
REFUSED_PAGE_SIZE = 50


class MemberImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV, at most 5 MB, with a header row.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,text/csv", "aria-describedby": "id_file_help"}
        ),
    )

    def clean_file(self):
        """Refuse a file over the limit before reading it (the service checks again)."""
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(
                f"This file is {upload.size / (1024 * 1024):.1f} MB; the largest file we "
                f"import is {MAX_IMPORT_BYTES // (1024 * 1024)} MB. Split it and import the "
                "parts one by one."
            )
        return upload


def _recent_imports(request: HttpRequest):
    imports = (
        MemberImport.objects.for_org(request.organization)
        .defer("content", "refused")
        .select_related("created_by__user")
    )
    return Paginator(imports, IMPORTS_PAGE_SIZE).get_page(request.GET.get("page"))


@require_role(Seat.Role.MSM, read_role=Seat.Role.MSM)
def member_import(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Upload a CSV of members; the worker imports it and the status page follows along."""
    form = MemberImportForm()
    if request.method == "POST":
        form = MemberImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                created = member_import_create(
                    organization=request.organization,
                    created_by=request.seat,
                    file_name=upload.name,
                    content=upload.read(),
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                return redirect(
                    "members_extra:import_status", org_slug=org_slug, import_id=created.pk
                )
    context = {
        "form": form,
        "imports": _recent_imports(request),
        "columns": COLUMNS,
        "max_rows": f"{MAX_IMPORT_ROWS:,}",
    }
    return render(request, "members/import.html", context, status=400 if form.errors else 200)


def with_import(view):
    """Fetch the URL's import through the request-scoped manager before anything else
    answers, so another organization's id is a 404 whatever the method."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, import_id: int, **kwargs):
        queryset = MemberImport.objects.defer("content").select_related("created_by__user")
        return view(request, org_slug, get_object_or_404(queryset, pk=import_id), **kwargs)

    return wrapper


@require_role(Seat.Role.MSM, read_role=Seat.Role.MSM)
@with_import
@require_safe
def member_import_status(
    request: HttpRequest, org_slug: str, member_import: MemberImport
) -> HttpResponse:
    """Where the import stands; htmx polls the progress fragment until the import finishes."""
    refused = None
    if member_import.is_finished and member_import.refused:
        refused = Paginator(member_import.refused, REFUSED_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    context = {"member_import": member_import, "refused": refused}
    template = "members/import_status.html"
    return render(request, f"{template}#progress" if request.htmx else template, context)
