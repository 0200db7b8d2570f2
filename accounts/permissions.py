"""What each workspace role may do: the one place it is written down.

Views, the API and services all ask `can(role, action)` / `require(...)`.
"""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied


class Action(StrEnum):
    VIEW = "view"  # see the workspace's posts, calendar, analytics
    EDIT_CONTENT = "edit_content"  # write and edit posts, templates, media; generate with AI
    SUBMIT_FOR_REVIEW = "submit_for_review"
    APPROVE = "approve"  # approve or reject the workspace's posts
    SCHEDULE = "schedule"  # schedule, reschedule, cancel, post now
    MANAGE_CONNECTIONS = "manage_connections"  # connect and disconnect social accounts
    MANAGE_SETTINGS = "manage_settings"  # workspace name, timezone, automation, domains
    MANAGE_MEMBERS = "manage_members"  # invite, remove, change roles
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_BILLING = "manage_billing"  # plan and payment
    TRANSFER_OWNERSHIP = "transfer_ownership"
    DELETE_WORKSPACE = "delete_workspace"


_VIEWER = frozenset({Action.VIEW})
_APPROVER = _VIEWER | {Action.APPROVE}
_EDITOR = _VIEWER | {Action.EDIT_CONTENT, Action.SUBMIT_FOR_REVIEW, Action.SCHEDULE}
_ADMIN = (
    _EDITOR
    | _APPROVER
    | {Action.MANAGE_CONNECTIONS, Action.MANAGE_SETTINGS, Action.MANAGE_MEMBERS, Action.MANAGE_API_KEYS}
)
_OWNER = frozenset(Action)

ROLE_PERMISSIONS: dict[str, frozenset[Action]] = {
    "owner": _OWNER,
    "admin": frozenset(_ADMIN),
    "editor": frozenset(_EDITOR),
    "approver": frozenset(_APPROVER),
    "viewer": _VIEWER,
}

# Shown on the members page, in this order, so people know what a role means.
ROLE_DESCRIPTIONS: dict[str, str] = {
    "owner": "Everything, including billing, transferring ownership and deleting the workspace.",
    "admin": "Everything but billing, ownership and deletion: members, connections, settings, API keys.",
    "editor": "Writes and schedules posts and submits them for review.",
    "approver": "Reviews posts: approves or rejects them.",
    "viewer": "Sees posts, the calendar and analytics; changes nothing.",
}


def can(role: str | None, action: Action) -> bool:
    """Whether a member with `role` may do `action` (no role: nothing)."""
    return role is not None and action in ROLE_PERMISSIONS.get(role, frozenset())


def require(role: str | None, action: Action) -> None:
    """Raise PermissionDenied (403) with a plain message unless `role` may do `action`."""
    if not can(role, action):
        raise PermissionDenied(f"Your role ({role or 'none'}) does not allow this ({action.value.replace('_', ' ')}).")
