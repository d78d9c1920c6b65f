"""Account links opened from outside a session: the signed token is the credential."""

from django.urls import path

from tenancy.settings_views import SetPasswordView

app_name = "account"

urlpatterns = [
    path(
        "accounts/set-password/<uidb64>/<token>/",
        SetPasswordView.as_view(),
        name="set_password",
    ),
]
