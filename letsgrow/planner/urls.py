"""Pages of the content planner, under /w/<workspace_slug>/plan/."""

from __future__ import annotations

from django.urls import path

from letsgrow.planner import views

app_name = "planner"
urlpatterns = [
    path("", views.PlanNewView.as_view(), name="new"),
    path("history/", views.PlanListView.as_view(), name="list"),
    path("<int:pk>/", views.PlanDetailView.as_view(), name="detail"),
    path("<int:pk>/progress.json", views.PlanProgressView.as_view(), name="progress"),
    path("<int:pk>/resume/", views.PlanResumeView.as_view(), name="resume"),
]
