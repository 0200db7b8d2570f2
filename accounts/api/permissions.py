"""Who the API caller is in the workspace named in the URL: the API's one scoping step.

`resolve_workspace_access()` turns the request and the URL's slug into a
`WorkspaceAccess`: the workspace and the caller's role in it. A session user
must be a member; an API key only opens its own workspace. Anything else is a
404, exactly like a workspace that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import ApiKey, Membership, User, Workspace
from accounts.permissions import Action, can, require
from accounts.views.mixins import resolve_membership


@dataclass(frozen=True)
class WorkspaceAccess:
    workspace: Workspace
    role: str  # the member's role, or the key's role
    user: User | None  # the session user; None for an API key
    api_key: ApiKey | None  # the key; None for a session

    def can(self, action: Action) -> bool:
        return can(self.role, action)

    def require(self, action: Action) -> None:
        """403 with a plain message unless the caller may do `action`."""
        if self.api_key is not None and not self.can(action):
            raise PermissionDenied(
                f"This API key's role ({self.role}) does not allow this ({action.value.replace('_', ' ')})."
            )
        require(self.role, action)

    def actor_for(self, action: Action) -> User:
        """The user a service should act as for `action` (the services check permissions for a user).

        Session: the logged-in user. API key: the user who created the key, but
        only while they are still an active member of the key's workspace and their role
        allows `action` too. So a key never does more than both the key's role
        and its creator's role allow, and it stops writing when its creator
        leaves or is demoted (reads keep working). Otherwise: 403.
        """
        self.require(action)
        if self.api_key is None and self.user is not None:
            return self.user
        creator = self.api_key.created_by if self.api_key is not None else None
        creator_role = (
            Membership.objects.filter(user=creator, workspace=self.workspace).values_list("role", flat=True).first()
            if creator is not None and creator.is_active
            else None
        )
        if creator is None or not can(creator_role, action):
            raise PermissionDenied(
                "The user who created this API key can no longer do this in the workspace; "
                "ask an admin to create a new key."
            )
        return creator


def resolve_workspace_access(request, workspace_slug: str) -> WorkspaceAccess:
    """The caller's access to the workspace `workspace_slug`, or 404 (never 403)."""
    api_key = request.auth if isinstance(request.auth, ApiKey) else None
    if api_key is not None:
        if api_key.workspace.slug != workspace_slug:
            raise Http404("No such workspace.")
        return WorkspaceAccess(workspace=api_key.workspace, role=api_key.role, user=None, api_key=api_key)
    membership = resolve_membership(request.user, workspace_slug)
    return WorkspaceAccess(workspace=membership.workspace, role=membership.role, user=request.user, api_key=None)
