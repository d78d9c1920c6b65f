"""Exports of an organization's whole data, written by the worker as a zip of JSON lines."""

from __future__ import annotations

from django.db import models

from tenancy.models import Seat, TenantModel, WorkerJob


class DataExport(WorkerJob, TenantModel):
    """One export of everything the organization holds, asked for by an admin.

    The worker writes the zip under ``TANDEM_EXPORT_DIR/<organization id>/`` and keeps
    ``done_rows`` of ``total_rows`` up to date so the page shows how far it got. ``file_name`` is
    relative to the export folder and set only when the file is complete. A finished file is
    kept ``TANDEM_EXPORT_KEEP_DAYS`` days (it holds the whole organization's data), then removed
    by a nightly sweep and the export marked expired.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (file removed)"

    progress_field = "done_rows"
    FINISHED = frozenset({Status.DONE, Status.FAILED, Status.EXPIRED})

    requested_by = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveBigIntegerField(default=0)
    done_rows = models.PositiveBigIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="dataexport_org_created"),
        ]

    def __str__(self) -> str:
        return f"Export #{self.pk} · {self.get_status_display()}"
