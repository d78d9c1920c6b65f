from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenancy.forms import EmailAuthenticationForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            authentication_form=EmailAuthenticationForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("ops.urls")),  # namespace "ops": /healthz and /readyz probes
    path("", include("config.api_urls")),
    path("", include("tenancy.urls")),
    path("", include("tenancy.account_urls")),  # namespace "account": the set-password link
    path("", include("orchestration.urls")),  # namespace "public": /e/confirm/<token>/
    path("", include("members.urls")),
    path("", include("members.urls_extra")),  # namespace "members_extra": portfolio, CSV import
    path("", include("webhooks.urls")),  # namespace "webhooks": settings/webhooks/
    path("", include("audit.urls")),  # namespace "audit": settings/audit/
    path("", include("portability.urls")),  # namespace "portability": settings/export/
]

# Under /api/, unmatched URLs and crashes answer in the API's JSON error shape.
handler404 = "tenancy.api.errors.api_aware_page_not_found"
handler500 = "tenancy.api.errors.api_aware_server_error"
