from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership
from accounts.tests.factories import InvitationFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _accept_url(token: str) -> str:
    return reverse("accounts:invitation_accept", kwargs={"token": token})


def _invitation(**kwargs) -> Invitation:
    owner = MembershipFactory(role="owner", user=UserFactory(name="Olga Owner"))
    defaults = {"workspace": owner.workspace, "invited_by": owner.user, "token": "tok", "email": "ann@example.com"}
    return InvitationFactory(**{**defaults, **kwargs})


def _state(invitation: Invitation) -> tuple:
    invitation.refresh_from_db()
    members = sorted(Membership.objects.filter(workspace=invitation.workspace).values_list("user_id", "role"))
    return invitation.accepted_at, invitation.accepted_by_id, invitation.revoked_at, members


def test_an_anonymous_visitor_sees_the_invitation_and_links_to_log_in_or_sign_up(client):
    invitation = _invitation(role="approver")

    response = client.get(_accept_url("tok"))

    html = response.content.decode()
    assert response.status_code == 200
    assert invitation.workspace.name in html
    assert "Olga Owner" in html
    assert "approver" in html
    assert f'href="{reverse("account_login")}?next=%2Finvitations%2Ftok%2F"' in html
    assert f'href="{reverse("account_signup")}?next=%2Finvitations%2Ftok%2F"' in html
    assert "Accept invitation" not in html


def test_an_anonymous_post_is_sent_to_log_in_and_changes_nothing(client):
    invitation = _invitation()
    before = _state(invitation)

    response = client.post(_accept_url("tok"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next=%2Finvitations%2Ftok%2F"
    assert _state(invitation) == before


def test_the_invitee_accepts_and_lands_in_the_workspace(client):
    invitation = _invitation(role="editor")
    ann = UserFactory(email="ann@example.com")
    client.force_login(ann)

    page = client.get(_accept_url("tok"))
    response = client.post(_accept_url("tok"), follow=True)

    assert "Accept invitation" in page.content.decode()
    workspace = invitation.workspace
    assert response.redirect_chain == [(reverse("analytics:dashboard", kwargs={"workspace_slug": workspace.slug}), 302)]
    assert Membership.objects.get(user=ann, workspace=workspace).role == "editor"
    assert [str(m) for m in response.context["messages"]] == [f"Welcome to {workspace.name}: you are editor."]


def test_the_link_works_only_once(client):
    invitation = _invitation()
    ann = UserFactory(email="ann@example.com")
    client.force_login(ann)
    client.post(_accept_url("tok"))
    Membership.objects.filter(user=ann).delete()
    before = _state(invitation)

    page = client.get(_accept_url("tok"))
    again = client.post(_accept_url("tok"))

    assert (page.status_code, again.status_code) == (400, 400)
    assert "This invitation has already been used." in again.content.decode()
    assert _state(invitation) == before


def test_an_expired_link_explains_itself_and_changes_nothing(client):
    invitation = _invitation(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(UserFactory(email="ann@example.com"))
    before = _state(invitation)

    page = client.get(_accept_url("tok"))
    response = client.post(_accept_url("tok"))

    assert (page.status_code, response.status_code) == (400, 400)
    assert "This invitation expired on " in response.content.decode()
    assert _state(invitation) == before


def test_a_revoked_link_explains_itself_and_changes_nothing(client):
    invitation = _invitation(revoked_at=timezone.now())
    client.force_login(UserFactory(email="ann@example.com"))
    before = _state(invitation)

    response = client.post(_accept_url("tok"))

    assert response.status_code == 400
    assert "This invitation was withdrawn." in response.content.decode()
    assert _state(invitation) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_or_tampered_token_is_404_with_a_clear_page(client, method):
    invitation = _invitation()
    client.force_login(UserFactory(email="ann@example.com"))
    before = _state(invitation)

    response = getattr(client, method)(_accept_url("tok-tampered"))

    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()
    assert _state(invitation) == before


def test_another_logged_in_address_is_told_which_address_was_invited(client):
    invitation = _invitation(email="a@x.com")
    client.force_login(UserFactory(email="b@y.com"))
    before = _state(invitation)

    page = client.get(_accept_url("tok"))
    response = client.post(_accept_url("tok"))

    message = "This invitation was sent to a@x.com; you are logged in as b@y.com."
    assert (page.status_code, response.status_code) == (400, 400)
    assert message in page.content.decode()
    assert message in response.content.decode()
    assert "Log out and use another account" in response.content.decode()
    assert _state(invitation) == before


def test_an_existing_member_is_told_so(client):
    invitation = _invitation()
    ann = UserFactory(email="ann@example.com")
    MembershipFactory(workspace=invitation.workspace, user=ann, role="viewer")
    client.force_login(ann)
    before = _state(invitation)

    response = client.post(_accept_url("tok"))

    assert response.status_code == 400
    assert f"You are already a member of {invitation.workspace.name}." in response.content.decode()
    assert _state(invitation) == before
