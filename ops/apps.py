from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operational plumbing shared by every page; holds no models."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # The admin has a login form of its own; it is throttled like the product's.
        from django.contrib import admin

        from ops.throttle import ThrottledAdminAuthenticationForm

        admin.site.login_form = ThrottledAdminAuthenticationForm
