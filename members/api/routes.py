"""API routes of the members app: (prefix, viewset, basename) for the v1 router."""

ROUTES: list = []
