from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership, Workspace
from accounts.permissions import ROLE_DESCRIPTIONS
from accounts.tests.factories import InvitationFactory
from billing.models import Subscription
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _workspace(*roles: str):
    owner = MembershipFactory(role="owner")
    members = {"owner": owner}
    for role in roles:
        members[role] = MembershipFactory(workspace=owner.workspace, role=role)
    return owner.workspace, members


def _members(workspace: Workspace) -> list[tuple[int, str]]:
    return sorted(Membership.objects.filter(workspace=workspace).values_list("user_id", "role"))


def _invitations(workspace: Workspace) -> list[tuple]:
    return list(
        Invitation.objects.filter(workspace=workspace)
        .order_by("pk")
        .values_list("email", "role", "token_hash", "expires_at", "revoked_at")
    )


def _url(name: str, workspace: Workspace, **kwargs) -> str:
    return reverse(f"accounts:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# ---------------------------------------------------------------- the page


def test_the_members_page_lists_members_pending_invitations_and_role_descriptions(client):
    workspace, members = _workspace("editor")
    InvitationFactory(workspace=workspace, email="pending@example.com")
    InvitationFactory(workspace=workspace, email="gone@example.com", revoked_at=timezone.now())
    client.force_login(members["owner"].user)

    response = client.get(_url("members", workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert members["editor"].user.email in html
    assert "pending@example.com" in html
    assert "gone@example.com" not in html
    for description in ROLE_DESCRIPTIONS.values():
        assert description in html
    assert _url("ownership_transfer", workspace) in html


def test_a_viewer_sees_the_members_but_no_invitations_or_controls(client):
    workspace, members = _workspace("viewer")
    InvitationFactory(workspace=workspace, email="pending@example.com")
    client.force_login(members["viewer"].user)

    response = client.get(_url("members", workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert members["owner"].user.email in html
    assert "pending@example.com" not in html
    assert _url("member_remove", workspace, pk=members["owner"].pk) not in html
    assert "Send invitation" not in html


def test_a_non_member_gets_404_on_every_members_url(client):
    workspace, members = _workspace("editor")
    invitation = InvitationFactory(workspace=workspace)
    client.force_login(UserFactory())
    before = (_members(workspace), _invitations(workspace))

    responses = [
        client.get(_url("members", workspace)),
        client.post(_url("members", workspace), {"email": "x@example.com", "role": "viewer"}),
        client.post(_url("member_role", workspace, pk=members["editor"].pk), {"role": "viewer"}),
        client.post(_url("member_remove", workspace, pk=members["editor"].pk)),
        client.post(_url("invitation_revoke", workspace, pk=invitation.pk)),
        client.post(_url("invitation_resend", workspace, pk=invitation.pk)),
        client.post(_url("ownership_transfer", workspace), {"membership": members["editor"].pk}),
        client.post(_url("workspace_leave", workspace)),
    ]

    assert [r.status_code for r in responses] == [404] * 8
    assert (_members(workspace), _invitations(workspace)) == before


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    workspace, _ = _workspace()

    response = client.get(_url("members", workspace))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# ---------------------------------------------------------------- inviting


def test_an_admin_invites_someone_and_the_email_carries_the_link(client, django_capture_on_commit_callbacks):
    workspace, members = _workspace("admin")
    Subscription.objects.create(workspace=workspace, plan="pro")
    client.force_login(members["admin"].user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url("members", workspace), {"email": "new@example.com", "role": "approver"}, follow=True
        )

    invitation = Invitation.objects.get(workspace=workspace)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.com",
        "approver",
        members["admin"].user,
    )
    assert _messages(response) == ["Invitation sent to new@example.com."]
    assert len(mail.outbox) == 1
    assert "http://letsgrow.test/invitations/" in mail.outbox[0].body


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_members_below_admin_get_403_when_inviting(client, role):
    workspace, members = _workspace(role)
    client.force_login(members[role].user)

    response = client.post(_url("members", workspace), {"email": "new@example.com", "role": "viewer"})

    assert response.status_code == 403
    assert _invitations(workspace) == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-email", "role": "viewer"}, "Enter a valid email address."),
        (
            {"email": "a@example.com", "role": "owner"},
            "Select a valid choice. owner is not one of the available choices.",
        ),
    ],
)
def test_an_invalid_invitation_form_shows_the_error_and_invites_nobody(client, data, error):
    workspace, members = _workspace()
    client.force_login(members["owner"].user)

    response = client.post(_url("members", workspace), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert _invitations(workspace) == []


def test_inviting_an_existing_member_shows_a_clear_error_and_changes_nothing(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)
    email = members["editor"].user.email

    response = client.post(_url("members", workspace), {"email": email, "role": "viewer"})

    assert response.status_code == 400
    assert f"{email} is already a member of {workspace.name}." in response.content.decode()
    assert _invitations(workspace) == []
    assert mail.outbox == []


def test_inviting_beyond_the_plan_shows_the_limit(client):
    workspace, members = _workspace("editor")  # Free plan: 2 members
    client.force_login(members["owner"].user)

    response = client.post(_url("members", workspace), {"email": "x@example.com", "role": "viewer"})

    assert response.status_code == 400
    assert "The Free plan allows 2 members; upgrade to add more." in response.content.decode()
    assert _invitations(workspace) == []


# ---------------------------------------------------------------- roles and removal


def test_an_admin_changes_a_members_role(client):
    workspace, members = _workspace("admin", "editor")
    client.force_login(members["admin"].user)

    response = client.post(_url("member_role", workspace, pk=members["editor"].pk), {"role": "viewer"}, follow=True)

    assert response.redirect_chain == [(_url("members", workspace), 302)]
    assert Membership.objects.get(pk=members["editor"].pk).role == "viewer"
    assert _messages(response) == [f"{members['editor'].user.email} is now viewer."]


@pytest.mark.parametrize("role", ["editor", "viewer", "approver"])
def test_members_below_admin_get_403_on_role_changes_and_removal(client, role):
    workspace, members = _workspace(role)
    target = MembershipFactory(workspace=workspace, role="viewer")
    client.force_login(members[role].user)
    before = _members(workspace)

    responses = [
        client.post(_url("member_role", workspace, pk=target.pk), {"role": "editor"}),
        client.post(_url("member_remove", workspace, pk=target.pk)),
    ]

    assert [r.status_code for r in responses] == [403, 403]
    assert _members(workspace) == before


def test_changing_the_owners_role_is_refused_with_a_message(client):
    workspace, members = _workspace("admin")
    client.force_login(members["admin"].user)
    before = _members(workspace)

    response = client.post(_url("member_role", workspace, pk=members["owner"].pk), {"role": "viewer"}, follow=True)

    assert response.status_code == 200
    assert _messages(response) == ["The owner stays owner until they transfer ownership."]
    assert _members(workspace) == before


def test_an_admin_gets_403_changing_another_admin(client):
    workspace, members = _workspace("admin")
    other_admin = MembershipFactory(workspace=workspace, role="admin")
    client.force_login(members["admin"].user)
    before = _members(workspace)

    response = client.post(_url("member_role", workspace, pk=other_admin.pk), {"role": "viewer"})

    assert response.status_code == 403
    assert _members(workspace) == before


def test_an_invalid_role_is_refused_with_a_message(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)
    before = _members(workspace)

    response = client.post(_url("member_role", workspace, pk=members["editor"].pk), {"role": "owner"}, follow=True)

    assert _messages(response) == ["Choose admin, editor, approver or viewer."]
    assert _members(workspace) == before


def test_removing_a_member(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)

    response = client.post(_url("member_remove", workspace, pk=members["editor"].pk), follow=True)

    assert not Membership.objects.filter(pk=members["editor"].pk).exists()
    assert _messages(response) == [f"{members['editor'].user.email} no longer has access to {workspace.name}."]


def test_removing_the_owner_is_refused_with_a_message(client):
    workspace, members = _workspace("admin")
    client.force_login(members["admin"].user)
    before = _members(workspace)

    response = client.post(_url("member_remove", workspace, pk=members["owner"].pk), follow=True)

    assert _messages(response) == ["The owner cannot be removed."]
    assert _members(workspace) == before


def test_ids_from_another_workspace_are_404_even_for_the_owner(client):
    workspace_a, members_a = _workspace()
    workspace_b, members_b = _workspace("editor")
    invitation_b = InvitationFactory(workspace=workspace_b)
    client.force_login(members_a["owner"].user)
    before = (_members(workspace_b), _invitations(workspace_b))

    responses = [
        client.post(_url("member_role", workspace_a, pk=members_b["editor"].pk), {"role": "viewer"}),
        client.post(_url("member_remove", workspace_a, pk=members_b["editor"].pk)),
        client.post(_url("invitation_revoke", workspace_a, pk=invitation_b.pk)),
        client.post(_url("invitation_resend", workspace_a, pk=invitation_b.pk)),
        client.post(_url("ownership_transfer", workspace_a), {"membership": members_b["editor"].pk}),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    assert (_members(workspace_b), _invitations(workspace_b)) == before


def test_the_member_actions_take_only_post(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)

    response = client.get(_url("member_remove", workspace, pk=members["editor"].pk))

    assert response.status_code == 405
    assert Membership.objects.filter(pk=members["editor"].pk).exists()


# ---------------------------------------------------------------- invitations


def test_revoking_and_resending_invitations(client, django_capture_on_commit_callbacks):
    workspace, members = _workspace()
    to_revoke = InvitationFactory(workspace=workspace, email="r@example.com")
    to_resend = InvitationFactory(workspace=workspace, email="s@example.com", expires_at=timezone.now())
    old_hash = to_resend.token_hash
    client.force_login(members["owner"].user)

    revoked = client.post(_url("invitation_revoke", workspace, pk=to_revoke.pk), follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        resent = client.post(_url("invitation_resend", workspace, pk=to_resend.pk), follow=True)

    to_revoke.refresh_from_db()
    to_resend.refresh_from_db()
    assert to_revoke.status == "revoked"
    assert _messages(revoked) == ["The invitation to r@example.com was revoked; its link no longer works."]
    assert (to_resend.status, to_resend.token_hash != old_hash) == ("pending", True)
    assert _messages(resent) == ["A new invitation link was sent to s@example.com."]
    assert [m.to for m in mail.outbox] == [["s@example.com"]]


def test_resending_a_revoked_invitation_is_refused_with_a_message(client):
    workspace, members = _workspace()
    invitation = InvitationFactory(workspace=workspace, revoked_at=timezone.now() - timedelta(hours=1))
    client.force_login(members["owner"].user)
    before = _invitations(workspace)

    response = client.post(_url("invitation_resend", workspace, pk=invitation.pk), follow=True)

    assert _messages(response) == ["This invitation was revoked; it cannot be resent."]
    assert _invitations(workspace) == before
    assert mail.outbox == []


def test_an_editor_gets_403_on_revoke_and_resend(client):
    workspace, members = _workspace("editor")
    invitation = InvitationFactory(workspace=workspace)
    client.force_login(members["editor"].user)
    before = _invitations(workspace)

    responses = [
        client.post(_url("invitation_revoke", workspace, pk=invitation.pk)),
        client.post(_url("invitation_resend", workspace, pk=invitation.pk)),
    ]

    assert [r.status_code for r in responses] == [403, 403]
    assert _invitations(workspace) == before


# ---------------------------------------------------------------- ownership and leaving


def test_the_owner_transfers_ownership_and_becomes_admin(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)

    response = client.post(_url("ownership_transfer", workspace), {"membership": members["editor"].pk}, follow=True)

    assert _members(workspace) == sorted([(members["owner"].user_id, "admin"), (members["editor"].user_id, "owner")])
    assert _messages(response) == [f"{members['editor'].user.email} now owns {workspace.name}; you are an admin."]


def test_an_admin_gets_403_on_transfer(client):
    workspace, members = _workspace("admin", "editor")
    client.force_login(members["admin"].user)
    before = _members(workspace)

    response = client.post(_url("ownership_transfer", workspace), {"membership": members["editor"].pk})

    assert response.status_code == 403
    assert _members(workspace) == before


def test_transfer_without_a_choice_changes_nothing(client):
    workspace, members = _workspace("editor")
    client.force_login(members["owner"].user)
    before = _members(workspace)

    response = client.post(_url("ownership_transfer", workspace), {"membership": "abc"}, follow=True)

    assert _messages(response) == ["Choose the member who becomes the owner."]
    assert _members(workspace) == before


def test_a_member_leaves_and_lands_on_the_account_page(client):
    workspace, members = _workspace("viewer")
    client.force_login(members["viewer"].user)

    response = client.post(_url("workspace_leave", workspace), follow=True)

    assert response.redirect_chain == [(reverse("accounts:profile"), 302)]
    assert not Membership.objects.filter(pk=members["viewer"].pk).exists()
    assert _messages(response) == [f"You left {workspace.name}."]


def test_the_owner_cannot_leave(client):
    workspace, members = _workspace("viewer")
    client.force_login(members["owner"].user)
    before = _members(workspace)

    response = client.post(_url("workspace_leave", workspace), {"next": "https://evil.example/"}, follow=True)

    assert response.redirect_chain == [(reverse("accounts:profile"), 302)]
    assert _messages(response) == [f"You own {workspace.name}: transfer ownership first, or delete the workspace."]
    assert _members(workspace) == before
