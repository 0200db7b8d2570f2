"""The one way workspace data is read: scoped to a workspace, or not at all.

Every model that belongs to a workspace inherits `WorkspaceScopedModel`, whose
manager offers `for_workspace(workspace)`. Views resolve the workspace from the
URL through `accounts.views.mixins.WorkspaceMixin` (membership required, else
404) and fetch objects with `get_scoped_or_404`, so an id from another
workspace is simply not found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from accounts.models import Workspace


class WorkspaceScopedQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace) -> WorkspaceScopedQuerySet:
        return self.filter(workspace=workspace)


class WorkspaceScopedModel(models.Model):
    """Abstract base: subclasses declare `workspace = ForeignKey(Workspace, ...)`."""

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        abstract = True


M = TypeVar("M", bound=models.Model)


def get_scoped_or_404(model: type[M], workspace: Workspace, **lookup: object) -> M:
    """Fetch one `model` row of `workspace` matching `lookup`, or raise 404 (never 403)."""
    try:
        return model.objects.for_workspace(workspace).get(**lookup)  # type: ignore[attr-defined]
    except (model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404(f"No {model._meta.verbose_name} here.") from exc
