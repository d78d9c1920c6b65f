"""Writes for members: the account, who owns it, what changed in the membership and how the
member speaks for us.

Each function is one transaction that checks every input before it writes anything, and
refuses bad input with a ``ValidationError`` keyed by the field at fault, so pages and the API
can show the error next to the right field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audit.services import audit_record
from members.models import Advocacy, Member, MembershipEvent, OwnershipChange
from members.selectors import organization_today
from tenancy.models import Organization, Seat
from tenancy.rules import NUL_REFUSED, contains_nul, require_same_organization

# Viewers only read; an account needs an owner who can work it.
OWNER_ROLES = frozenset({Seat.Role.ADMIN, Seat.Role.MSM})

# The member fields ``member_update`` may change. Ownership goes through
# ``member_assign_owner`` (so every hand-off is kept); status, tier and renewal date may be
# corrected here, while the membership's real changes go through ``membership_event_record``.
MEMBER_UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "kind",
        "email",
        "external_id",
        "tier",
        "status",
        "joined_on",
        "renewal_on",
        "region",
        "attributes",
        "owner",
    }
)

Errors = dict[str, list[str]]

# ---------------------------------------------------------------------------------------------
# Shared checks


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _full_clean(obj: models.Model, errors: Errors | None = None) -> None:
    """Run Django's model validation on top of our own checks and raise every error together.

    Fields that already have an error are skipped, so each field reports one clear reason.
    """
    errors = dict(errors or {})
    try:
        obj.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _is_date(value: Any) -> bool:
    """A calendar date; a datetime is refused so a time never slips into a date field."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _check_past_date(errors: Errors, organization: Organization, field: str, value: Any) -> None:
    if not _is_date(value):
        _add(errors, field, "Give a date.")
    elif value > organization_today(organization=organization):
        _add(errors, field, "This date is in the future; record it once it has happened.")


def _check_owner_role(errors: Errors, field: str, seat: Seat | None) -> None:
    if seat is not None and seat.role not in OWNER_ROLES:
        _add(
            errors,
            field,
            f"A {seat.get_role_display().lower()} cannot own accounts; choose a Member Success "
            "Manager or an admin.",
        )


# ---------------------------------------------------------------------------------------------
# Members


def _check_attributes(errors: Errors, attributes: Any) -> None:
    if not isinstance(attributes, dict):
        _add(errors, "attributes", "Attributes must be an object of named values.")
    elif not all(isinstance(key, str) for key in attributes):
        _add(errors, "attributes", "Every attribute name must be text.")
    elif contains_nul(attributes):
        _add(errors, "attributes", NUL_REFUSED)


def _check_external_id(errors: Errors, organization: Organization, member: Member) -> None:
    if not member.external_id:
        return
    taken = (
        Member.objects.for_org(organization)
        .filter(external_id=member.external_id)
        .exclude(pk=member.pk)
        .exists()
    )
    if taken:
        _add(errors, "external_id", "Another member of this organization has this external id.")


def _validate_member(organization: Organization, member: Member, *, owner: Seat | None) -> None:
    errors: Errors = {}
    _check_attributes(errors, member.attributes)
    _check_external_id(errors, organization, member)
    _check_owner_role(errors, "owner", owner)
    _full_clean(member, errors)


def _save_member(organization: Organization, member: Member, **save_kwargs: Any) -> None:
    """Save, turning a lost race on the external id into the same field error as the check."""
    try:
        with transaction.atomic():
            member.save(**save_kwargs)
    except IntegrityError:
        errors: Errors = {}
        _check_external_id(errors, organization, member)
        if errors:
            raise ValidationError(errors) from None
        raise


@transaction.atomic
def member_create(
    *,
    organization: Organization,
    name: str,
    kind: str = Member.Kind.PERSON,
    email: str = "",
    external_id: str = "",
    tier: str = "",
    status: str = Member.Status.PROSPECT,
    joined_on: dt.date | None = None,
    renewal_on: dt.date | None = None,
    region: str = "",
    attributes: dict[str, Any] | None = None,
    owner: Seat | None = None,
    changed_by: Seat | None = None,
    owner_note: str = "",
) -> Member:
    """Create a member account; an owner given here is the first entry of its ownership history
    (``owner_note`` its note, when the caller has one for the first owner)."""
    require_same_organization(organization, owner=owner, changed_by=changed_by)
    member = Member(
        organization=organization,
        name=name,
        kind=kind,
        email=email,
        external_id=external_id,
        tier=tier,
        status=status,
        joined_on=joined_on,
        renewal_on=renewal_on,
        region=region,
        attributes={} if attributes is None else attributes,
        owner=owner,
    )
    _validate_member(organization, member, owner=owner)
    _save_member(organization, member)
    if owner is not None:
        OwnershipChange.objects.create(
            organization=organization,
            member=member,
            from_seat=None,
            to_seat=owner,
            changed_by=changed_by,
            changed_at=timezone.now(),
            note=owner_note or "Owner from the account's creation.",
        )
    return member


@transaction.atomic
def member_update(
    *,
    organization: Organization,
    member: Member,
    changed_by: Seat | None = None,
    owner_note: str = "",
    **fields: Any,
) -> Member:
    """Change a member's fields. A new ``owner`` is handed over through ``member_assign_owner``
    so the hand-off is kept (with ``owner_note`` as its hand-off note: ownership is context
    kept); giving the current owner again changes nothing.

    On a refused change the member object is left as it was, so a form can show it again.
    """
    unknown = sorted(set(fields) - MEMBER_UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"member_update() cannot change {', '.join(unknown)}.")
    owner_given = "owner" in fields
    new_owner: Seat | None = fields.pop("owner", None)
    require_same_organization(organization, member=member, owner=new_owner, changed_by=changed_by)
    owner_changes = owner_given and (new_owner.pk if new_owner else None) != member.owner_id

    original = {name: getattr(member, name) for name in fields}
    for name, value in fields.items():
        setattr(member, name, value)
    try:
        _validate_member(organization, member, owner=new_owner if owner_changes else None)
    except ValidationError:
        for name, value in original.items():
            setattr(member, name, value)
        raise
    if fields:
        _save_member(organization, member, update_fields=[*fields, "updated_at"])
    if owner_changes:
        member_assign_owner(
            organization=organization,
            member=member,
            to_seat=new_owner,
            changed_by=changed_by,
            note=owner_note,
        )
    return member


@transaction.atomic
def member_assign_owner(
    *,
    organization: Organization,
    member: Member,
    to_seat: Seat | None,
    changed_by: Seat | None = None,
    note: str = "",
) -> OwnershipChange:
    """Hand the account to ``to_seat`` (None: nobody) and keep the hand-off in its history.

    The member row is locked while we read its current owner, so two hand-offs at once still
    chain correctly (each one's ``from_seat`` is the other's ``to_seat``).
    """
    require_same_organization(organization, member=member, to_seat=to_seat, changed_by=changed_by)
    errors: Errors = {}
    _check_owner_role(errors, "to_seat", to_seat)
    if errors:
        raise ValidationError(errors)
    members = Member.objects.for_org(organization)
    current_owner_id = (
        members.select_for_update().values_list("owner_id", flat=True).get(pk=member.pk)
    )
    new_owner_id = to_seat.pk if to_seat is not None else None
    if current_owner_id == new_owner_id:
        message = (
            "This seat already owns this account."
            if to_seat is not None
            else "This account has no owner already."
        )
        raise ValidationError({"to_seat": message})
    now = timezone.now()
    members.filter(pk=member.pk).update(owner=to_seat, updated_at=now)
    audit_record(
        organization=organization,
        action="member.assign_owner",
        instance=member,
        changes={"owner": [current_owner_id, new_owner_id]},
    )
    member.owner = to_seat
    member.updated_at = now
    return OwnershipChange.objects.create(
        organization=organization,
        member=member,
        from_seat_id=current_owner_id,
        to_seat=to_seat,
        changed_by=changed_by,
        changed_at=now,
        note=note,
    )


# ---------------------------------------------------------------------------------------------
# Membership changes

Kind = MembershipEvent.Kind
Status = Member.Status

# Which statuses each change may start from; a change not listed may start anywhere.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    Kind.RENEW: frozenset({Status.ACTIVE, Status.GRACE}),
    Kind.LAPSE: frozenset({Status.ACTIVE, Status.GRACE}),
    Kind.CANCEL: frozenset({Status.PROSPECT, Status.ACTIVE, Status.GRACE, Status.LAPSED}),
    Kind.REINSTATE: frozenset({Status.LAPSED, Status.CANCELLED}),
}
NEEDS_RENEWAL_DATE = frozenset({Kind.JOIN, Kind.RENEW, Kind.REINSTATE})
NEEDS_TIER = frozenset({Kind.UPGRADE, Kind.DOWNGRADE})
# Ending a membership changes neither its tier nor its renewal date.
ENDS_MEMBERSHIP = frozenset({Kind.LAPSE, Kind.CANCEL})


def _parse_amount(errors: Errors, amount: Any) -> Decimal:
    if isinstance(amount, bool):
        amount = None
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        _add(errors, "amount", "Give an amount of money.")
        return Decimal(0)
    if not value.is_finite():
        _add(errors, "amount", "Give an amount of money.")
        return Decimal(0)
    if value < 0:
        _add(errors, "amount", "An amount cannot be negative.")
    return value


def _check_membership_change(
    errors: Errors,
    member: Member,
    *,
    kind: str,
    occurred_on: Any,
    tier: str,
    renewal_on: Any,
) -> None:
    """The rules of each change against the member's current state (see ALLOWED_FROM)."""
    allowed = ALLOWED_FROM.get(kind)
    if allowed is not None and member.status not in allowed:
        _add(
            errors,
            "kind",
            f"This member is {member.get_status_display().lower()}; they cannot be "
            f"{Kind(kind).label.lower()}.",
        )
    if kind in ENDS_MEMBERSHIP:
        if tier:
            _add(errors, "tier", "Lapsing or cancelling does not change the tier.")
        if renewal_on is not None:
            _add(errors, "renewal_on", "Lapsing or cancelling does not set a renewal date.")
        return
    if kind in NEEDS_TIER:
        if not tier:
            _add(errors, "tier", "Give the tier the member moves to.")
        elif tier == member.tier:
            _add(errors, "tier", "The member is already on this tier.")
    if renewal_on is None:
        if kind in NEEDS_RENEWAL_DATE:
            _add(errors, "renewal_on", "Give the next renewal date.")
        return
    if not _is_date(renewal_on):
        _add(errors, "renewal_on", "Give a date.")
    elif _is_date(occurred_on) and renewal_on <= occurred_on:
        _add(errors, "renewal_on", "The renewal date must come after the change.")
    elif kind == Kind.RENEW and member.renewal_on and renewal_on <= member.renewal_on:
        _add(
            errors,
            "renewal_on",
            f"A renewal moves the renewal date past the current one ({member.renewal_on}).",
        )


def _membership_changes(
    member: Member, *, kind: str, occurred_on: dt.date, tier: str, renewal_on: dt.date | None
) -> dict[str, Any]:
    """The member fields a valid change sets."""
    changes: dict[str, Any] = {}
    if kind in (Kind.JOIN, Kind.RENEW, Kind.REINSTATE):
        changes["status"] = Status.ACTIVE
    elif kind == Kind.LAPSE:
        changes["status"] = Status.LAPSED
    elif kind == Kind.CANCEL:
        changes["status"] = Status.CANCELLED
    if kind == Kind.JOIN and member.joined_on is None:
        changes["joined_on"] = occurred_on
    if tier:
        changes["tier"] = tier
    if renewal_on is not None:
        changes["renewal_on"] = renewal_on
    return changes


@transaction.atomic
def membership_event_record(
    *,
    organization: Organization,
    member: Member,
    kind: str,
    occurred_on: dt.date,
    amount: Decimal | int | str = 0,
    tier: str = "",
    renewal_on: dt.date | None = None,
    note: str = "",
) -> MembershipEvent:
    """Record a membership change and bring the member to the state it leads to, together.

    Rules: join, renew and reinstate need the next renewal date (after the change; a renewal's
    also after the current one); upgrade and downgrade need a new tier; renew and lapse start
    from active or grace, reinstate from lapsed or cancelled, cancel from anything but
    cancelled; lapse and cancel change neither tier nor renewal date; amounts are not
    negative; dates are not in the future. The change is also context, so it is recorded as a
    membership-change context event (which may achieve milestones).
    """
    from engagement.models import ContextEvent
    from engagement.services import context_event_record

    require_same_organization(organization, member=member)
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Kind.values)}."})
    tier = (tier or "").strip()
    # Lock the member so two changes at once each start from the state the other left.
    locked = Member.objects.for_org(organization).select_for_update().get(pk=member.pk)

    errors: Errors = {}
    _check_past_date(errors, organization, "occurred_on", occurred_on)
    value = _parse_amount(errors, amount)
    _check_membership_change(
        errors, locked, kind=kind, occurred_on=occurred_on, tier=tier, renewal_on=renewal_on
    )
    if errors:
        raise ValidationError(errors)

    changes = _membership_changes(
        locked, kind=kind, occurred_on=occurred_on, tier=tier, renewal_on=renewal_on
    )
    for name, new_value in changes.items():
        setattr(locked, name, new_value)
    event = MembershipEvent(
        organization=organization,
        member=locked,
        kind=kind,
        occurred_on=occurred_on,
        amount=value,
        tier=locked.tier,
        renewal_on=locked.renewal_on,
        note=note,
    )
    _full_clean(event)
    event.save()
    locked.save(update_fields=[*changes, "updated_at"])

    time_zone = organization.zone
    context_event_record(
        organization=organization,
        member=locked,
        kind=ContextEvent.Kind.MEMBERSHIP_CHANGE,
        name=f"membership_{kind}",
        occurred_at=dt.datetime.combine(occurred_on, dt.time.min, tzinfo=time_zone),
        value=value,
        source=ContextEvent.Source.SYSTEM,
        payload={"membership_event_id": event.pk, "tier": event.tier},
    )

    for name in [*changes, "updated_at"]:
        setattr(member, name, getattr(locked, name))
    return event


# ---------------------------------------------------------------------------------------------
# Advocacy


def _check_score(errors: Errors, kind: str, score: Any) -> None:
    if kind != Advocacy.Kind.NPS:
        if score is not None:
            _add(errors, "score", "Only an NPS response carries a score.")
        return
    if score is None or isinstance(score, bool) or not isinstance(score, int):
        _add(errors, "score", "An NPS response needs a whole-number score from 0 to 10.")
    elif not 0 <= score <= 10:
        _add(errors, "score", "An NPS score runs from 0 to 10.")


def _check_referred_member(
    errors: Errors, kind: str, member: Member, referred_member: Member | None
) -> None:
    if referred_member is None:
        return
    if kind != Advocacy.Kind.REFERRAL:
        _add(errors, "referred_member", "Only a referral names a referred member.")
    elif referred_member.pk == member.pk:
        _add(errors, "referred_member", "A member cannot refer themselves.")


@transaction.atomic
def advocacy_record(
    *,
    organization: Organization,
    member: Member,
    kind: str,
    occurred_on: dt.date,
    score: int | None = None,
    referred_member: Member | None = None,
    note: str = "",
) -> Advocacy:
    """Record that a member advocated for us: a referral, testimonial, review or NPS answer.

    An NPS answer needs a whole score from 0 to 10 and nothing else carries one; only a
    referral may name the member it brought, who is in the same organization and is not the
    referrer.
    """
    require_same_organization(organization, member=member, referred_member=referred_member)
    if kind not in Advocacy.Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Advocacy.Kind.values)}."})
    errors: Errors = {}
    _check_past_date(errors, organization, "occurred_on", occurred_on)
    _check_score(errors, kind, score)
    _check_referred_member(errors, kind, member, referred_member)
    if errors:
        raise ValidationError(errors)
    advocacy = Advocacy(
        organization=organization,
        member=member,
        kind=kind,
        occurred_on=occurred_on,
        score=score,
        referred_member=referred_member,
        note=note,
    )
    _full_clean(advocacy)
    advocacy.save()
    return advocacy
