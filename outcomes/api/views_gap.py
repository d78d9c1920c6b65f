"""Success gaps over the API, read-only: every snapshot (the history, as a stream) and a
member's latest score explained in words — the same explanation the Member 360 page shows
(``outcomes.explain``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from members.models import Member
from outcomes import selectors
from outcomes.api.filters import SnapshotFilter
from outcomes.api.serializers import MemberSuccessGapSerializer, SuccessGapSnapshotSerializer
from outcomes.explain import gap_explanation
from outcomes.models import SuccessGapSnapshot
from tenancy.api.pagination import StreamCursorPagination
from tenancy.api.views import ReadOnlyTenantViewSet, TenantAPIView


@extend_schema_view(
    list=extend_schema(
        summary="List success-gap snapshots",
        description="The history of scores, newest first, in cursor pages that stay correct "
        "while new snapshots arrive. Each carries the counts it was made from (`parts`) and "
        "the weights of its run. Filter by member, band and `since`/`until` (computed at).",
    ),
    retrieve=extend_schema(
        summary="Get a success-gap snapshot",
        description="One member's score at one moment, with its parts and weights.",
    ),
)
class SuccessGapSnapshotViewSet(ReadOnlyTenantViewSet):
    queryset_model = SuccessGapSnapshot
    serializer_class = SuccessGapSnapshotSerializer
    lookup_url_kwarg = "snapshot_id"
    pagination_class = StreamCursorPagination
    filterset_class = SnapshotFilter
    ordering_fields = ["computed_at"]
    ordering = ["-computed_at", "-id"]

    def get_tenant_queryset(self):
        return selectors.gap_snapshots(organization=self.organization)


class MemberSuccessGapView(TenantAPIView):
    """``GET /members/{member_id}/success-gap``: the member's latest score, explained."""

    queryset_model = Member

    def get_tenant_queryset(self):
        return Member.objects.for_org(self.organization)

    @extend_schema(
        summary="A member's success gap, explained",
        description="The latest snapshot with its parts in words (why the gap is what it is), "
        "and how it moved since the previous snapshot and since 30 days ago. `snapshot` is "
        "null until the member is first scored. 404 for a member of another organization.",
        responses=MemberSuccessGapSerializer,
    )
    def get(self, request: Request, member_id: int, **kwargs: Any) -> Response:
        member = self.get_queryset().get(pk=member_id)
        explanation = gap_explanation(organization=self.organization, member=member)
        data = {
            "member": member.pk,
            "headline": explanation.headline,
            "reasons": explanation.reasons,
            "change_since_previous": explanation.change_since_previous,
            "change_since_30_days": explanation.change_since_30_days,
            "snapshot": explanation.snapshot,
        }
        return Response(MemberSuccessGapSerializer(data).data)
