"""Django admin for Tandem's own staff. It reads every organization through the unscoped
manager on purpose; organization users are never staff."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from tenancy.forms import AdminUserChangeForm, AdminUserCreationForm
from tenancy.models import ApiKey, DomainEvent, Organization, Seat, User
from tenancy.scope import organization_scope


class TenantAdmin(admin.ModelAdmin):
    """Base admin for tenant models.

    Lists read every organization through the unscoped manager (the admin is what that escape
    hatch is for). One row is edited inside its own organization's scope, so the default manager
    works for Django's widgets and constraint checks and offers only that organization's rows —
    an edit cannot link two tenants. New rows are created through the services (pages, API),
    which apply the domain's rules, so the admin does not add them.
    """

    def get_queryset(self, request):
        queryset = self.model.objects.unscoped()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "organization"] if obj is not None else readonly

    def _organization_of(self, object_id: str | None) -> int | None:
        if object_id is None:
            return None
        try:
            return (
                self.model.objects.unscoped()
                .filter(pk=unquote(object_id))
                .values_list("organization_id", flat=True)
                .first()
            )
        except (ValueError, ValidationError):
            return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        organization_id = self._organization_of(object_id)
        if organization_id is None:  # an add, or Django answers "does not exist"
            return super().changeform_view(request, object_id, form_url, extra_context)
        with organization_scope(organization_id):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            # Widgets query while the template renders: render before the scope ends.
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response

    def delete_view(self, request, object_id, extra_context=None):
        organization_id = self._organization_of(object_id)
        if organization_id is None:
            return super().delete_view(request, object_id, extra_context)
        with organization_scope(organization_id):
            response = super().delete_view(request, object_id, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Seat)
class SeatAdmin(TenantAdmin):
    """Staff may seat people in an organization (e.g. its first admin)."""

    def has_add_permission(self, request) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "organization__name"]
    list_select_related = ["user", "organization"]


@admin.register(DomainEvent)
class DomainEventAdmin(TenantAdmin):
    list_display = ["occurred_at", "kind", "subject_id", "organization"]
    list_filter = ["kind", "organization"]
    list_select_related = ["organization"]
    readonly_fields = ["kind", "subject_id", "payload", "occurred_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    """Keys are created (and shown once) on the organization's settings pages; staff may see
    and revoke them here, never read the secret, which is not stored."""

    list_display = ["name", "prefix", "organization", "scopes", "created_at", "last_used_at"]
    list_filter = ["organization"]
    search_fields = ["name", "prefix", "organization__name"]
    list_select_related = ["organization"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["prefix", "key_hash", "scopes", "created_by", "created_at", "last_used_at"]
