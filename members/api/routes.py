"""API routes of the members app: (prefix, viewset, basename) for the v1 router."""

from members.api.views import AdvocacyViewSet, MembershipEventViewSet, MemberViewSet

ROUTES: list = [
    ("members", MemberViewSet, "members"),
    ("membership-events", MembershipEventViewSet, "membership-events"),
    ("advocacy", AdvocacyViewSet, "advocacy"),
]
