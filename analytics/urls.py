"""Workspace pages of analytics, under /w/<workspace_slug>/."""

from __future__ import annotations

from django.urls import path

from analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
]
