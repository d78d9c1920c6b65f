from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("o/<slug:org_slug>/book/", views.my_book, name="book"),
    path("o/<slug:org_slug>/members/", views.member_list, name="list"),
    path("o/<slug:org_slug>/members/export.csv", views.member_export, name="export"),
    path("o/<slug:org_slug>/members/<int:member_id>/", views.member_detail, name="detail"),
    path(
        "o/<slug:org_slug>/members/<int:member_id>/engagements/",
        views.log_engagement,
        name="log_engagement",
    ),
]
