"""Pages of the content app: media (workspace-scoped, under /w/<workspace_slug>/)."""

from __future__ import annotations

app_name = "content_media"
urlpatterns: list = []
