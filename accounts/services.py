"""Writes for users and workspaces: one public function per use case."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from accounts.models import Membership, User, Workspace


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_workspace(*, owner: User, name: str) -> Workspace:
    """Create a workspace with `owner` as its owner member."""
    workspace = Workspace.objects.create(name=name.strip(), slug=_unique_slug(name))
    Membership.objects.create(user=owner, workspace=workspace, role=Membership.Role.OWNER)
    return workspace
