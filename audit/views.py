"""The admin's audit trail page, under ``/o/<org_slug>/settings/audit/``: newest first,
paginated, filtered by actor, record type, action, record id and dates. The filters swap the
results in place with htmx and work as a plain GET form without JavaScript."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.forms import AuditFilterForm
from audit.selectors import audit_entries_for_list, audit_model_labels
from tenancy.access import require_role
from tenancy.models import Seat

PAGE_SIZE = 50
TEMPLATE = "audit/settings_audit.html"


@require_safe
@require_role(Seat.Role.ADMIN, read_role=Seat.Role.ADMIN)
def audit_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    form = AuditFilterForm(
        request.GET or None, model_labels=audit_model_labels(organization=organization)
    )
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "actor": data["actor"].strip(),
            "model_label": data["model"],
            "action": data["action"].strip(),
            "object_id": data["object_id"],
            "since": data["since"],
            "until": data["until"],
        }
    entries = audit_entries_for_list(organization=organization, **filters)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = f"{TEMPLATE}#results" if request.htmx else TEMPLATE
    return render(request, template, context)
