"""The portfolio page and CSV import of members (routes kept apart from members/urls.py)."""

from django.urls import path

from members import import_views, portfolio_views

app_name = "members_extra"

urlpatterns = [
    path("o/<slug:org_slug>/portfolio/", portfolio_views.portfolio, name="portfolio"),
    path("o/<slug:org_slug>/members/import/", import_views.member_import, name="import"),
    path(
        "o/<slug:org_slug>/members/import/<int:import_id>/",
        import_views.member_import_status,
        name="import_status",
    ),
]
