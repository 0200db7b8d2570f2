"""Pages of the content app: documents (workspace-scoped, under /w/<workspace_slug>/documents/)."""

from __future__ import annotations

from django.urls import path

from content import views_documents as views

app_name = "content_documents"
urlpatterns = [
    path("", views.DocumentListView.as_view(), name="list"),
    path("upload/", views.DocumentUploadView.as_view(), name="upload"),
    path("<int:pk>/", views.DocumentDetailView.as_view(), name="detail"),
    path("<int:pk>/delete/", views.DocumentDeleteView.as_view(), name="delete"),
]
