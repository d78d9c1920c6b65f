"""The admin's export page, under ``/o/<org_slug>/settings/export/``.

Admins only, reads included: an export holds everything the organization knows. POST queues an
export for the worker; the page lists the latest ones with their progress (htmx polls the list
while one is unfinished; without JavaScript, a refresh shows the same) and a download link for
the finished ones. The download reads the export through the request's organization, so another
organization's id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portability.exporting import export_path
from portability.selectors import data_export_for_download, data_exports_recent, exports_pending
from portability.services import data_export_request
from tenancy.settings_views import admin_only

TEMPLATE = "portability/export.html"


@admin_only
@require_http_methods(["GET", "HEAD", "POST"])
def export_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The latest exports and the button to start one."""
    if request.method == "POST":
        export = data_export_request(organization=request.organization, requested_by=request.seat)
        if not request.htmx:
            messages.success(request, f"Export #{export.pk} is queued for the worker.")
            return redirect("portability:export", org_slug=request.organization.slug)
    exports = data_exports_recent(organization=request.organization)
    context = {"exports": exports, "pending": exports_pending(exports)}
    template = f"{TEMPLATE}#area" if request.htmx else TEMPLATE
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


@admin_only
def export_download(request: HttpRequest, org_slug: str, export_id: int) -> HttpResponse:
    """The finished zip, as an attachment. The export is looked up before the method is
    checked, so another organization's id is a 404 whatever the method."""
    export = data_export_for_download(organization=request.organization, export_id=export_id)
    path = export_path(export) if export is not None else None
    if path is None or not path.is_file():
        raise Http404("No such export file.")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
    response["Cache-Control"] = "no-store"
    return response
