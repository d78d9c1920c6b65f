"""Django admin for members, their ownership history, membership changes and advocacy.

For Tandem's own staff (see ``tenancy.admin.TenantAdmin`` for how rows are read and edited:
lists span organizations, one row is edited inside its own organization, new rows come from the
services). Foreign keys to members are raw ids, never a drop-down of a big table. Ownership is
history: it changes only through ``member_assign_owner``, which keeps every hand-off, so the
admin shows it and does not edit it.
"""

from django import forms
from django.contrib import admin

from members.models import Advocacy, Member, MemberImport, MembershipEvent, OwnershipChange
from tenancy.admin import TenantAdmin


class MemberAdminForm(forms.ModelForm):
    class Meta:
        model = Member
        # No foreign keys here: a form class declared at import would build their fields
        # outside any organization scope. The admin adds the rest inside the row's scope.
        fields = [
            "kind",
            "name",
            "email",
            "external_id",
            "tier",
            "status",
            "joined_on",
            "renewal_on",
            "region",
            "attributes",
        ]


@admin.register(Member)
class MemberAdmin(TenantAdmin):
    form = MemberAdminForm
    list_display = ["name", "organization", "status", "tier", "region", "owner", "renewal_on"]
    list_filter = ["status", "tier", "region"]
    search_fields = ["name", "email", "external_id"]
    list_select_related = ["organization", "owner__user"]
    readonly_fields = [
        "owner",
        "success_gap",
        "success_band",
        "success_computed_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "renewal_on"


@admin.register(OwnershipChange)
class OwnershipChangeAdmin(TenantAdmin):
    list_display = ["member", "organization", "from_seat", "to_seat", "changed_by", "changed_at"]
    search_fields = ["member__name", "member__external_id", "note"]
    list_select_related = [
        "member",
        "organization",
        "from_seat__user",
        "to_seat__user",
        "changed_by__user",
    ]
    # The hand-off note may be corrected; who handed what to whom, and when, may not.
    readonly_fields = ["member", "from_seat", "to_seat", "changed_by", "changed_at"]
    date_hierarchy = "changed_at"


@admin.register(MembershipEvent)
class MembershipEventAdmin(TenantAdmin):
    list_display = ["member", "organization", "kind", "occurred_on", "amount", "tier"]
    list_filter = ["kind"]
    search_fields = ["member__name", "member__external_id", "note"]
    list_select_related = ["member", "organization"]
    raw_id_fields = ["member"]
    readonly_fields = ["recorded_at"]
    date_hierarchy = "occurred_on"


@admin.register(Advocacy)
class AdvocacyAdmin(TenantAdmin):
    list_display = ["member", "organization", "kind", "occurred_on", "score", "referred_member"]
    list_filter = ["kind"]
    search_fields = ["member__name", "member__external_id", "note"]
    list_select_related = ["member", "organization", "referred_member"]
    raw_id_fields = ["member", "referred_member"]
    readonly_fields = ["recorded_at"]
    date_hierarchy = "occurred_on"


@admin.register(MemberImport)
class MemberImportAdmin(TenantAdmin):
    """Imports are the worker's record of what happened: shown, never edited. The file's text
    (up to 5 MB) stays off the page."""

    list_display = [
        "file_name",
        "organization",
        "status",
        "total_rows",
        "created_count",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["file_name"]
    list_select_related = ["organization", "created_by__user"]
    exclude = ["content"]
    readonly_fields = [
        "created_by",
        "file_name",
        "status",
        "total_rows",
        "processed_rows",
        "created_count",
        "refused",
        "error",
        "created_at",
        "finished_at",
    ]
    date_hierarchy = "created_at"
