"""API key pages (names in the `accounts` namespace)."""

from __future__ import annotations

from django.urls import path

from accounts.views import api_keys

urlpatterns = [
    path("w/<slug:workspace_slug>/api-keys/", api_keys.ApiKeyListView.as_view(), name="api_keys"),
    path(
        "w/<slug:workspace_slug>/api-keys/<int:pk>/revoke/", api_keys.ApiKeyRevokeView.as_view(), name="api_key_revoke"
    ),
]
