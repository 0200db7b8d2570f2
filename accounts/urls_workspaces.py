"""Account settings, workspaces, members and invitations (names in the `accounts` namespace)."""

from __future__ import annotations

from django.urls import path

from accounts.views import placeholders

urlpatterns = [
    path("account/", placeholders.PlaceholderView.as_view(), name="profile"),
    path("workspaces/new/", placeholders.PlaceholderView.as_view(), name="workspace_create"),
]
