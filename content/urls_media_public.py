"""Public, signed media URLs (platforms fetch attached images and videos from here)."""

from __future__ import annotations

app_name = "content_media_public"
urlpatterns: list = []
