"""Site pages of accounts. Each area keeps its own pattern list."""

from __future__ import annotations

from django.urls import path

from accounts.urls_api_keys import urlpatterns as api_key_urls
from accounts.urls_workspaces import urlpatterns as workspace_urls
from accounts.views import start

app_name = "accounts"
urlpatterns = [
    path("app/", start.StartView.as_view(), name="start"),
    *workspace_urls,
    *api_key_urls,
]
