"""Probe URLs. ``ops.middleware.HealthCheckMiddleware`` answers them before host validation;
these routes keep them reversible and visible to the URL-walking tests."""

from django.urls import path

from ops import views

app_name = "ops"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
