"""API routes of the tenancy app: who am I."""

from django.urls import path

from tenancy.api.views_me import MeView

ROUTES: list = []
API_PATHS = [path("me", MeView.as_view(), name="me")]
