"""Celery tasks for members: thin, scoped to one organization, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from members.imports import member_import_fail, member_import_run
from members.models import MemberImport
from tenancy.models import Organization
from tenancy.scope import scoped_task

MAX_RETRIES = 3


@shared_task(
    name="members.import_members",
    bind=True,
    acks_late=True,
    max_retries=MAX_RETRIES,
    default_retry_delay=10,
)
@scoped_task
def import_members(self, *, import_id: int, organization_id: int) -> str:
    """Run one CSV import. A database error is retried (nothing of the import was committed);
    after the last retry, or on any other error, the import is marked failed so its page stops
    waiting, and the error is raised for the worker's log."""
    organization = Organization.objects.get(pk=organization_id)
    member_import = MemberImport.objects.filter(pk=import_id).first()
    if member_import is None:
        return "missing"
    try:
        return member_import_run(organization=organization, member_import=member_import).status
    except DatabaseError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc) from exc
        _give_up(organization, member_import)
        raise
    except Exception:
        _give_up(organization, member_import)
        raise


def _give_up(organization: Organization, member_import: MemberImport) -> None:
    member_import_fail(
        organization=organization,
        member_import=member_import,
        error="The worker could not finish this import, so nothing of it was imported. "
        "Upload the file again; if it fails again, tell your administrator.",
    )
