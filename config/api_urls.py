"""The integrator API: ``/api/v1/`` resources from each app's ``api/routes.py``, the OpenAPI
schema at ``/api/schema/`` and its documentation, served offline, at ``/api/docs/``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

ROUTE_MODULES = [
    "tenancy.api.routes",
    "members.api.routes",
    "outcomes.api.routes",
    "engagement.api.routes",
    "milestones.api.routes",
    "orchestration.api.routes",
    "webhooks.api.routes",
]


def _router() -> DefaultRouter:
    from importlib import import_module

    router = DefaultRouter()
    router.trailing_slash = "/?"  # /api/v1/goals and /api/v1/goals/ both answer, no redirect
    router.include_root_view = True
    router.include_format_suffixes = False
    for module_name in ROUTE_MODULES:
        module = import_module(module_name)
        for prefix, viewset, basename in module.ROUTES:
            router.register(prefix, viewset, basename=basename)
    return router


def _extra_paths() -> list:
    from importlib import import_module

    paths = []
    for module_name in ROUTE_MODULES:
        paths += getattr(import_module(module_name), "API_PATHS", [])
    return paths


v1_patterns = _extra_paths() + _router().urls

urlpatterns = [
    path("api/v1/", include((v1_patterns, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
