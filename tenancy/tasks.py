"""Housekeeping tasks of the tenancy app."""

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(name="tenancy.clear_expired_sessions", max_retries=3, acks_late=True)
def clear_expired_sessions() -> int:
    """Delete expired login sessions (idempotent: a second run deletes nothing more)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
