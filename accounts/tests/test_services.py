from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, User, Workspace
from accounts.tests.factories import InvitationFactory
from billing.models import Subscription
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role


def _workspace_with(*roles: str) -> tuple[Workspace, dict[str, User]]:
    """A workspace with an owner plus one member per extra role; users keyed by role."""
    owner = MembershipFactory(role=Role.OWNER)
    users = {"owner": owner.user}
    for role in roles:
        users[role] = MembershipFactory(workspace=owner.workspace, role=role).user
    return owner.workspace, users


def _members(workspace: Workspace) -> list[tuple[str, str]]:
    return sorted(Membership.objects.filter(workspace=workspace).values_list("user__email", "role"))


def _invitations(workspace: Workspace) -> list[tuple]:
    return list(
        Invitation.objects.filter(workspace=workspace)
        .order_by("pk")
        .values_list("email", "role", "token_hash", "expires_at", "accepted_at", "revoked_at")
    )


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mem(workspace: Workspace, user: User) -> Membership:
    return Membership.objects.get(workspace=workspace, user=user)


# ---------------------------------------------------------------- workspaces


def test_create_workspace_takes_a_timezone_and_makes_the_creator_its_only_owner():
    owner = UserFactory()

    workspace = services.create_workspace(owner=owner, name="  Acme Coffee ", timezone="Europe/Berlin")

    assert (workspace.name, workspace.slug, workspace.timezone) == ("Acme Coffee", "acme-coffee", "Europe/Berlin")
    assert _members(workspace) == [(owner.email, "owner")]


def test_create_workspace_defaults_to_utc():
    workspace = services.create_workspace(owner=UserFactory(), name="Acme")

    assert workspace.timezone == "UTC"


@pytest.mark.parametrize(
    ("name", "tz", "message"),
    [
        ("Acme", "Mars/Olympus", "“Mars/Olympus” is not a time zone we know"),
        ("   ", "UTC", "Give the workspace a name."),
        ("x" * 121, "UTC", "Keep the name to 120 characters."),
    ],
)
def test_create_workspace_rejects_bad_input_and_creates_nothing(name, tz, message):
    with pytest.raises(ValidationError, match=message):
        services.create_workspace(owner=UserFactory(), name=name, timezone=tz)

    assert Workspace.objects.count() == 0
    assert Membership.objects.count() == 0


def test_update_workspace_renames_and_sets_the_timezone_for_an_admin():
    workspace, users = _workspace_with("admin")

    services.update_workspace(workspace=workspace, actor=users["admin"], name="New name", timezone="Asia/Tokyo")

    workspace.refresh_from_db()
    assert (workspace.name, workspace.timezone, workspace.slug) == ("New name", "Asia/Tokyo", workspace.slug)


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_update_workspace_is_refused_below_admin(role):
    workspace, users = _workspace_with(role)

    with pytest.raises(PermissionDenied):
        services.update_workspace(workspace=workspace, actor=users[role], name="Hacked", timezone="UTC")

    workspace.refresh_from_db()
    assert workspace.name != "Hacked"


def test_update_workspace_rejects_an_unknown_timezone_and_changes_nothing():
    workspace = WorkspaceFactory(name="Old", timezone="UTC")
    owner = MembershipFactory(workspace=workspace).user

    with pytest.raises(ValidationError, match="not a time zone we know"):
        services.update_workspace(workspace=workspace, actor=owner, name="New", timezone="Nowhere")

    workspace.refresh_from_db()
    assert (workspace.name, workspace.timezone) == ("Old", "UTC")


def test_delete_workspace_is_for_the_owner_only():
    workspace, users = _workspace_with("admin")

    with pytest.raises(PermissionDenied):
        services.delete_workspace(workspace=workspace, actor=users["admin"])
    assert Workspace.objects.filter(pk=workspace.pk).exists()

    assert services.delete_workspace(workspace=workspace, actor=users["owner"]) == workspace.name
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert Membership.objects.filter(workspace_id=workspace.pk).count() == 0


def test_update_profile_sets_the_name():
    user = UserFactory(name="Old")

    services.update_profile(user=user, name="  Ann Lee ")

    user.refresh_from_db()
    assert user.name == "Ann Lee"


# ---------------------------------------------------------------- invite


def test_invite_member_stores_only_the_token_hash_and_emails_the_link_after_commit(
    django_capture_on_commit_callbacks,
):
    workspace, users = _workspace_with()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invitation, token = services.invite_member(
            workspace=workspace, invited_by=users["owner"], email="New@Example.COM", role="editor"
        )

    assert len(callbacks) == 1
    assert (invitation.email, invitation.role, invitation.status) == ("New@example.com", "editor", "pending")
    assert invitation.token_hash == _sha(token)
    assert token not in invitation.token_hash
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New@example.com"]
    assert message.subject == f"[LetsGrow] {users['owner'].name} invited you to {workspace.name} on LetsGrow"
    assert f"http://letsgrow.test/invitations/{token}/" in message.body


def test_invite_member_sends_nothing_until_the_transaction_commits():
    workspace, users = _workspace_with()

    services.invite_member(workspace=workspace, invited_by=users["owner"], email="a@example.com", role="viewer")

    assert mail.outbox == []


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("owner", "Nobody is invited as owner"),
        ("superuser", "“superuser” is not a role"),
    ],
)
def test_invite_member_rejects_the_owner_role_and_unknown_roles(role, message):
    workspace, users = _workspace_with()

    with pytest.raises(ValidationError, match=message):
        services.invite_member(workspace=workspace, invited_by=users["owner"], email="a@example.com", role=role)

    assert _invitations(workspace) == []


def test_invite_member_rejects_an_invalid_email():
    workspace, users = _workspace_with()

    with pytest.raises(ValidationError, match="Enter a valid email address"):
        services.invite_member(workspace=workspace, invited_by=users["owner"], email="not-an-email", role="viewer")

    assert _invitations(workspace) == []


def test_invite_member_rejects_someone_already_a_member_in_any_case():
    workspace, users = _workspace_with()
    MembershipFactory(workspace=workspace, user=UserFactory(email="ed@example.com"), role="editor")

    with pytest.raises(ValidationError) as caught:
        services.invite_member(workspace=workspace, invited_by=users["owner"], email="ED@Example.com", role="viewer")

    assert caught.value.code == "already_member"
    assert caught.value.messages == [f"ED@example.com is already a member of {workspace.name}."]
    assert _invitations(workspace) == []


def test_invite_member_rejects_a_second_pending_invitation_for_the_same_email():
    workspace, users = _workspace_with()
    InvitationFactory(workspace=workspace, email="a@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.invite_member(workspace=workspace, invited_by=users["owner"], email="A@example.com", role="viewer")

    assert caught.value.messages == ["An invitation to A@example.com is already pending; resend or revoke it instead."]
    assert _invitations(workspace) == before


def test_invite_member_allows_a_new_invitation_when_the_old_one_expired():
    workspace, users = _workspace_with()
    InvitationFactory(workspace=workspace, email="a@example.com", expires_at=timezone.now() - timedelta(seconds=1))

    invitation, _ = services.invite_member(
        workspace=workspace, invited_by=users["owner"], email="a@example.com", role="viewer"
    )

    assert invitation.status == "pending"
    assert Invitation.objects.filter(workspace=workspace).count() == 2


def test_invite_member_counts_pending_invitations_against_the_plan_limit():
    # Free plan: 2 members. The owner plus one pending invitation fill it.
    workspace, users = _workspace_with()
    InvitationFactory(workspace=workspace, email="first@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.invite_member(workspace=workspace, invited_by=users["owner"], email="b@example.com", role="viewer")

    assert caught.value.messages == ["The Free plan allows 2 members; upgrade to add more."]
    assert _invitations(workspace) == before


def test_invite_member_is_allowed_on_a_bigger_plan():
    workspace, users = _workspace_with("editor")
    Subscription.objects.create(workspace=workspace, plan="pro")

    invitation, _ = services.invite_member(
        workspace=workspace, invited_by=users["owner"], email="b@example.com", role="admin"
    )

    assert invitation.role == "admin"


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_invite_member_is_refused_to_members_who_may_not_manage_members(role):
    workspace, users = _workspace_with(role)

    with pytest.raises(PermissionDenied):
        services.invite_member(workspace=workspace, invited_by=users[role], email="a@example.com", role="viewer")

    assert _invitations(workspace) == []


def test_invite_member_is_refused_to_a_non_member():
    workspace, _ = _workspace_with()

    with pytest.raises(PermissionDenied, match=r"Your role \(none\)"):
        services.invite_member(workspace=workspace, invited_by=UserFactory(), email="a@example.com", role="viewer")

    assert _invitations(workspace) == []


# ---------------------------------------------------------------- resend and revoke


def test_resend_invitation_issues_a_new_token_and_expiry_and_the_old_link_stops_working(
    django_capture_on_commit_callbacks,
):
    workspace, users = _workspace_with("admin")
    invitation = InvitationFactory(
        workspace=workspace, token="old-token", expires_at=timezone.now() + timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        resent, token = services.resend_invitation(invitation=invitation, actor=users["admin"])

    resent.refresh_from_db()
    assert resent.token_hash == _sha(token) != _sha("old-token")
    assert resent.expires_at > timezone.now() + timedelta(days=6)
    assert services.find_invitation(token="old-token") is None
    assert len(mail.outbox) == 1
    assert f"/invitations/{token}/" in mail.outbox[0].body


def test_resend_invitation_revives_an_expired_invitation():
    workspace, users = _workspace_with()
    invitation = InvitationFactory(workspace=workspace, expires_at=timezone.now() - timedelta(days=1))

    resent, _ = services.resend_invitation(invitation=invitation, actor=users["owner"])

    assert resent.status == "pending"


def test_resend_invitation_of_an_expired_one_is_refused_when_a_newer_one_is_pending():
    workspace, users = _workspace_with("editor")
    Subscription.objects.create(workspace=workspace, plan="pro")
    old = InvitationFactory(workspace=workspace, email="a@example.com", expires_at=timezone.now() - timedelta(days=1))
    InvitationFactory(workspace=workspace, email="A@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.resend_invitation(invitation=old, actor=users["owner"])

    assert caught.value.messages == ["A newer invitation to a@example.com is already pending; resend that one."]
    assert _invitations(workspace) == before


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("accepted_at", "This invitation was accepted; it cannot be resent."),
        ("revoked_at", "This invitation was revoked; it cannot be resent."),
    ],
)
def test_resend_invitation_refuses_used_or_revoked_invitations_and_changes_nothing(field, message):
    workspace, users = _workspace_with()
    invitation = InvitationFactory(workspace=workspace, **{field: timezone.now()})
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.resend_invitation(invitation=invitation, actor=users["owner"])

    assert caught.value.messages == [message]
    assert _invitations(workspace) == before
    assert mail.outbox == []


def test_resend_invitation_is_refused_to_an_editor():
    workspace, users = _workspace_with("editor")
    invitation = InvitationFactory(workspace=workspace)
    before = _invitations(workspace)

    with pytest.raises(PermissionDenied):
        services.resend_invitation(invitation=invitation, actor=users["editor"])

    assert _invitations(workspace) == before


def test_revoke_invitation_makes_the_link_unusable():
    workspace, users = _workspace_with("admin")
    invitation = InvitationFactory(workspace=workspace, token="tok", email="a@example.com")
    invitee = UserFactory(email="a@example.com")

    services.revoke_invitation(invitation=invitation, actor=users["admin"])

    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    with pytest.raises(ValidationError, match="This invitation was withdrawn"):
        services.accept_invitation(token="tok", user=invitee)
    assert not Membership.objects.filter(user=invitee).exists()


def test_revoke_invitation_twice_says_so_and_changes_nothing():
    workspace, users = _workspace_with()
    invitation = InvitationFactory(workspace=workspace, revoked_at=timezone.now() - timedelta(hours=1))
    before = _invitations(workspace)

    with pytest.raises(ValidationError, match="This invitation was already revoked"):
        services.revoke_invitation(invitation=invitation, actor=users["owner"])

    assert _invitations(workspace) == before


def test_revoke_invitation_is_refused_to_a_viewer():
    workspace, users = _workspace_with("viewer")
    invitation = InvitationFactory(workspace=workspace)

    with pytest.raises(PermissionDenied):
        services.revoke_invitation(invitation=invitation, actor=users["viewer"])

    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# ---------------------------------------------------------------- accept


def test_accept_invitation_adds_the_member_with_the_invited_role_and_uses_up_the_invitation():
    workspace, _ = _workspace_with()
    invitation = InvitationFactory(workspace=workspace, token="tok", email="ann@example.com", role="approver")
    ann = UserFactory(email="Ann@Example.com")

    membership = services.accept_invitation(token="tok", user=ann)

    assert (membership.workspace, membership.user, membership.role) == (workspace, ann, "approver")
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == ("accepted", ann)


def test_accept_invitation_works_once_only():
    workspace, _ = _workspace_with()
    InvitationFactory(workspace=workspace, token="tok", email="ann@example.com")
    ann = UserFactory(email="ann@example.com")
    services.accept_invitation(token="tok", user=ann)
    Membership.objects.filter(user=ann).delete()  # even after leaving, the link stays used
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token="tok", user=ann)

    assert caught.value.code == "used"
    assert caught.value.messages == [
        "This invitation has already been used. Ask for a new one if you still need access."
    ]
    assert not Membership.objects.filter(user=ann).exists()
    assert _invitations(workspace) == before


def test_accept_invitation_refuses_an_expired_invitation_and_changes_nothing():
    workspace, _ = _workspace_with()
    expired_at = timezone.now() - timedelta(seconds=1)
    InvitationFactory(workspace=workspace, token="tok", email="ann@example.com", expires_at=expired_at)
    ann = UserFactory(email="ann@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token="tok", user=ann)

    assert caught.value.code == "expired"
    assert caught.value.messages[0].startswith("This invitation expired on ")
    assert _invitations(workspace) == before
    assert not Membership.objects.filter(user=ann).exists()


@pytest.mark.parametrize("token", ["tok-tampered", "", "x" * 500])
def test_accept_invitation_refuses_an_unknown_or_tampered_token(token):
    workspace, _ = _workspace_with()
    InvitationFactory(workspace=workspace, token="tok", email="ann@example.com")
    ann = UserFactory(email="ann@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token=token, user=ann)

    assert caught.value.code == "invalid"
    assert caught.value.messages == ["This invitation link is not valid. Check that you copied all of it."]
    assert _invitations(workspace) == before
    assert not Membership.objects.filter(user=ann).exists()


def test_accept_invitation_refuses_another_email_address_with_a_plain_message():
    workspace, _ = _workspace_with()
    InvitationFactory(workspace=workspace, token="tok", email="a@x.com")
    bob = UserFactory(email="b@y.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token="tok", user=bob)

    assert caught.value.messages == ["This invitation was sent to a@x.com; you are logged in as b@y.com."]
    assert _invitations(workspace) == before
    assert not Membership.objects.filter(user=bob).exists()


def test_accept_invitation_accepts_a_verified_secondary_address_of_the_user():
    workspace, _ = _workspace_with()
    InvitationFactory(workspace=workspace, token="tok", email="work@x.com")
    ann = UserFactory(email="ann@home.com")
    EmailAddress.objects.create(user=ann, email="work@x.com", verified=True, primary=False)

    membership = services.accept_invitation(token="tok", user=ann)

    assert membership.user == ann


def test_accept_invitation_ignores_an_unverified_secondary_address():
    workspace, _ = _workspace_with()
    InvitationFactory(workspace=workspace, token="tok", email="work@x.com")
    ann = UserFactory(email="ann@home.com")
    EmailAddress.objects.create(user=ann, email="work@x.com", verified=False, primary=False)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token="tok", user=ann)

    assert caught.value.code == "wrong_email"
    assert not Membership.objects.filter(user=ann).exists()


def test_accept_invitation_refuses_someone_already_a_member_and_leaves_the_invitation_unused():
    workspace, users = _workspace_with("viewer")
    viewer = users["viewer"]
    InvitationFactory(workspace=workspace, token="tok", email=viewer.email, role="admin")
    before_members, before_invitations = _members(workspace), _invitations(workspace)

    with pytest.raises(ValidationError) as caught:
        services.accept_invitation(token="tok", user=viewer)

    assert caught.value.messages == [f"You are already a member of {workspace.name}."]
    assert _members(workspace) == before_members
    assert _invitations(workspace) == before_invitations


def test_accept_invitation_refuses_when_the_plan_is_full():
    workspace, _ = _workspace_with("viewer")  # Free: 2 members, already there
    InvitationFactory(workspace=workspace, token="tok", email="ann@example.com")
    ann = UserFactory(email="ann@example.com")
    before = _invitations(workspace)

    with pytest.raises(ValidationError, match="The Free plan allows 2 members"):
        services.accept_invitation(token="tok", user=ann)

    assert _invitations(workspace) == before
    assert not Membership.objects.filter(user=ann).exists()


# ---------------------------------------------------------------- roles and removal


def test_an_admin_changes_an_editors_role():
    workspace, users = _workspace_with("admin", "editor")

    membership = services.change_role(membership=_mem(workspace, users["editor"]), role="viewer", actor=users["admin"])

    assert membership.role == "viewer"
    assert _mem(workspace, users["editor"]).role == "viewer"


def test_an_admin_may_make_an_editor_an_admin():
    workspace, users = _workspace_with("admin", "editor")

    services.change_role(membership=_mem(workspace, users["editor"]), role="admin", actor=users["admin"])

    assert _mem(workspace, users["editor"]).role == "admin"


def test_the_owner_changes_an_admins_role():
    workspace, users = _workspace_with("admin")

    services.change_role(membership=_mem(workspace, users["admin"]), role="editor", actor=users["owner"])

    assert _mem(workspace, users["admin"]).role == "editor"


@pytest.mark.parametrize(
    ("target", "role", "message"),
    [
        ("editor", "owner", "To make someone the owner, transfer ownership."),
        ("editor", "god", "“god” is not a role; choose admin, editor, approver or viewer."),
        ("owner", "admin", "The owner stays owner until they transfer ownership."),
        ("admin", "viewer", "You cannot change your own role; ask the owner."),
    ],
)
def test_change_role_refuses_what_only_transfer_does_and_self_changes(target, role, message):
    workspace, users = _workspace_with("admin", "editor")
    before = _members(workspace)

    with pytest.raises(ValidationError) as caught:
        services.change_role(membership=_mem(workspace, users[target]), role=role, actor=users["admin"])

    assert caught.value.messages == [message]
    assert _members(workspace) == before


def test_an_admin_may_not_change_another_admin():
    workspace, users = _workspace_with("admin")
    other_admin = MembershipFactory(workspace=workspace, role="admin")
    before = _members(workspace)

    with pytest.raises(PermissionDenied, match="Only the owner can change or remove an admin"):
        services.change_role(membership=other_admin, role="viewer", actor=users["admin"])

    assert _members(workspace) == before


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_change_role_is_refused_below_admin(role):
    workspace, users = _workspace_with(role)
    target = MembershipFactory(workspace=workspace, role="viewer")
    before = _members(workspace)

    with pytest.raises(PermissionDenied):
        services.change_role(membership=target, role="editor", actor=users[role])

    assert _members(workspace) == before


def test_remove_member_takes_away_access():
    workspace, users = _workspace_with("admin", "editor")

    services.remove_member(membership=_mem(workspace, users["editor"]), actor=users["admin"])

    assert _members(workspace) == sorted([(users["owner"].email, "owner"), (users["admin"].email, "admin")])


@pytest.mark.parametrize(
    ("actor", "target", "message"),
    [
        ("admin", "owner", "The owner cannot be removed."),
        ("owner", "owner", "The owner cannot be removed."),
        ("admin", "admin", "To remove yourself, leave the workspace."),
    ],
)
def test_remove_member_refuses_the_owner_and_oneself(actor, target, message):
    workspace, users = _workspace_with("admin")
    before = _members(workspace)

    with pytest.raises(ValidationError) as caught:
        services.remove_member(membership=_mem(workspace, users[target]), actor=users[actor])

    assert caught.value.messages == [message]
    assert _members(workspace) == before


def test_an_admin_may_not_remove_another_admin_but_the_owner_may():
    workspace, users = _workspace_with("admin")
    other_admin = MembershipFactory(workspace=workspace, role="admin")

    with pytest.raises(PermissionDenied):
        services.remove_member(membership=other_admin, actor=users["admin"])
    assert Membership.objects.filter(pk=other_admin.pk).exists()

    services.remove_member(membership=other_admin, actor=users["owner"])
    assert not Membership.objects.filter(pk=other_admin.pk).exists()


def test_remove_member_is_refused_to_an_editor():
    workspace, users = _workspace_with("editor", "viewer")
    before = _members(workspace)

    with pytest.raises(PermissionDenied):
        services.remove_member(membership=_mem(workspace, users["viewer"]), actor=users["editor"])

    assert _members(workspace) == before


# ---------------------------------------------------------------- ownership and leaving


def test_transfer_ownership_keeps_exactly_one_owner_and_makes_the_old_owner_an_admin():
    workspace, users = _workspace_with("editor")

    services.transfer_ownership(
        workspace=workspace, to_membership=_mem(workspace, users["editor"]), actor=users["owner"]
    )

    assert _members(workspace) == sorted([(users["owner"].email, "admin"), (users["editor"].email, "owner")])
    assert Membership.objects.filter(workspace=workspace, role="owner").count() == 1


def test_transfer_ownership_is_for_the_owner_only():
    workspace, users = _workspace_with("admin", "editor")
    before = _members(workspace)

    with pytest.raises(PermissionDenied):
        services.transfer_ownership(
            workspace=workspace, to_membership=_mem(workspace, users["editor"]), actor=users["admin"]
        )

    assert _members(workspace) == before


def test_transfer_ownership_to_oneself_changes_nothing():
    workspace, users = _workspace_with("editor")
    before = _members(workspace)

    with pytest.raises(ValidationError, match="You already own this workspace"):
        services.transfer_ownership(
            workspace=workspace, to_membership=_mem(workspace, users["owner"]), actor=users["owner"]
        )

    assert _members(workspace) == before


def test_transfer_ownership_to_a_member_of_another_workspace_changes_nothing():
    workspace, users = _workspace_with()
    stranger = MembershipFactory(role="editor")  # another workspace
    before, before_other = _members(workspace), _members(stranger.workspace)

    with pytest.raises(ValidationError, match="not a member of this workspace"):
        services.transfer_ownership(workspace=workspace, to_membership=stranger, actor=users["owner"])

    assert (_members(workspace), _members(stranger.workspace)) == (before, before_other)


def test_leave_workspace_removes_the_membership():
    workspace, users = _workspace_with("viewer")

    services.leave_workspace(membership=_mem(workspace, users["viewer"]))

    assert _members(workspace) == [(users["owner"].email, "owner")]


def test_the_owner_cannot_leave():
    workspace, users = _workspace_with("viewer")
    before = _members(workspace)

    with pytest.raises(ValidationError) as caught:
        services.leave_workspace(membership=_mem(workspace, users["owner"]))

    assert caught.value.messages == [f"You own {workspace.name}: transfer ownership first, or delete the workspace."]
    assert _members(workspace) == before


# ---------------------------------------------------------------- account deletion


def test_workspaces_deleted_with_lists_owned_workspaces_and_who_loses_access():
    user = UserFactory()
    solo = MembershipFactory(user=user, workspace=WorkspaceFactory(name="B solo"), role="owner").workspace
    shared = MembershipFactory(user=user, workspace=WorkspaceFactory(name="A shared"), role="owner").workspace
    MembershipFactory(workspace=shared, role="editor")
    MembershipFactory(workspace=shared, role="viewer")
    MembershipFactory(user=user, role="admin")  # someone else's workspace: not deleted

    owned = services.workspaces_deleted_with(user=user)

    assert [(w, w.other_members) for w in owned] == [(shared, 2), (solo, 0)]


def test_delete_account_deletes_owned_workspaces_but_keeps_those_where_the_user_is_a_member():
    user = UserFactory()
    owned = MembershipFactory(user=user, workspace=WorkspaceFactory(name="Mine"), role="owner").workspace
    colleague = MembershipFactory(workspace=owned, role="editor").user
    InvitationFactory(workspace=owned)
    other = MembershipFactory(role="owner").workspace
    MembershipFactory(user=user, workspace=other, role="admin")

    deleted = services.delete_account(user=user)

    assert deleted == ["Mine"]
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Workspace.objects.filter(pk=owned.pk).exists()
    assert Invitation.objects.filter(workspace_id=owned.pk).count() == 0
    assert User.objects.filter(pk=colleague.pk).exists()
    assert Workspace.objects.filter(pk=other.pk).exists()
    assert list(Membership.objects.filter(workspace=other).values_list("role", flat=True)) == ["owner"]


def test_delete_account_of_a_user_without_workspaces_returns_no_names():
    user = UserFactory()

    assert services.delete_account(user=user) == []
    assert not User.objects.filter(pk=user.pk).exists()
