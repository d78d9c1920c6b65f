"""API routes of the orchestration app: (prefix, viewset, basename) for the v1 router."""

ROUTES: list = []
