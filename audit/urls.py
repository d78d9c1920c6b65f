from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("o/<slug:org_slug>/settings/audit/", views.audit_list, name="list"),
]
