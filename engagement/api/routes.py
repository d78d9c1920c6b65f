"""API routes of the engagement app: (prefix, viewset, basename) for the v1 router."""

ROUTES: list = []
