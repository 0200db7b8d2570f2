"""Pages of the content app: templates (workspace-scoped, under /w/<workspace_slug>/)."""

from __future__ import annotations

app_name = "content_templates"
urlpatterns: list = []
