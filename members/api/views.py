"""The members API: members (with owner and status), membership changes and advocacy.

Thin adapters over ``members.services`` and ``members.selectors``, the same functions the pages
call, so a rule (owner within the organization, who may own an account, which membership change
may follow which status, NPS scores…) answers the same on both: here as a 400, field by field.

Members are never deleted: a membership ends by a lapse or a cancellation (a status), and the
member's history stays. Membership changes and advocacy are append-only records of what
happened — a change also moved the member's status, tier and renewal date — so they are neither
edited nor deleted.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_view
from rest_framework import mixins, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from members.api.docs import ADVOCACY_DOCS, MEMBER_DOCS, MEMBERSHIP_EVENT_DOCS
from members.api.filters import AdvocacyFilter, MemberFilter, MembershipEventFilter
from members.api.serializers import (
    AdvocacySerializer,
    MemberSerializer,
    MembershipEventSerializer,
    MemberWriteSerializer,
)
from members.models import Advocacy, Member, MembershipEvent
from members.selectors import advocacy_list, member_list, membership_event_list
from members.services import advocacy_record, member_create, member_update, membership_event_record
from tenancy.api.filters import API_FILTER_BACKENDS
from tenancy.api.pagination import StreamCursorPagination
from tenancy.api.views import TenantViewSet

# Any id shape reaches the lookup (DRF's default stops at a dot), so "1.5" or "abc" answers the
# API's JSON 404 rather than the site's HTML one.
ANY_ID = "[^/]+"

MEMBER_COLUMNS = tuple(field.name for field in Member._meta.concrete_fields)
OWNER_COLUMNS = ("owner__id", "owner__user", "owner__user__email", "owner__user__full_name")


@extend_schema_view(**MEMBER_DOCS)
class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    queryset_model = Member
    lookup_url_kwarg = "member_id"
    lookup_value_regex = ANY_ID
    filterset_class = MemberFilter
    filter_backends = API_FILTER_BACKENDS
    ordering_fields = ["name", "success_gap", "updated_at"]
    ordering = ["name", "pk"]

    def get_tenant_queryset(self):
        members = member_list(organization=self.organization)
        if self.request.method in SAFE_METHODS:
            # A read shows the owner's id, email and name only: the seat's and user's other
            # columns (password hash included) are not loaded. Writes load whole rows.
            members = members.only(*MEMBER_COLUMNS, *OWNER_COLUMNS)
        return members

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return MemberWriteSerializer
        return MemberSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_create(
            organization=self.organization,
            changed_by=self.principal.seat,
            **serializer.validated_data,
        )
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        member = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(member, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        member_update(
            organization=self.organization,
            member=member,
            changed_by=self.principal.seat,
            owner_note=fields.pop("owner_note", ""),
            **fields,
        )
        return Response(MemberSerializer(member).data)


class AppendOnlyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    """A stream of recorded facts: listed by cursor, newest recorded first, created through a
    service, never edited or deleted."""

    lookup_value_regex = ANY_ID
    pagination_class = StreamCursorPagination
    filter_backends = API_FILTER_BACKENDS
    ordering_fields = ["recorded_at", "pk"]
    ordering = ["-recorded_at", "-pk"]

    def record(self, validated_data: dict):
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = self.record(dict(serializer.validated_data))
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema_view(**MEMBERSHIP_EVENT_DOCS)
class MembershipEventViewSet(AppendOnlyViewSet):
    queryset_model = MembershipEvent
    serializer_class = MembershipEventSerializer
    lookup_url_kwarg = "membership_event_id"
    filterset_class = MembershipEventFilter

    def get_tenant_queryset(self):
        return membership_event_list(organization=self.organization)

    def record(self, validated_data: dict) -> MembershipEvent:
        return membership_event_record(organization=self.organization, **validated_data)


@extend_schema_view(**ADVOCACY_DOCS)
class AdvocacyViewSet(AppendOnlyViewSet):
    queryset_model = Advocacy
    serializer_class = AdvocacySerializer
    lookup_url_kwarg = "advocacy_id"
    filterset_class = AdvocacyFilter

    def get_tenant_queryset(self):
        return advocacy_list(organization=self.organization)

    def record(self, validated_data: dict) -> Advocacy:
        return advocacy_record(organization=self.organization, **validated_data)
