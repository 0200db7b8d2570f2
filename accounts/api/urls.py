"""Accounts API routes, under /api/v1/ (names: `api:accounts:<name>`)."""

from __future__ import annotations

from django.urls import path

from accounts.api import views

app_name = "accounts"
urlpatterns = [
    path("workspaces/", views.WorkspaceListApi.as_view(), name="workspace_list"),
    path("w/<slug:workspace_slug>/", views.WorkspaceDetailApi.as_view(), name="workspace_detail"),
    path("w/<slug:workspace_slug>/members/", views.MemberListApi.as_view(), name="member_list"),
    path("w/<slug:workspace_slug>/members/<int:pk>/", views.MemberDetailApi.as_view(), name="member_detail"),
    path("w/<slug:workspace_slug>/invitations/", views.InvitationListApi.as_view(), name="invitation_list"),
    path(
        "w/<slug:workspace_slug>/invitations/<int:pk>/", views.InvitationDetailApi.as_view(), name="invitation_detail"
    ),
]
