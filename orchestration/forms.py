"""Forms of the pages that decide who covers a member."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError

from tenancy.models import Seat

# The seats offered as owners: viewers only read, so they are not offered (the service refuses
# them too, with its own words, when a forged form names one).
OFFERED_OWNER_ROLES = (Seat.Role.MSM, Seat.Role.ADMIN)


class OwnerReassignForm(forms.Form):
    """Hand an account to another seat of the organization, with a note for the next owner.

    Coverage models assign owners automatically; this is the same decision made by hand, and
    the hand-off note is required because ownership is context kept: the next owner starts
    from what the previous one knew.
    """

    to_seat = forms.CharField(label="New owner", required=False, widget=forms.Select)
    note = forms.CharField(
        label="Hand-off note",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write what the next owner needs to know."},
    )

    def __init__(self, *args, seats: Iterable[Seat], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Every seat of the organization (one list the caller read), so a viewer's id reaches
        # the service and is refused with its reason; any other id is not of this organization.
        self.seats = {str(seat.pk): seat for seat in seats}
        self.fields["to_seat"].widget.choices = [
            ("", "Nobody (unassigned)"),
            *(
                (key, f"{seat.user.display_name} · {seat.get_role_display()}")
                for key, seat in self.seats.items()
                if seat.role in OFFERED_OWNER_ROLES
            ),
        ]

    def clean_to_seat(self) -> Seat | None:
        value = self.cleaned_data["to_seat"]
        if not value:
            return None
        seat = self.seats.get(value)
        if seat is None:
            raise ValidationError("Choose a seat of this organization.")
        return seat
