from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, User, Workspace
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_the_profile_page_shows_the_name_security_links_workspaces_and_leave_where_allowed(client):
    user = UserFactory(name="Ann")
    owned = MembershipFactory(user=user, role="owner", workspace=WorkspaceFactory(name="Owned"))
    member = MembershipFactory(user=user, role="editor", workspace=WorkspaceFactory(name="Joined"))
    client.force_login(user)

    response = client.get(reverse("accounts:profile"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ann"' in html
    for name in ("account_email", "account_change_password", "mfa_index", "accounts:account_delete"):
        assert f'href="{reverse(name)}"' in html
    assert "Owned" in html and "Joined" in html
    assert reverse("accounts:workspace_leave", kwargs={"workspace_slug": member.workspace.slug}) in html
    assert reverse("accounts:workspace_leave", kwargs={"workspace_slug": owned.workspace.slug}) not in html


def test_saving_the_name(client):
    user = UserFactory(name="Old")
    client.force_login(user)

    response = client.post(reverse("accounts:profile"), {"name": " New Name "}, follow=True)

    user.refresh_from_db()
    assert user.name == "New Name"
    assert [str(m) for m in response.context["messages"]] == ["Your name was saved."]


def test_a_too_long_name_is_refused_and_nothing_changes(client):
    user = UserFactory(name="Old")
    client.force_login(user)

    response = client.post(reverse("accounts:profile"), {"name": "x" * 151})

    user.refresh_from_db()
    assert response.status_code == 400
    assert user.name == "Old"


def test_the_profile_needs_a_login(client):
    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_leaving_from_the_profile_page(client):
    user = UserFactory()
    membership = MembershipFactory(user=user, role="viewer")
    client.force_login(user)

    response = client.post(
        reverse("accounts:workspace_leave", kwargs={"workspace_slug": membership.workspace.slug}),
        {"next": reverse("accounts:profile")},
    )

    assert response["Location"] == reverse("accounts:profile")
    assert not Membership.objects.filter(pk=membership.pk).exists()


# ---------------------------------------------------------------- deletion


@pytest.fixture
def user_with_workspaces():
    user = UserFactory(email="ann@example.com")
    solo = MembershipFactory(user=user, role="owner", workspace=WorkspaceFactory(name="Solo Brand")).workspace
    team = MembershipFactory(user=user, role="owner", workspace=WorkspaceFactory(name="Team Brand")).workspace
    MembershipFactory(workspace=team, role="editor")
    MembershipFactory(workspace=team, role="viewer")
    joined = MembershipFactory(role="owner", workspace=WorkspaceFactory(name="Client Co")).workspace
    MembershipFactory(user=user, workspace=joined, role="admin")
    return user, solo, team, joined


def test_the_delete_page_names_what_is_deleted_and_what_is_left(client, user_with_workspaces):
    user, _solo, _team, _joined = user_with_workspaces
    client.force_login(user)

    response = client.get(reverse("accounts:account_delete"))

    html = response.content.decode()
    deleted = html.split('data-testid="deleted-workspaces"')[1].split("</ul>")[0]
    left = html.split('data-testid="left-workspaces"')[1].split("</ul>")[0]
    assert response.status_code == 200
    assert "<strong>Solo Brand</strong>" in deleted
    assert "<strong>Team Brand</strong> — 2 other members will lose access" in deleted
    assert "Client Co" not in deleted
    assert "Client Co" in left
    assert 'type="password"' in html


def test_deleting_the_account_with_the_password_removes_owned_workspaces_only(client, user_with_workspaces):
    user, solo, team, joined = user_with_workspaces
    client.force_login(user)

    response = client.post(reverse("accounts:account_delete"), {"confirmation": DEFAULT_PASSWORD}, follow=True)

    assert response.redirect_chain == [(reverse("home"), 302)]
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Workspace.objects.filter(pk__in=[solo.pk, team.pk]).exists()
    assert Workspace.objects.filter(pk=joined.pk).exists()
    assert list(Membership.objects.filter(workspace=joined).values_list("role", flat=True)) == ["owner"]
    assert [str(m) for m in response.context["messages"]] == [
        "Your account was deleted. Deleted workspaces: Solo Brand, Team Brand."
    ]
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_deletes_nothing(client, user_with_workspaces):
    user, solo, team, joined = user_with_workspaces
    client.force_login(user)

    response = client.post(reverse("accounts:account_delete"), {"confirmation": "wrong"})

    assert response.status_code == 400
    assert "That is not your password; nothing was deleted." in response.content.decode()
    assert User.objects.filter(pk=user.pk).exists()
    assert Workspace.objects.filter(pk__in=[solo.pk, team.pk, joined.pk]).count() == 3


def test_without_a_usable_password_the_email_confirms(client):
    user = UserFactory(email="social@example.com")
    user.set_unusable_password()
    user.save()
    client.force_login(user)

    page = client.get(reverse("accounts:account_delete"))
    wrong = client.post(reverse("accounts:account_delete"), {"confirmation": "other@example.com"})
    right = client.post(reverse("accounts:account_delete"), {"confirmation": "Social@Example.com"})

    assert "Type your email address" in page.content.decode()
    assert wrong.status_code == 400
    assert "Type social@example.com exactly; nothing was deleted." in wrong.content.decode()
    assert right.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
