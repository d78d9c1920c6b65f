from django.urls import path

from tenancy import settings_views as settings
from tenancy import views

app_name = "tenancy"

S = "o/<slug:org_slug>/settings/"

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/", views.choose_organization, name="choose"),
    path("o/<slug:org_slug>/", views.dashboard, name="dashboard"),
    # Settings (admins only).
    path(S, settings.settings_index, name="settings"),
    path(f"{S}coverage/", settings.coverage_list, name="settings_coverage"),
    path(f"{S}coverage/new/", settings.coverage_create, name="settings_coverage_new"),
    path(
        f"{S}coverage/preview/",
        settings.coverage_preview_new,
        name="settings_coverage_preview_new",
    ),
    path(
        f"{S}coverage/<int:coverage_model_id>/",
        settings.coverage_edit,
        name="settings_coverage_edit",
    ),
    path(
        f"{S}coverage/<int:coverage_model_id>/preview/",
        settings.coverage_preview_edit,
        name="settings_coverage_preview",
    ),
    path(
        f"{S}coverage/<int:coverage_model_id>/active/",
        settings.coverage_set_active,
        name="settings_coverage_active",
    ),
    path(f"{S}playbooks/", settings.playbook_list, name="settings_playbooks"),
    path(f"{S}playbooks/new/", settings.playbook_new, name="settings_playbook_new"),
    path(
        f"{S}playbooks/<int:playbook_id>/",
        settings.playbook_detail,
        name="settings_playbook",
    ),
    path(
        f"{S}playbooks/<int:playbook_id>/active/",
        settings.playbook_set_active,
        name="settings_playbook_active",
    ),
    path(
        f"{S}playbooks/<int:playbook_id>/steps/",
        settings.step_create,
        name="settings_step_new",
    ),
    path(f"{S}steps/<int:step_id>/", settings.step_edit, name="settings_step"),
    path(f"{S}steps/<int:step_id>/remove/", settings.step_delete, name="settings_step_remove"),
    path(f"{S}steps/<int:step_id>/move/", settings.step_move, name="settings_step_move"),
    path(f"{S}milestones/", settings.milestone_list, name="settings_milestones"),
    path(f"{S}milestones/new/", settings.milestone_new, name="settings_milestone_new"),
    path(
        f"{S}milestones/<int:definition_id>/",
        settings.milestone_edit,
        name="settings_milestone",
    ),
    path(
        f"{S}milestones/<int:definition_id>/active/",
        settings.milestone_set_active,
        name="settings_milestone_active",
    ),
    path(f"{S}scoring/", settings.scoring_settings, name="settings_scoring"),
    path(f"{S}scoring/preview/", settings.scoring_preview, name="settings_scoring_preview"),
    path(f"{S}seats/", settings.seat_list, name="settings_seats"),
    path(f"{S}seats/invite/", settings.seat_create, name="settings_seat_invite"),
    path(f"{S}seats/<int:seat_id>/link/", settings.seat_link, name="settings_seat_link"),
    path(f"{S}seats/<int:seat_id>/role/", settings.seat_role, name="settings_seat_role"),
    path(f"{S}seats/<int:seat_id>/remove/", settings.seat_delete, name="settings_seat_remove"),
    path(f"{S}api-keys/", settings.api_key_list, name="settings_api_keys"),
    path(f"{S}api-keys/new/", settings.api_key_new, name="settings_api_key_new"),
    path(
        f"{S}api-keys/<int:key_id>/revoke/",
        settings.api_key_revoke_view,
        name="settings_api_key_revoke",
    ),
]
