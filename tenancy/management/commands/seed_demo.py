"""Load the demo organization and its logins. Safe to run again: it updates, never duplicates."""

from django.core.management.base import BaseCommand
from django.db import transaction

from tenancy.models import Seat
from tenancy.services import organization_ensure, seat_ensure, user_ensure

DEMO_PASSWORD = "tandem-demo"  # noqa: S105 - a published demo login, not a secret
DEMO_ORGANIZATIONS = [
    ("riverbend", "Riverbend Guild of Makers", "America/Chicago"),
    ("northshore", "Northshore Nurses Association", "America/New_York"),
]
DEMO_SEATS = [
    ("admin@tandem.demo", "Ada Admin", {"riverbend": "admin", "northshore": "admin"}),
    ("msm@tandem.demo", "Morgan Manager", {"riverbend": "msm"}),
    ("viewer@tandem.demo", "Vic Viewer", {"riverbend": "viewer"}),
]


class Command(BaseCommand):
    help = "Create or refresh the demo organizations and their logins."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        organizations = {
            slug: organization_ensure(slug=slug, name=name, time_zone=tz)
            for slug, name, tz in DEMO_ORGANIZATIONS
        }
        for email, full_name, roles in DEMO_SEATS:
            user = user_ensure(email=email, password=DEMO_PASSWORD, full_name=full_name)
            for slug, role in roles.items():
                seat_ensure(organization=organizations[slug], user=user, role=Seat.Role(role))
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for email, _, roles in DEMO_SEATS:
            where = ", ".join(f"{role} of /o/{slug}/" for slug, role in roles.items())
            self.stdout.write(f"  {email:<22} {where}")
