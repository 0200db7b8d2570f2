"""Pages of the content app: documents (workspace-scoped, under /w/<workspace_slug>/)."""

from __future__ import annotations

app_name = "content_documents"
urlpatterns: list = []
