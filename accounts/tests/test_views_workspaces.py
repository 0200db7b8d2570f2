from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, Workspace
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _settings_url(workspace: Workspace) -> str:
    return reverse("accounts:workspace_settings", kwargs={"workspace_slug": workspace.slug})


def _delete_url(workspace: Workspace) -> str:
    return reverse("accounts:workspace_delete", kwargs={"workspace_slug": workspace.slug})


def _snapshot(workspace: Workspace) -> tuple:
    workspace.refresh_from_db()
    return workspace.name, workspace.timezone, workspace.slug


# ---------------------------------------------------------------- create


def test_the_create_page_asks_for_a_name_and_a_timezone(client):
    client.force_login(UserFactory())

    response = client.get(reverse("accounts:workspace_create"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' in html
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in html


def test_creating_a_workspace_makes_the_user_owner_and_goes_to_onboarding(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("accounts:workspace_create"), {"name": "Acme Bakery", "timezone": "Europe/Paris"})

    workspace = Workspace.objects.get()
    assert (workspace.name, workspace.slug, workspace.timezone) == ("Acme Bakery", "acme-bakery", "Europe/Paris")
    assert Membership.objects.get(workspace=workspace).user == user
    assert Membership.objects.get(workspace=workspace).role == "owner"
    assert response.status_code == 302
    assert response["Location"] in (
        f"/w/{workspace.slug}/",  # onboarding not wired yet: the dashboard
        _onboarding_url(workspace),
    )


def _onboarding_url(workspace: Workspace) -> str:
    from django.urls import NoReverseMatch

    try:
        return reverse("onboarding:resume", kwargs={"workspace_slug": workspace.slug})
    except NoReverseMatch:
        return f"/w/{workspace.slug}/"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "timezone": "UTC"}, "This field is required."),
        ({"name": "Acme", "timezone": "Mars/Base"}, "Select a valid choice."),
    ],
)
def test_bad_input_on_create_shows_the_error_and_creates_nothing(client, data, error):
    client.force_login(UserFactory())

    response = client.post(reverse("accounts:workspace_create"), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert Workspace.objects.count() == 0


def test_creating_needs_a_login(client):
    response = client.post(reverse("accounts:workspace_create"), {"name": "Acme", "timezone": "UTC"})

    assert response.status_code == 302
    assert Workspace.objects.count() == 0


# ---------------------------------------------------------------- settings


def test_an_admin_renames_the_workspace_and_sets_its_timezone(client):
    membership = MembershipFactory(role="admin")
    workspace = membership.workspace
    client.force_login(membership.user)

    response = client.post(_settings_url(workspace), {"name": "Renamed", "timezone": "America/New_York"}, follow=True)

    assert response.redirect_chain == [(_settings_url(workspace), 302)]
    assert _snapshot(workspace)[:2] == ("Renamed", "America/New_York")
    assert [str(m) for m in response.context["messages"]] == ["Workspace settings saved."]


def test_only_the_owner_sees_the_delete_section(client):
    admin = MembershipFactory(role="admin")
    owner = MembershipFactory(role="owner", workspace=admin.workspace)

    client.force_login(admin.user)
    as_admin = client.get(_settings_url(admin.workspace)).content.decode()
    client.force_login(owner.user)
    as_owner = client.get(_settings_url(admin.workspace)).content.decode()

    assert _delete_url(admin.workspace) not in as_admin
    assert _delete_url(admin.workspace) in as_owner


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_members_below_admin_get_403_on_settings(client, role):
    membership = MembershipFactory(role=role)
    client.force_login(membership.user)
    before = _snapshot(membership.workspace)

    page = client.get(_settings_url(membership.workspace))
    post = client.post(_settings_url(membership.workspace), {"name": "Hacked", "timezone": "UTC"})

    assert (page.status_code, post.status_code) == (403, 403)
    assert _snapshot(membership.workspace) == before


def test_a_non_member_gets_404_on_settings_and_delete(client):
    membership = MembershipFactory(role="owner")
    client.force_login(UserFactory())
    workspace = membership.workspace
    before = _snapshot(workspace)

    responses = [
        client.get(_settings_url(workspace)),
        client.post(_settings_url(workspace), {"name": "Hacked", "timezone": "UTC"}),
        client.post(_delete_url(workspace), {"confirm_name": workspace.name}),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert _snapshot(workspace) == before


def test_the_owner_deletes_the_workspace_by_typing_its_name(client):
    membership = MembershipFactory(role="owner")
    workspace = membership.workspace
    client.force_login(membership.user)

    response = client.post(_delete_url(workspace), {"confirm_name": workspace.name}, follow=True)

    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert f"Workspace “{workspace.name}” and everything in it was deleted." in [
        str(m) for m in response.context["messages"]
    ]


def test_a_wrong_confirmation_deletes_nothing(client):
    membership = MembershipFactory(role="owner")
    workspace = membership.workspace
    client.force_login(membership.user)

    response = client.post(_delete_url(workspace), {"confirm_name": "something else"})

    assert response.status_code == 400
    assert f"Type “{workspace.name}” exactly to delete the workspace." in response.content.decode()
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_an_admin_gets_403_on_delete(client):
    membership = MembershipFactory(role="admin")
    workspace = membership.workspace
    client.force_login(membership.user)

    response = client.post(_delete_url(workspace), {"confirm_name": workspace.name})

    assert response.status_code == 403
    assert Workspace.objects.filter(pk=workspace.pk).exists()
