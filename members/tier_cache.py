"""The cache of each organization's member tiers (the filter's choices on My book and the
member list), and what drops it.

Every book and list page offered the tiers, and reading them was a ``SELECT DISTINCT`` over the
organization's members on each request, for a short list that rarely changes. The entry is keyed
by organization and dropped when a member is saved with its tier (created, corrected, upgraded
or downgraded) or deleted: the signals below, connected when this module is first imported
(``members.selectors`` imports it, and every member service imports the selectors). Bulk writes
send no signal, so whoever bulk-writes members calls ``forget_member_tiers``; an expiry bounds
what a missed drop can cost, and ``members.selectors.member_tiers`` reads afresh when a request
asks for a tier the cached list does not know yet.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from members.models import Member

# Seconds a cached list lives at most (a missed drop, another process's cache).
TIERS_TIMEOUT = 300


def tiers_key(organization_id: int) -> str:
    return f"members:tiers:{organization_id}"


def cached_tiers(organization_id: int) -> list[str] | None:
    return cache.get(tiers_key(organization_id))


def cache_tiers(organization_id: int, tiers: list[str]) -> None:
    cache.set(tiers_key(organization_id), tiers, TIERS_TIMEOUT)


def forget_member_tiers(organization_id: int) -> None:
    """Drop the organization's cached tiers now and again once the transaction commits, so a
    request that read the old rows meanwhile cannot leave them cached."""
    key = tiers_key(organization_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def _member_saved(
    sender: type[Member], instance: Member, update_fields: Any = None, **kwargs: Any
) -> None:
    if kwargs.get("raw") or (update_fields is not None and "tier" not in update_fields):
        return
    forget_member_tiers(instance.organization_id)


def _member_deleted(sender: type[Member], instance: Member, **kwargs: Any) -> None:
    forget_member_tiers(instance.organization_id)


def connect() -> None:
    """Connect the drops (idempotent: the dispatch uids keep one receiver each)."""
    post_save.connect(_member_saved, sender=Member, dispatch_uid="member-tiers-save")
    post_delete.connect(_member_deleted, sender=Member, dispatch_uid="member-tiers-delete")


connect()
