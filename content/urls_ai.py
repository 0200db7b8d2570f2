"""Pages of the content app: ai (workspace-scoped, under /w/<workspace_slug>/ai/)."""

from __future__ import annotations

from django.urls import path

from content import views_ai

app_name = "content_ai"
urlpatterns = [
    path("", views_ai.AIGenerateView.as_view(), name="generate"),
    path("settings/", views_ai.AISettingsView.as_view(), name="settings"),
]
