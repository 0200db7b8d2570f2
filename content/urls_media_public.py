"""Public, signed media URLs (platforms fetch attached images and videos from here)."""

from __future__ import annotations

from django.urls import path

from content import views_media

app_name = "content_media_public"
urlpatterns = [
    # No session: the signature and its expiry are the permission (content.media.signed_media_url).
    path("<str:token>/", views_media.public_file, name="file"),
]
