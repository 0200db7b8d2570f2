"""Writes for users, workspaces, memberships and invitations: one public function per use case.

Every function that acts on a workspace checks the actor's role there with
`accounts.permissions.require`, so the pages and the API share one set of rules.
Errors a person can fix are `ValidationError` (with a message that says what to
do); missing rights are `PermissionDenied`.

Rules decided here (beyond the permission map):
- Nobody becomes or stops being the owner through `change_role`; that is
  `transfer_ownership`, and the old owner becomes an admin.
- An admin may manage editors, approvers and viewers, and may make them admins
  (no one grants more than they have), but may not change or remove another
  admin: only the owner acts on admins.
- Nobody changes their own role or removes themselves; they `leave_workspace`.
  The owner cannot leave before transferring ownership.
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, ProtectedError, Q, RestrictedError
from django.utils import dateformat
from django.utils import timezone as django_timezone
from django.utils.text import slugify

from accounts.emails import send_invitation_email
from accounts.models import Invitation, Membership, User, Workspace
from accounts.permissions import Action, require

Role = Membership.Role


# ---------------------------------------------------------------- helpers


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@cache
def available_timezones() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def _clean_timezone(value: str) -> str:
    value = (value or "").strip()
    if value not in available_timezones():
        raise ValidationError(f"“{value}” is not a time zone we know; pick one such as Europe/Berlin or UTC.")
    return value


def _clean_workspace_name(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("Give the workspace a name.")
    max_length = Workspace._meta.get_field("name").max_length
    if len(value) > max_length:
        raise ValidationError(f"Keep the name to {max_length} characters.")
    return value


def _role_in(workspace: Workspace, user: User) -> str | None:
    """The user's role in the workspace, or None when they are not a member."""
    return Membership.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    """A fresh raw token and its SHA-256 hex digest (the only part we store)."""
    token = secrets.token_urlsafe(32)
    return token, _hash_token(token)


def _pending_invitations(workspace: Workspace):
    return Invitation.objects.filter(
        workspace=workspace, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=django_timezone.now()
    )


def _check_member_limit(workspace: Workspace, *, current: int) -> None:
    # accounts is the ground floor and otherwise imports no other app; the member
    # limit is the one question it must ask billing, so the import stays local.
    from billing.limits import Limited, check

    result = check(workspace, Limited.ADD_MEMBER, current=current)
    if not result.allowed:
        raise ValidationError(result.message, code="limit")


def _lock_workspace(workspace: Workspace) -> Workspace:
    """Serialize member changes of one workspace (counts, the single owner)."""
    return Workspace.objects.select_for_update().get(pk=workspace.pk)


def _emails_of(user: User) -> set[str]:
    """The user's login email and every address allauth has verified for them, lower-cased."""
    from allauth.account.models import EmailAddress

    emails = {user.email.lower()}
    emails.update(
        e.lower() for e in EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    return emails


# ---------------------------------------------------------------- profile and workspaces


@transaction.atomic
def update_profile(*, user: User, name: str) -> User:
    """Set the user's display name (blank is allowed: we then address them by email)."""
    name = (name or "").strip()
    max_length = User._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValidationError(f"Keep your name to {max_length} characters.")
    user.name = name
    user.save(update_fields=["name"])
    return user


@transaction.atomic
def create_workspace(*, owner: User, name: str, timezone: str = "UTC") -> Workspace:
    """Create a workspace with `owner` as its owner member.

    `timezone` is an IANA name; a name or zone we cannot use raises ValidationError.
    """
    name = _clean_workspace_name(name)
    workspace = Workspace.objects.create(name=name, slug=_unique_slug(name), timezone=_clean_timezone(timezone))
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    return workspace


@transaction.atomic
def update_workspace(*, workspace: Workspace, actor: User, name: str, timezone: str) -> Workspace:
    """Rename the workspace and set its time zone. Needs MANAGE_SETTINGS. The slug (URLs) stays."""
    require(_role_in(workspace, actor), Action.MANAGE_SETTINGS)
    workspace.name = _clean_workspace_name(name)
    workspace.timezone = _clean_timezone(timezone)
    workspace.save(update_fields=["name", "timezone"])
    return workspace


@transaction.atomic
def delete_workspace(*, workspace: Workspace, actor: User) -> str:
    """Delete the workspace and everything in it. Owner only. Returns its name."""
    require(_role_in(workspace, actor), Action.DELETE_WORKSPACE)
    name = workspace.name
    _delete(workspace, what=f"the workspace {name}")
    return name


def _delete(obj: Workspace | User, *, what: str) -> None:
    try:
        obj.delete()
    except (ProtectedError, RestrictedError) as exc:
        # Another app holds on to rows that must outlive it; say so rather than fail.
        raise ValidationError(
            f"We could not delete {what}: some of its records must be kept. Contact support."
        ) from exc


# ---------------------------------------------------------------- invitations


@transaction.atomic
def invite_member(*, workspace: Workspace, invited_by: User, email: str, role: str) -> tuple[Invitation, str]:
    """Invite `email` to join `workspace` with `role`; email them a single-use link.

    Returns the invitation and the raw token (the link's only copy; we keep its hash).
    Raises PermissionDenied unless `invited_by` may manage members, and
    ValidationError for: an invalid email, the owner role or an unknown role,
    someone who is already a member, a pending invitation to the same address,
    or a full plan (members plus pending invitations). The email goes out after commit.
    """
    require(_role_in(workspace, invited_by), Action.MANAGE_MEMBERS)
    email = User.objects.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError("Enter a valid email address.", code="email") from exc
    if role == Role.OWNER:
        raise ValidationError("Nobody is invited as owner; invite them, then transfer ownership.", code="role")
    if role not in Role.values:
        raise ValidationError(f"“{role}” is not a role; choose admin, editor, approver or viewer.", code="role")
    workspace = _lock_workspace(workspace)
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {workspace.name}.", code="already_member")
    if _pending_invitations(workspace).filter(email__iexact=email).exists():
        raise ValidationError(
            f"An invitation to {email} is already pending; resend or revoke it instead.", code="already_invited"
        )
    members = Membership.objects.filter(workspace=workspace).count()
    _check_member_limit(workspace, current=members + _pending_invitations(workspace).count())
    token, token_hash = _new_token()
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=token_hash, invited_by=invited_by
    )
    transaction.on_commit(lambda: send_invitation_email(invitation=invitation, token=token), robust=True)
    return invitation, token


@transaction.atomic
def resend_invitation(*, invitation: Invitation, actor: User) -> tuple[Invitation, str]:
    """Email a new link (new token, new expiry); the old link stops working.

    Only for invitations not yet accepted or revoked; an expired one may be
    resent (that is what resending is for), if the plan still has room.
    """
    require(_role_in(invitation.workspace, actor), Action.MANAGE_MEMBERS)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status in ("accepted", "revoked"):
        raise ValidationError(f"This invitation was {invitation.status}; it cannot be resent.", code=invitation.status)
    if invitation.status == "expired":
        workspace = _lock_workspace(invitation.workspace)
        if _pending_invitations(workspace).filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                f"A newer invitation to {invitation.email} is already pending; resend that one.", code="already_invited"
            )
        members = Membership.objects.filter(workspace=workspace).count()
        _check_member_limit(workspace, current=members + _pending_invitations(workspace).count())
    token, invitation.token_hash = _new_token()
    invitation.expires_at = django_timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS)
    invitation.save(update_fields=["token_hash", "expires_at"])
    transaction.on_commit(lambda: send_invitation_email(invitation=invitation, token=token), robust=True)
    return invitation, token


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor: User) -> Invitation:
    """Make the invitation's link stop working. Not for accepted or already revoked ones."""
    require(_role_in(invitation.workspace, actor), Action.MANAGE_MEMBERS)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status in ("accepted", "revoked"):
        raise ValidationError(f"This invitation was already {invitation.status}.", code=invitation.status)
    invitation.revoked_at = django_timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


def find_invitation(*, token: str) -> Invitation | None:
    """The invitation a raw token belongs to, or None (unknown or tampered)."""
    if not token:
        return None
    return Invitation.objects.select_related("workspace", "invited_by").filter(token_hash=_hash_token(token)).first()


def check_invitation(*, invitation: Invitation, user: User | None = None) -> None:
    """Raise ValidationError (with a code) unless `invitation` can be accepted, by `user` if given.

    Codes: used, revoked, expired, wrong_email, already_member.
    """
    if invitation.accepted_at:
        raise ValidationError(
            "This invitation has already been used. Ask for a new one if you still need access.", code="used"
        )
    if invitation.revoked_at:
        raise ValidationError(
            "This invitation was withdrawn. Ask the workspace's admins for a new one.", code="revoked"
        )
    if invitation.expires_at <= django_timezone.now():
        when = dateformat.format(django_timezone.localtime(invitation.expires_at), "j F Y")
        raise ValidationError(f"This invitation expired on {when}. Ask for a new one.", code="expired")
    if user is None:
        return
    if invitation.email.lower() not in _emails_of(user):
        raise ValidationError(
            f"This invitation was sent to {invitation.email}; you are logged in as {user.email}.", code="wrong_email"
        )
    if Membership.objects.filter(workspace=invitation.workspace, user=user).exists():
        raise ValidationError(f"You are already a member of {invitation.workspace.name}.", code="already_member")


@transaction.atomic
def accept_invitation(*, token: str, user: User) -> Membership:
    """Join the invitation's workspace with its role, using up the invitation.

    ValidationError (code in brackets) for an unknown or tampered token [invalid],
    an expired [expired], revoked [revoked] or used [used] invitation, an
    invitation sent to another address [wrong_email], an existing member
    [already_member] or a full plan [limit]. Nothing changes on error.
    """
    found = find_invitation(token=token)
    if found is None:
        raise ValidationError("This invitation link is not valid. Check that you copied all of it.", code="invalid")
    invitation = Invitation.objects.select_for_update().select_related("workspace").get(pk=found.pk)
    check_invitation(invitation=invitation, user=user)
    workspace = _lock_workspace(invitation.workspace)
    _check_member_limit(workspace, current=Membership.objects.filter(workspace=workspace).count())
    # Compare-and-set: of two concurrent accepts, exactly one gets the row.
    now = django_timezone.now()
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        accepted_at=now, accepted_by=user
    )
    if claimed != 1:
        raise ValidationError("This invitation has already been used.", code="used")
    return Membership.objects.create(user=user, workspace=workspace, role=invitation.role)


# ---------------------------------------------------------------- members


def _check_may_manage(membership: Membership, actor: User, *, owner_message: str, self_message: str) -> None:
    """Check `actor` may act on `membership`: manages members, not on the owner or themselves; admins: owner only."""
    actor_role = _role_in(membership.workspace, actor)
    require(actor_role, Action.MANAGE_MEMBERS)
    if membership.role == Role.OWNER:
        raise ValidationError(owner_message, code="owner")
    if membership.user_id == actor.pk:
        raise ValidationError(self_message, code="self")
    if membership.role == Role.ADMIN and actor_role != Role.OWNER:
        raise PermissionDenied("Only the owner can change or remove an admin.")


@transaction.atomic
def change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    """Give a member another role (admin, editor, approver or viewer).

    Needs MANAGE_MEMBERS. The owner's role, and making someone owner, go through
    `transfer_ownership`. Only the owner changes an admin's role; nobody changes their own.
    """
    membership = Membership.objects.select_for_update().select_related("workspace", "user").get(pk=membership.pk)
    require(_role_in(membership.workspace, actor), Action.MANAGE_MEMBERS)
    if role == Role.OWNER:
        raise ValidationError("To make someone the owner, transfer ownership.", code="role")
    if role not in Role.values:
        raise ValidationError(f"“{role}” is not a role; choose admin, editor, approver or viewer.", code="role")
    _check_may_manage(
        membership,
        actor,
        owner_message="The owner stays owner until they transfer ownership.",
        self_message="You cannot change your own role; ask the owner.",
    )
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, actor: User) -> None:
    """Take a member out of the workspace. Needs MANAGE_MEMBERS.

    The owner cannot be removed; nobody removes themselves (they leave);
    only the owner removes an admin.
    """
    membership = Membership.objects.select_for_update().select_related("workspace", "user").get(pk=membership.pk)
    _check_may_manage(
        membership,
        actor,
        owner_message="The owner cannot be removed.",
        self_message="To remove yourself, leave the workspace.",
    )
    membership.delete()


@transaction.atomic
def transfer_ownership(*, workspace: Workspace, to_membership: Membership, actor: User) -> None:
    """Make another member the owner; the current owner (the actor) becomes an admin.

    Only the owner may transfer. There is exactly one owner before and after.
    """
    workspace = _lock_workspace(workspace)
    require(_role_in(workspace, actor), Action.TRANSFER_OWNERSHIP)
    to_membership = Membership.objects.select_for_update().filter(pk=to_membership.pk, workspace=workspace).first()
    if to_membership is None:
        raise ValidationError("That person is not a member of this workspace.", code="not_member")
    if to_membership.user_id == actor.pk:
        raise ValidationError("You already own this workspace.", code="self")
    # The database allows one owner per workspace: demote first, then promote.
    Membership.objects.filter(workspace=workspace, role=Role.OWNER).update(role=Role.ADMIN)
    Membership.objects.filter(pk=to_membership.pk).update(role=Role.OWNER)


@transaction.atomic
def leave_workspace(*, membership: Membership) -> None:
    """Leave a workspace. The owner must transfer ownership (or delete the workspace) first."""
    membership = Membership.objects.select_for_update().select_related("workspace").get(pk=membership.pk)
    if membership.role == Role.OWNER:
        raise ValidationError(
            f"You own {membership.workspace.name}: transfer ownership first, or delete the workspace.", code="owner"
        )
    membership.delete()


# ---------------------------------------------------------------- account deletion


def workspaces_deleted_with(*, user: User) -> list[Workspace]:
    """The workspaces deleting `user` would delete: those they own.

    Each carries `other_members`: how many other people lose access.
    """
    owned = Membership.objects.filter(user=user, role=Role.OWNER).values("workspace")
    return list(
        Workspace.objects.filter(pk__in=owned)
        .annotate(other_members=Count("memberships", filter=~Q(memberships__user=user)))
        .order_by("name", "pk")
    )


@transaction.atomic
def delete_account(*, user: User) -> list[str]:
    """Delete the user, their memberships and every workspace they own (with all its data).

    Workspaces where they are only a member stay; they simply leave them.
    Returns the names of the deleted workspaces.
    """
    owned = workspaces_deleted_with(user=user)
    for workspace in owned:
        _delete(workspace, what=f"the workspace {workspace.name}")
    _delete(user, what="your account")
    return [workspace.name for workspace in owned]
