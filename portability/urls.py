from django.urls import path

from portability import views

app_name = "portability"

E = "o/<slug:org_slug>/settings/export/"

urlpatterns = [
    path(E, views.export_page, name="export"),
    path(f"{E}<int:export_id>/download/", views.export_download, name="export_download"),
]
