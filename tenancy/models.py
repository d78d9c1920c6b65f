"""Tenants and the people who work in them.

An ``Organization`` is a tenant. A ``User`` is a global identity (login by email) who holds a
``Seat`` in one or more organizations; the seat carries the role. Every row of member data
derives from ``TenantModel`` and so belongs to exactly one organization.
"""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from tenancy.managers import TenantManager, UserManager
from tenancy.scope import UnscopedQueryError, current_organization_id, organization_scope


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (try Europe/Paris or UTC).")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="May log in to the Django admin (Tandem's own operators only)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Organization(models.Model):
    """A tenant: an association or any member-based organization."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class TenantModel(models.Model):
    """Base of every tenant row: an organization, a fail-closed manager, a guarded save."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        scope = current_organization_id()
        if scope is not None and self.organization_id != scope:
            raise UnscopedQueryError(
                f"Refusing to write a {type(self).__name__} of organization "
                f"{self.organization_id} inside the scope of organization {scope}."
            )
        super().save(*args, **kwargs)

    # Django checks uniqueness through the default manager, which needs a scope: the row's own
    # organization is the right one (every unique constraint here begins with it). The
    # organization is never excluded, even where a form shows it read-only, or every constraint
    # would go unchecked and a duplicate would fail on save instead of as a field error.
    def validate_unique(self, exclude=None) -> None:
        if self.organization_id is None:
            return  # the missing organization is reported by clean_fields
        with organization_scope(self.organization_id):
            super().validate_unique(exclude=set(exclude or ()) - {"organization"})

    def validate_constraints(self, exclude=None) -> None:
        if self.organization_id is None:
            return
        with organization_scope(self.organization_id):
            super().validate_constraints(exclude=set(exclude or ()) - {"organization"})


class SeatManager(TenantManager):
    def for_user(self, user: User) -> models.QuerySet[Seat]:
        """A user's own seats across organizations: the one cross-organization read we allow,
        keyed by the signed-in identity (for the organization chooser and request resolution)."""
        return self.unscoped().filter(user=user).select_related("organization")


class Seat(TenantModel):
    """A user's place in an organization, with the role that decides what they may do."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MSM = "msm", "Member Success Manager"
        VIEWER = "viewer", "Viewer"

    # Higher ranks include the powers of lower ones.
    RANK = {Role.VIEWER: 1, Role.MSM: 2, Role.ADMIN: 3}

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="seats")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="seats")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MSM)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SeatManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="seat_unique_per_org_user"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "msm", "viewer"]), name="seat_role_valid"
            ),
        ]
        ordering = ["organization", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} at {self.organization}"

    def has_role(self, role: str) -> bool:
        """True when this seat's role is at least ``role`` (admin ⊇ msm ⊇ viewer)."""
        return self.RANK[Seat.Role(self.role)] >= self.RANK[Seat.Role(role)]


class DomainEvent(TenantModel):
    """Something that happened in the domain that other parts react to (orchestration triggers,
    webhooks). Written in the same transaction as the change; consumers mark what they handled."""

    class Kind(models.TextChoices):
        BAND_CHANGED = "member.band_changed", "Member band changed"
        MILESTONE_ACHIEVED = "milestone.achieved", "Milestone achieved"
        GOAL_STATUS_CHANGED = "goal.status_changed", "Goal status changed"
        EVENT_CONFIRMED = "event.confirmed", "Orchestrated event confirmed"
        NUDGE_FAILED = "nudge.failed", "Nudge failed"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    subject_id = models.BigIntegerField(help_text="The id of the row the event is about.")
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "pk"]
        indexes = [
            models.Index(
                fields=["organization", "kind", "occurred_at"], name="domainevent_org_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.subject_id}"


class ApiKeyManager(TenantManager):
    def live_with_prefix(self, prefix: str) -> models.QuerySet[ApiKey]:
        """Keys not revoked whose shown prefix is ``prefix``, in every organization.

        The one cross-organization read of keys, and unavoidable: an API request carries only
        the key, and the key is what names its organization. The caller must still compare the
        full key's hash before trusting a row (``tenancy.selectors.api_key_for_secret``).
        """
        return (
            self.unscoped()
            .filter(prefix=prefix, revoked_at__isnull=True)
            .select_related("organization")
        )


class ApiKey(TenantModel):
    """A secret an integrator's program presents to the API, on behalf of one organization.

    Only the SHA-256 of the key is stored: the key itself is shown once, when it is created.
    ``prefix`` (the first characters after ``tdm_``) is kept in clear to find the row and to let
    an admin tell keys apart.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"

    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the full key, in hex.")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "prefix"], name="apikey_unique_prefix"),
        ]
        indexes = [
            # Authentication finds a key by its prefix before it knows the organization.
            models.Index(
                fields=["prefix"], condition=models.Q(revoked_at__isnull=True), name="apikey_live"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (tdm_{self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyRecord(TenantModel):
    """The first answer to a POST sent with an ``Idempotency-Key`` header, kept for a day so a
    client that retries (after a timeout, say) gets the same answer and nothing is written twice.

    ``principal`` is the key or seat that sent it (``key:12``), so two integrators never share
    keys. A row without ``status_code`` is a request still running.
    """

    principal = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "principal", "key"], name="idempotency_unique_key"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="idempotency_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class WorkerJob:
    """The page-facing state of a row a worker carries from queued to done or failed (a CSV
    import, a data export): whether it is over, and how far it got. The model names its
    ``FINISHED`` statuses and the field counting the rows done (``progress_field``); the bar
    stops at 99 % until the worker says it is done."""

    FINISHED: frozenset[str]
    progress_field: str

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        """How far the worker got, 0–100."""
        if self.status == "done":
            return 100
        if not self.total_rows:
            return 0
        return min(99, getattr(self, self.progress_field) * 100 // self.total_rows)
