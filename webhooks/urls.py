from django.urls import path

from webhooks import views

app_name = "webhooks"

W = "o/<slug:org_slug>/settings/webhooks/"

urlpatterns = [
    path(W, views.webhook_list, name="settings_webhooks"),
    path(f"{W}new/", views.webhook_new, name="settings_webhook_new"),
    path(f"{W}<int:endpoint_id>/", views.webhook_detail, name="settings_webhook"),
    path(f"{W}<int:endpoint_id>/active/", views.webhook_set_active, name="settings_webhook_active"),
    path(f"{W}<int:endpoint_id>/rotate/", views.webhook_rotate, name="settings_webhook_rotate"),
    path(f"{W}<int:endpoint_id>/remove/", views.webhook_delete, name="settings_webhook_remove"),
    path(
        f"{W}deliveries/<int:delivery_id>/replay/",
        views.delivery_replay,
        name="settings_webhook_replay",
    ),
]
