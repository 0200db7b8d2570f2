"""Pages of the content app: media (workspace-scoped, under /w/<workspace_slug>/)."""

from __future__ import annotations

from django.urls import path

from content import views_media

app_name = "content_media"
urlpatterns = [
    path("", views_media.MediaLibraryView.as_view(), name="library"),
    path("upload/", views_media.MediaUploadView.as_view(), name="upload"),
    path("import/", views_media.MediaImportView.as_view(), name="import"),
    path("<int:pk>/", views_media.MediaDetailView.as_view(), name="detail"),
    path("<int:pk>/alt-text/", views_media.MediaAltTextView.as_view(), name="alt_text"),
    path("<int:pk>/delete/", views_media.MediaDeleteView.as_view(), name="delete"),
]
