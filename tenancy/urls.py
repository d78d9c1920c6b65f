from django.urls import path

from tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/", views.choose_organization, name="choose"),
    path("o/<slug:org_slug>/", views.dashboard, name="dashboard"),
]
