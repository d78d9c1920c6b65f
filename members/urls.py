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
    # Member 360's inline actions: POST only, each on the row it changes.
    path(
        "o/<slug:org_slug>/members/<int:member_id>/owner/",
        views.owner_reassign_view,
        name="owner_reassign",
    ),
    path(
        "o/<slug:org_slug>/members/<int:member_id>/outcomes/",
        views.outcome_create_view,
        name="outcome_create",
    ),
    path(
        "o/<slug:org_slug>/outcomes/<int:outcome_id>/goals/",
        views.goal_create_view,
        name="goal_create",
    ),
    path(
        "o/<slug:org_slug>/goals/<int:goal_id>/progress/",
        views.goal_progress_view,
        name="goal_progress",
    ),
    path(
        "o/<slug:org_slug>/conditions/<int:condition_id>/assess/",
        views.condition_assess_view,
        name="condition_assess",
    ),
    path(
        "o/<slug:org_slug>/milestones/<int:milestone_id>/achieve/",
        views.milestone_achieve_view,
        name="milestone_achieve",
    ),
    path(
        "o/<slug:org_slug>/milestones/<int:milestone_id>/reopen/",
        views.milestone_reopen_view,
        name="milestone_reopen",
    ),
    path(
        "o/<slug:org_slug>/commitments/<int:commitment_id>/complete/",
        views.commitment_complete_view,
        name="commitment_complete",
    ),
    path(
        "o/<slug:org_slug>/commitments/<int:commitment_id>/reopen/",
        views.commitment_reopen_view,
        name="commitment_reopen",
    ),
    path(
        "o/<slug:org_slug>/tasks/<int:task_id>/complete/",
        views.task_complete_view,
        name="task_complete",
    ),
    path(
        "o/<slug:org_slug>/tasks/<int:task_id>/reopen/",
        views.task_reopen_view,
        name="task_reopen",
    ),
]
