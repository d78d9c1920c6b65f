from django.urls import path

from webhooks import views

app_name = "webhooks"

W = "o/<slug:org_slug>/settings/webhooks/"

urlpatterns = [
    path(W, views.webhook_list, name="endpoint_list"),
    path(f"{W}new/", views.webhook_new, name="endpoint_new"),
    path(f"{W}<int:endpoint_id>/", views.webhook_detail, name="endpoint"),
    path(f"{W}<int:endpoint_id>/active/", views.webhook_set_active, name="endpoint_active"),
    path(f"{W}<int:endpoint_id>/rotate/", views.webhook_rotate, name="endpoint_rotate"),
    path(f"{W}<int:endpoint_id>/remove/", views.webhook_delete, name="endpoint_remove"),
    path(
        f"{W}deliveries/<int:delivery_id>/replay/",
        views.delivery_replay,
        name="delivery_replay",
    ),
]
