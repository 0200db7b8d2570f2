"""Pages of publishing: a workspace's connections, and the OAuth callback every platform returns to."""

from __future__ import annotations

from django.urls import path

from publishing import views

app_name = "publishing"
urlpatterns = [
    path("w/<slug:workspace_slug>/connections/", views.ConnectionsView.as_view(), name="connections"),
    path("w/<slug:workspace_slug>/connections/connect/<slug:platform>/", views.ConnectView.as_view(), name="connect"),
    path("w/<slug:workspace_slug>/connections/<int:pk>/reconnect/", views.ReconnectView.as_view(), name="reconnect"),
    path("w/<slug:workspace_slug>/connections/<int:pk>/disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    # Not under a workspace: the redirect URI registered with each platform must be one fixed address.
    path("connections/callback/<slug:platform>/", views.OAuthCallbackView.as_view(), name="oauth_callback"),
]
