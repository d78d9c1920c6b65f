"""One row per change: the audit trail an organization's admins browse.

Rows are append-only. Nothing in the product updates or deletes them: ``save`` refuses an
existing row, ``delete`` refuses always, and the default manager's querysets refuse
``update``/``delete``. Only the database's own cascades touch them (an organization removed
takes its trail along; a seat or key removed leaves ``actor_label`` to say who it was).
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from tenancy.managers import TenantManager, TenantQuerySet
from tenancy.models import ApiKey, Seat, TenantModel


class AuditEntryIsAppendOnly(RuntimeError):
    """An audit entry was about to be changed or removed."""


class AuditEntryQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise AuditEntryIsAppendOnly("Audit entries are never updated.")

    def delete(self):
        raise AuditEntryIsAppendOnly("Audit entries are never deleted.")

    # ``update`` is used by QuerySet.update_or_create and friends; they are refused as well.


class AuditEntryManager(TenantManager.from_queryset(AuditEntryQuerySet)):
    pass


class AuditEntry(TenantModel):
    class ActorKind(models.TextChoices):
        SEAT = "seat", "Seat"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(
        max_length=10, choices=ActorKind.choices, default=ActorKind.SYSTEM
    )
    seat = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, help_text="Who it was, kept when the seat or key is gone."
    )
    action = models.CharField(
        max_length=60, help_text="create, update, delete, or a domain verb like goal.abandon."
    )
    model_label = models.CharField(max_length=100, help_text="e.g. members.Member")
    object_id = models.BigIntegerField(
        null=True, blank=True, help_text="None for a summary of a set-based run."
    )
    object_label = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text="{field: [before, after]} for updates; the values written for creates.",
    )
    request_id = models.CharField(max_length=200, blank=True)

    objects = AuditEntryManager()

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "at"], name="auditentry_org_at"),
            models.Index(
                fields=["organization", "model_label", "object_id"], name="auditentry_org_object"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.model_label} #{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditEntryIsAppendOnly("Audit entries are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryIsAppendOnly("Audit entries are never deleted.")

    @property
    def is_update(self) -> bool:
        return self.action == self.Action.UPDATE

    def change_rows(self) -> list[tuple[str, object, object, bool]]:
        """``(field, before, after, is_pair)`` for the page: updates (and domain verbs that
        record pairs) show before → after; creates and summaries show the value alone."""
        rows = []
        for field, value in sorted((self.changes or {}).items()):
            if isinstance(value, list) and len(value) == 2 and self.action != self.Action.CREATE:
                rows.append((field, value[0], value[1], True))
            else:
                rows.append((field, None, value, False))
        return rows
