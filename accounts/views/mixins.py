"""The scoping mechanism for pages: every workspace URL goes through WorkspaceMixin."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership
from accounts.permissions import Action, require


def resolve_membership(user, workspace_slug: str) -> Membership:
    """The user's membership of the workspace named in the URL, or 404.

    A workspace the user does not belong to is indistinguishable from one that
    does not exist: 404, never 403.
    """
    membership = (
        Membership.objects.select_related("workspace").filter(user=user, workspace__slug=workspace_slug).first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership


class WorkspaceMixin(LoginRequiredMixin):
    """Resolve `workspace_slug` from the URL to `self.workspace` / `self.membership`.

    Set `required_action` to the permission the view needs for GET; set
    `write_action` for POST/PUT/PATCH/DELETE (defaults to `required_action`).
    A member lacking it gets 403 with a plain message.
    """

    required_action: Action = Action.VIEW
    write_action: Action | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = resolve_membership(request.user, kwargs["workspace_slug"])
        self.workspace = self.membership.workspace
        request.workspace = self.workspace
        request.membership = self.membership
        is_write = request.method not in ("GET", "HEAD", "OPTIONS")
        require(self.membership.role, (self.write_action or self.required_action) if is_write else self.required_action)
        _remember_workspace(request, self.membership)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(workspace=self.workspace, membership=self.membership)
        return context


def _remember_workspace(request, membership: Membership) -> None:
    """Keep the last workspace the user opened, so /app/ returns to it."""
    if request.session.get("workspace_id") != membership.workspace_id:
        request.session["workspace_id"] = membership.workspace_id
        Membership.objects.filter(pk=membership.pk).update(last_used_at=timezone.now())
