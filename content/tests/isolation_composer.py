"""Builders for tests/test_isolation.py: one object of a workspace for each composer and template URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from accounts.models import Workspace
from content.models import Post, Template


def _post_of(workspace: Workspace) -> dict[str, object]:
    return {"pk": Post.objects.create(workspace=workspace, text=f"A post of {workspace.slug}").pk}


def _template_of(workspace: Workspace) -> dict[str, object]:
    template = Template.objects.create(
        workspace=workspace, name=f"Template {uuid.uuid4().hex[:8]}", body="Try {product} today: {link}"
    )
    return {"pk": template.pk}


ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "publishing:post_edit": _post_of,
    "publishing:post_duplicate": _post_of,
    "content_templates:edit": _template_of,
    "content_templates:delete": _template_of,
    "content_templates:render": _template_of,
}
