"""Account settings, workspaces, members and invitations (names in the `accounts` namespace)."""

from __future__ import annotations

from django.urls import path

from accounts.views import account, invitations, members, workspaces

urlpatterns = [
    # The person
    path("account/", account.ProfileView.as_view(), name="profile"),
    path("account/delete/", account.AccountDeleteView.as_view(), name="account_delete"),
    # Workspaces
    path("workspaces/new/", workspaces.WorkspaceCreateView.as_view(), name="workspace_create"),
    path("w/<slug:workspace_slug>/settings/", workspaces.WorkspaceSettingsView.as_view(), name="workspace_settings"),
    path("w/<slug:workspace_slug>/settings/delete/", workspaces.WorkspaceDeleteView.as_view(), name="workspace_delete"),
    # Members (every id is looked up inside the workspace named in the URL)
    path("w/<slug:workspace_slug>/members/", members.MembersView.as_view(), name="members"),
    path("w/<slug:workspace_slug>/members/<int:pk>/role/", members.MemberRoleView.as_view(), name="member_role"),
    path("w/<slug:workspace_slug>/members/<int:pk>/remove/", members.MemberRemoveView.as_view(), name="member_remove"),
    path(
        "w/<slug:workspace_slug>/invitations/<int:pk>/revoke/",
        members.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "w/<slug:workspace_slug>/invitations/<int:pk>/resend/",
        members.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path("w/<slug:workspace_slug>/transfer/", members.TransferOwnershipView.as_view(), name="ownership_transfer"),
    path("w/<slug:workspace_slug>/leave/", members.LeaveWorkspaceView.as_view(), name="workspace_leave"),
    # The link in the invitation email
    path("invitations/<str:token>/", invitations.InvitationAcceptView.as_view(), name="invitation_accept"),
]
