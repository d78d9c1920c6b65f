"""``manage.py import_organization <export> --slug <org> [--name …]``: load an export."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from portability.importing import ImportRefused, organization_import


class Command(BaseCommand):
    help = (
        "Load an organization export (the zip from Settings → Export, or its unzipped folder) "
        "into a new or empty organization, in one transaction."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="the export zip or folder")
        parser.add_argument("--slug", required=True, help="target organization (new or empty)")
        parser.add_argument("--name", help="name of the target (default: the source's name)")

    def handle(self, *args, path: str, slug: str, name: str | None, **options) -> None:
        try:
            report = organization_import(path=path, slug=slug, name=name)
        except (ImportRefused, FileNotFoundError) as exc:
            raise CommandError(f"Nothing imported: {exc}") from exc
        total = sum(report.rows.values())
        self.stdout.write(
            f"Imported {total} rows into {report.organization.slug!r} "
            f"({report.users_created} users created, {report.users_matched} matched by email)."
        )
        for label, count in report.rows.items():
            self.stdout.write(f"  {label}: {count}")
        for column, count in sorted(report.dangling.items()):
            self.stdout.write(
                self.style.WARNING(f"  {column}: {count} pointed to a row not in the export")
            )
        if report.users_created:
            self.stdout.write(
                "New users have no password: an admin sends each a set-password link "
                "from Settings → Seats."
            )
