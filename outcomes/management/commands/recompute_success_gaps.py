"""Recompute success gaps now, for one organization or all, with a progress bar."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomes.scoring import member_id_chunks, success_gap_run_start, success_gaps_compute
from tenancy.models import Organization
from tenancy.scope import organization_scope

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Score every member of an organization (or of all) into a new success-gap run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="The organization's slug (default: all).")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=20_000,
            help="Members per statement batch (default 20000).",
        )

    def handle(self, *args, org=None, chunk_size=20_000, **options) -> None:
        organizations = Organization.objects.order_by("pk")
        if org:
            organizations = organizations.filter(slug=org)
            if not organizations.exists():
                raise CommandError(f"No organization with the slug {org!r}.")
        for organization in organizations:
            with organization_scope(organization):
                self.recompute(organization, chunk_size)

    def recompute(self, organization: Organization, chunk_size: int) -> None:
        started = time.perf_counter()
        run = success_gap_run_start(organization=organization)
        chunks = member_id_chunks(organization=organization, size=chunk_size)
        scored = 0
        for done, chunk in enumerate(chunks, start=1):
            scored += success_gaps_compute(
                organization=organization, run=run, scope=chunk
            ).members_scored
            self.progress(organization, done, len(chunks), scored, time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{organization.slug}: {scored:,} members scored in {elapsed:.2f}s (run {run.pk})"
            )
        )

    def progress(self, organization, done: int, total: int, scored: int, elapsed: float) -> None:
        filled = round(BAR_WIDTH * done / total)
        rate = scored / elapsed if elapsed > 0 else 0
        self.stdout.write(
            f"\r{organization.slug} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{done}/{total} chunks, {scored:,} members, {rate:,.0f}/s",
            ending="\n" if done == total else "",
        )
        self.stdout.flush()
