"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the live server."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make
# here are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    assert os.path.exists(CHROMIUM), f"Browser tests need Chromium at {CHROMIUM} (make chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def audit_covers_every_write(live_server):
    """Every row a browser test creates or changes — through the pages or through the
    factories that set the scene — has its audit entry, or its model a summary entry, by the
    end of the test (issue 8: "the audit trail visible for every write made in the browser
    tests"). Rows are found by their own timestamps (created_at, updated_at, recorded_at), so
    models that keep none, and updates that leave the timestamp alone, are not checked here;
    tests/audit covers those writes one by one.

    It asks for ``live_server`` so that it runs after the database is ready and checks before
    the database is emptied."""
    from django.utils import timezone

    started = timezone.now()
    yield
    missing = unaudited_rows(since=started)
    assert not missing, f"rows written with no audit entry: {missing[:10]}"


def unaudited_rows(*, since) -> list[str]:
    """``label #id`` of the rows stamped at or after ``since`` that no audit entry names."""
    from django.db import models

    from audit.capture import audited_models
    from audit.models import AuditEntry
    from tenancy.models import Organization
    from tenancy.scope import organization_scope

    missing = []
    for organization in Organization.objects.order_by("pk"):
        with organization_scope(organization):
            named = set(
                AuditEntry.objects.filter(at__gte=since).values_list("model_label", "object_id")
            )
            summarised = {label for label, object_id in named if object_id is None}
            for model in audited_models():
                label = model._meta.label
                stamps = [
                    field.name
                    for field in model._meta.concrete_fields
                    if isinstance(field, models.DateTimeField)
                    and (field.auto_now or field.auto_now_add)
                ]
                if not stamps or label in summarised:
                    continue
                changed = models.Q()
                for stamp in stamps:
                    changed |= models.Q(**{f"{stamp}__gte": since})
                for pk in model.objects.filter(changed).values_list("pk", flat=True):
                    if (label, pk) not in named:
                        missing.append(f"{label} #{pk}")
    return missing
