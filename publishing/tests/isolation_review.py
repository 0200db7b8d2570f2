"""Builders for tests/test_isolation.py: a post waiting for review, for each review decision URL."""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Workspace
from content.models import Post


def _pending_post_of(workspace: Workspace) -> dict[str, object]:
    post = Post.objects.create(workspace=workspace, text=f"Waiting in {workspace.slug}", status="pending_review")
    return {"pk": post.pk}


ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "publishing:post_approve": _pending_post_of,
    "publishing:post_reject": _pending_post_of,
    "publishing:post_request_changes": _pending_post_of,
    "publishing:post_schedule": _pending_post_of,
}
