"""API routes of the outcomes app: (prefix, viewset, basename) for the v1 router."""

ROUTES: list = []
