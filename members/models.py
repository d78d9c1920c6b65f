"""Members (the accounts an organization serves), who owns them, and what they have done:
membership changes and advocacy — the raw material of the three results of success."""

from __future__ import annotations

from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Cast

from tenancy.models import Seat, TenantModel, WorkerJob

# Riskiest first: the book's and the member list's default order, and an index's first key
# after the organization (the index must spell the expression exactly as the query does). The
# gap's whole points (``success_gap_step``) come next, descending, with no NULLS clause (SQLite's
# indexes cannot say one): within one band the gaps are all set or, for "no outcome" and the
# unscored, all empty, so where the empty ones would sort never matters.
RISK_ORDER = Case(
    When(success_band="at_risk", then=Value(0)),
    When(success_band="watch", then=Value(1)),
    When(success_band="on_track", then=Value(2)),
    When(success_band="no_outcome", then=Value(3)),
    default=Value(4),
    output_field=IntegerField(),
)


class Member(TenantModel):
    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANIZATION = "organization", "Organization"

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        GRACE = "grace", "Grace period"
        LAPSED = "lapsed", "Lapsed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The member's id in the organization's own systems."
    )
    tier = models.CharField(max_length=60, blank=True, help_text="Plan or membership tier.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROSPECT)
    joined_on = models.DateField(null=True, blank=True)
    renewal_on = models.DateField(null=True, blank=True)
    region = models.CharField(max_length=60, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_members"
    )
    coverage_model = models.ForeignKey(
        "orchestration.CoverageModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text="The coverage model this member matched last.",
    )
    # The latest success gap, copied from the newest snapshot so lists can sort by risk cheaply
    # (rewritten when the band changes or the gap moves by 0.05 or more).
    success_gap = models.FloatField(null=True, blank=True, editable=False)
    success_band = models.CharField(max_length=10, blank=True, editable=False)
    success_computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The gap in whole points, kept by the database: the risk order's index holds this instead
    # of the gap, so the nightly run's moves of a fraction of a point leave every index alone
    # and PostgreSQL writes them as heap-only updates (a change to any indexed column, even
    # inside an expression, costs a new entry in each of the member's indexes, trigram search
    # included). PostgreSQL rounds and SQLite truncates; either never orders two gaps against
    # their own order, so the lists sort by it, then by the gap itself, exactly as by the gap.
    success_gap_step = models.GeneratedField(
        expression=Cast("success_gap", IntegerField()),
        output_field=IntegerField(null=True),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="member_external_id_unique_per_org",
                violation_error_message="Another member of this organization has this external id.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="member_org_status"),
            models.Index(fields=["organization", "owner"], name="member_org_owner"),
            models.Index(fields=["organization", "renewal_on"], name="member_org_renewal"),
            models.Index(fields=["organization", "updated_at"], name="member_org_updated"),
            # The first page of the member list (risk first) and of the API (by name) read
            # the index in order instead of sorting every member.
            models.Index(
                F("organization"),
                RISK_ORDER,
                F("success_gap_step").desc(),
                F("name"),
                F("id"),
                name="member_org_risk",
            ),
            models.Index(fields=["organization", "name", "id"], name="member_org_name"),
            # The tier filter's choices come from an index-only scan, not the whole table.
            models.Index(fields=["organization", "tier"], name="member_org_tier"),
            models.Index(fields=["organization", "success_band"], name="member_org_band"),
        ]

    def __str__(self) -> str:
        return self.name


class OwnershipChange(TenantModel):
    """One hand-off of an account: ownership is context kept, so the note matters."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="ownership_changes")
    from_seat = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_seat = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_by = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "member", "changed_at"], name="ownership_org_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.to_seat or 'nobody'}"


class MembershipEvent(TenantModel):
    class Kind(models.TextChoices):
        JOIN = "join", "Joined"
        RENEW = "renew", "Renewed"
        UPGRADE = "upgrade", "Upgraded"
        DOWNGRADE = "downgrade", "Downgraded"
        LAPSE = "lapse", "Lapsed"
        CANCEL = "cancel", "Cancelled"
        REINSTATE = "reinstate", "Reinstated"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="membership_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    occurred_on = models.DateField()
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tier = models.CharField(max_length=60, blank=True, help_text="The tier after this event.")
    renewal_on = models.DateField(
        null=True, blank=True, help_text="The renewal date after this event."
    )
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "member", "occurred_on"], name="mevent_org_member"
            ),
            models.Index(fields=["organization", "kind", "occurred_on"], name="mevent_org_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.member} · {self.occurred_on}"


class Advocacy(TenantModel):
    class Kind(models.TextChoices):
        REFERRAL = "referral", "Referral"
        TESTIMONIAL = "testimonial", "Testimonial"
        REVIEW = "review", "Review"
        NPS = "nps", "NPS response"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="advocacy")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_on = models.DateField()
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="NPS answer, 0 to 10 (NPS responses only)."
    )
    referred_member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="referred_by"
    )
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "advocacy"
        ordering = ["-occurred_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="advocacy_score_0_10",
            ),
            models.CheckConstraint(
                condition=~Q(kind="nps") | Q(score__isnull=False), name="advocacy_nps_has_score"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "member", "kind"], name="advocacy_org_member"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.member}"


class MemberImport(WorkerJob, TenantModel):
    """One CSV file of members, imported by the worker: all its rows or none of them.

    The file's text is kept here (at most 5 MB) so the worker reads it from the database, which
    every process shares, and the page shows how far the worker got and every row it refused.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    progress_field = "processed_rows"
    FINISHED = frozenset({Status.DONE, Status.FAILED})

    created_by = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    content = models.TextField(help_text="The uploaded CSV text (at most 5 MB).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    refused = models.JSONField(
        default=list, blank=True, help_text="Every refused row: {row, field, message}."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="memberimport_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} · {self.get_status_display()}"
