"""Load the demo organizations, their logins and a believable portfolio.

Safe to run again: organizations are only topped up to the requested size, never duplicated.
"""

from django.core.management.base import BaseCommand, CommandParser

from tenancy.demo import DEMO_LOGINS, DEMO_PASSWORD, TEAM, build_demo


class Command(BaseCommand):
    help = "Create or top up the demo organizations, their logins and their members."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--members",
            type=int,
            default=None,
            help="Members in the first demo organization (default 300).",
        )
        parser.add_argument(
            "--activity",
            type=int,
            default=60,
            help="Engagement + context rows per new member (default 60).",
        )
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")

    def handle(self, *args, members=None, activity=60, seed=7, **options) -> None:
        created = build_demo(
            members=members,
            activity=activity,
            seed=seed,
            progress=lambda message: self.stdout.write(f"  {message}"),
        )
        for slug, count in created.items():
            self.stdout.write(
                f"  /o/{slug}/: {count} new members" if count else f"  /o/{slug}/: already loaded"
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for email, _, roles in DEMO_LOGINS:
            where = ", ".join(f"{role} of /o/{slug}/" for slug, role in roles.items())
            self.stdout.write(f"  {email:<22} {where}")
        self.stdout.write(f"  (and {len(TEAM)} more MSMs: {', '.join(e for e, _, _ in TEAM)})")
