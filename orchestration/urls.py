"""Public pages reached from a member's email: no login, the signed token is the credential."""

from django.urls import path

from orchestration import views

app_name = "public"

urlpatterns = [
    path("e/confirm/<str:token>/", views.event_confirm, name="event_confirm"),
]
