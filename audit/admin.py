"""The audit trail in the Django admin: to read, never to add, change or delete."""

from django.contrib import admin

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "organization", "actor_label", "action", "model_label", "object_id")
    list_filter = ("actor_kind", "action", "model_label")
    search_fields = ("actor_label", "object_label", "request_id")
    date_hierarchy = "at"
    list_select_related = ("organization",)

    def get_queryset(self, request):
        return AuditEntry.objects.unscoped().select_related("organization")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
