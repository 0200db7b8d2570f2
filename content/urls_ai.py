"""Pages of the content app: ai (workspace-scoped, under /w/<workspace_slug>/)."""

from __future__ import annotations

app_name = "content_ai"
urlpatterns: list = []
