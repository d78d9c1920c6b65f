"""Writes for tenancy: organizations, users and their seats, each in a transaction."""

from __future__ import annotations

from django.db import transaction

from tenancy.models import Organization, Seat, User


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
