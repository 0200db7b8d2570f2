"""Pages of the content planner, under /w/<workspace_slug>/plan/."""

from __future__ import annotations

app_name = "planner"
urlpatterns: list = []
