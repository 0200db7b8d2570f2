"""Site pages of accounts. Each area keeps its own pattern list."""

from __future__ import annotations

from django.urls import path

from accounts.urls_api_keys import urlpatterns as api_key_urls
from accounts.urls_workspaces import urlpatterns as workspace_urls
from accounts.views import notifications, start

app_name = "accounts"
urlpatterns = [
    path("app/", start.StartView.as_view(), name="start"),
    # The person's own notifications (the bell): never another person's, whatever the ids.
    path("notifications/", notifications.NotificationListView.as_view(), name="notifications"),
    path("notifications/read/", notifications.NotificationMarkReadView.as_view(), name="notifications_read"),
    *workspace_urls,
    *api_key_urls,
]
