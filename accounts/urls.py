"""Site pages of accounts: start, account settings, workspaces, members, invitations, API keys."""

from __future__ import annotations

from django.urls import path

from accounts.views import placeholders, start

app_name = "accounts"
urlpatterns = [
    path("app/", start.StartView.as_view(), name="start"),
    path("account/", placeholders.PlaceholderView.as_view(), name="profile"),
    path("workspaces/new/", placeholders.PlaceholderView.as_view(), name="workspace_create"),
]
