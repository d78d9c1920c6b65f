"""Writes for tenancy: organizations, users and their seats, API keys, each in a transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Final

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from tenancy.models import ApiKey, Organization, Seat, User
from tenancy.rules import require_same_organization

API_KEY_TAG: Final = "tdm_"
API_KEY_PREFIX_LENGTH: Final = 8
# A key is used many times a minute; its "last used" is kept to the minute, not written each time.
API_KEY_USE_RESOLUTION: Final = dt.timedelta(minutes=1)


@transaction.atomic
def organization_ensure(*, slug: str, name: str, time_zone: str = "UTC") -> Organization:
    """Create the organization with this slug, or bring an existing one up to date."""
    organization, _ = Organization.objects.update_or_create(
        slug=slug, defaults={"name": name, "time_zone": time_zone}
    )
    organization.full_clean()
    return organization


@transaction.atomic
def user_ensure(*, email: str, full_name: str = "", password_hash: str) -> User:
    """Create a user with an already hashed password, or return the existing one unchanged.

    Taking the hash lets a caller hash a shared demo password once (hashing is deliberately slow).
    """
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(email=email.lower(), full_name=full_name, password=password_hash)
        user.full_clean()
        user.save()
    return user


@transaction.atomic
def seat_ensure(*, organization: Organization, user: User, role: str) -> Seat:
    """Give ``user`` a seat in ``organization`` with ``role`` (one seat per pair)."""
    seat, _ = Seat.objects.for_org(organization).update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return seat


# --- seats -----------------------------------------------------------------------------------


def _check_role(role: object) -> str | None:
    if role not in Seat.Role.values:
        return f"Choose a role: {', '.join(Seat.Role.values)}."
    return None


def _admin_ids_locked(organization: Organization) -> list[int]:
    """The organization's admin seats, locked until commit (on PostgreSQL), so two admins
    demoting or removing each other at once cannot leave the organization without one."""
    return list(
        Seat.objects.for_org(organization)
        .filter(role=Seat.Role.ADMIN)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _is_last_admin(organization: Organization, seat: Seat) -> bool:
    admins = _admin_ids_locked(organization)
    return admins == [seat.pk]


@transaction.atomic
def seat_invite(*, organization: Organization, email: str, role: str, full_name: str = "") -> Seat:
    """Give a person a seat with ``role``, creating their user when the email is new.

    A new user gets an unusable password: they choose one through a set-password link (a
    Django password-reset token, made by the page that shows it). An existing user keeps their
    password and simply finds the organization in their chooser.
    """
    errors: dict[str, str] = {}
    email = email.strip().lower() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Give a valid email address, e.g. sam@example.org."
    role_error = _check_role(role)
    if role_error:
        errors["role"] = role_error
    full_name = full_name.strip() if isinstance(full_name, str) else ""
    if len(full_name) > User._meta.get_field("full_name").max_length:
        errors["full_name"] = "Keep the name to 200 characters."
    user = None if "email" in errors else User.objects.filter(email__iexact=email).first()
    if user is not None and Seat.objects.for_org(organization).filter(user=user).exists():
        errors["email"] = "This person already has a seat in this organization."
    if errors:
        raise ValidationError(errors)
    if user is None:
        user = User(email=email, full_name=full_name)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    try:
        with transaction.atomic():
            return Seat.objects.for_org(organization).create(
                organization=organization, user=user, role=role
            )
    except IntegrityError:  # a concurrent invite of the same person won
        raise ValidationError(
            {"email": "This person already has a seat in this organization."}
        ) from None


@transaction.atomic
def seat_change_role(*, organization: Organization, seat: Seat, role: str) -> Seat:
    """Change a seat's role. The last admin stays an admin (someone must be able to configure
    the organization), and a seat that owns members cannot become a viewer (viewers own no
    accounts): hand the members over first."""
    require_same_organization(organization, seat=seat)
    role_error = _check_role(role)
    if role_error:
        raise ValidationError({"role": role_error})
    if role == seat.role:
        return seat
    if seat.role == Seat.Role.ADMIN and _is_last_admin(organization, seat):
        raise ValidationError(
            {"role": "This is the organization's last admin: make someone else admin first."}
        )
    if role == Seat.Role.VIEWER:
        from members.models import Member

        owned = Member.objects.for_org(organization).filter(owner_id=seat.pk).count()
        if owned:
            raise ValidationError(
                {
                    "role": f"This seat owns {owned} member{'s' if owned != 1 else ''}; viewers "
                    "own no accounts, so hand them over first."
                }
            )
    Seat.objects.for_org(organization).filter(pk=seat.pk).update(role=role)
    audit_record(
        organization=organization,
        action="seat.change_role",
        instance=seat,
        changes={"role": [seat.role, role]},
    )
    seat.role = role
    return seat


@transaction.atomic
def seat_remove(*, organization: Organization, seat: Seat, removed_by: Seat | None = None) -> int:
    """Take a seat away; returns how many members it owned (they are left without an owner, with
    the hand-off kept in their history, until someone or a coverage pool takes them).

    The person's user stays (they may hold seats elsewhere). The last admin cannot be removed.
    """
    require_same_organization(organization, seat=seat, removed_by=removed_by)
    if seat.role == Seat.Role.ADMIN and _is_last_admin(organization, seat):
        raise ValidationError(
            {"seat": "This is the organization's last admin: make someone else admin first."}
        )
    from members.models import Member, OwnershipChange

    owned = list(
        Member.objects.for_org(organization).filter(owner_id=seat.pk).values_list("pk", flat=True)
    )
    now = timezone.now()
    OwnershipChange.objects.for_org(organization).bulk_create(
        [
            OwnershipChange(
                organization=organization,
                member_id=member_id,
                from_seat=None,  # the seat is going; the note keeps who it was
                to_seat=None,
                changed_by=removed_by,
                changed_at=now,
                note=f"{seat.user.email} left the organization.",
            )
            for member_id in owned
        ],
        batch_size=500,
    )
    Member.objects.for_org(organization).filter(owner_id=seat.pk).update(owner=None, updated_at=now)
    if owned:  # the seat's own removal is recorded by the delete signal
        audit_record(
            organization=organization,
            action="seat.remove.unassign_members",
            instance=seat,
            changes={"members_unassigned": owned},
        )
    Seat.objects.for_org(organization).filter(pk=seat.pk).delete()
    return len(owned)


# --- API keys --------------------------------------------------------------------------------


def api_key_hash(secret: str) -> str:
    """The stored form of a key: SHA-256 in hex. Keys are long random strings, so a fast hash
    is enough (there is nothing to brute-force that is shorter than the key itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_prefix(secret: str) -> str | None:
    """The prefix a key is found by: the first characters after ``tdm_``, or None when the
    text is not shaped like one of our keys."""
    if not secret.startswith(API_KEY_TAG):
        return None
    prefix = secret[len(API_KEY_TAG) : len(API_KEY_TAG) + API_KEY_PREFIX_LENGTH]
    return prefix if len(prefix) == API_KEY_PREFIX_LENGTH else None


def _api_key_errors(
    name: object, scopes: object, created_by: Seat | None
) -> tuple[str, list[str], dict[str, str]]:
    errors: dict[str, str] = {}
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = "Name the key after what will use it, e.g. 'CRM sync'."
    elif len(name) > ApiKey._meta.get_field("name").max_length:
        errors["name"] = "Keep the name to 100 characters."
    chosen: list[str] = []
    if isinstance(scopes, Iterable) and not isinstance(scopes, str | bytes):
        chosen = list(dict.fromkeys(scopes))
    if not chosen or any(scope not in ApiKey.Scope.values for scope in chosen):
        errors["scopes"] = f"Choose one or more of: {', '.join(ApiKey.Scope.values)}."
    if created_by is not None and not created_by.has_role(Seat.Role.ADMIN):
        errors["created_by"] = "Only an admin can create API keys."
    order = {scope: index for index, scope in enumerate(ApiKey.Scope.values)}
    return name, sorted(chosen, key=lambda scope: order.get(scope, 99)), errors


@transaction.atomic
def api_key_create(
    *, organization: Organization, name: str, scopes: Iterable[str], created_by: Seat | None
) -> tuple[ApiKey, str]:
    """Make a key for the organization; returns the row and the full key, which is not stored
    and so can be shown only this once."""
    require_same_organization(organization, created_by=created_by)
    name, chosen, errors = _api_key_errors(name, scopes, created_by)
    if errors:
        raise ValidationError(errors)
    for _ in range(5):  # a repeated prefix in one organization is rare; draw again if it happens
        secret = API_KEY_TAG + secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                key = ApiKey.objects.for_org(organization).create(
                    organization=organization,
                    name=name,
                    prefix=api_key_prefix(secret),
                    key_hash=api_key_hash(secret),
                    scopes=chosen,
                    created_by=created_by,
                )
        except IntegrityError:
            continue
        return key, secret
    raise RuntimeError("Could not draw an API key with a free prefix.")  # pragma: no cover


@transaction.atomic
def api_key_revoke(*, organization: Organization, api_key: ApiKey) -> ApiKey:
    """Stop a key from working, at once and for good; revoking twice keeps the first time."""
    require_same_organization(organization, api_key=api_key)
    now = timezone.now()
    revoked = (
        ApiKey.objects.for_org(organization)
        .filter(pk=api_key.pk, revoked_at__isnull=True)
        .update(revoked_at=now)
    )
    if revoked:
        audit_record(
            organization=organization,
            action="api_key.revoke",
            instance=api_key,
            changes={"revoked_at": [None, now]},
        )
    api_key.revoked_at = (
        ApiKey.objects.for_org(organization)
        .filter(pk=api_key.pk)
        .values_list("revoked_at", flat=True)
        .get()
    )
    return api_key


def api_key_record_use(
    *, organization: Organization, api_key: ApiKey, at: dt.datetime | None = None
) -> None:
    """Note that the key was used, at most once a minute (one UPDATE, usually matching nothing),
    so an admin can see which keys are still in use before revoking them."""
    require_same_organization(organization, api_key=api_key)
    at = at or timezone.now()
    recent = at - API_KEY_USE_RESOLUTION
    updated = (
        ApiKey.objects.for_org(organization)
        .filter(pk=api_key.pk)
        .exclude(last_used_at__gt=recent)
        .update(last_used_at=at)
    )
    if updated:
        api_key.last_used_at = at
