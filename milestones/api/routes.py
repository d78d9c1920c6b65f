"""API routes of the milestones app: (prefix, viewset, basename) for the v1 router."""

ROUTES: list = []
