"""The accounts REST API: workspaces, members, invitations; scoping, roles, CSRF and rate limits."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey, Invitation, Membership
from accounts.tests.api_factories import ApiKeyFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

CSRF_TOKEN = "a" * 32  # a valid CSRF secret: 32 letters or digits


@pytest.fixture(autouse=True)
def _empty_throttle_cache():
    """Rate-limit counters live in the cache, which may outlive a test."""
    cache.clear()
    yield
    cache.clear()


def url(name: str, **kwargs) -> str:
    return reverse(f"api:accounts:{name}", kwargs=kwargs)


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key_client(api_key: ApiKey) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.raw_key}")
    return client


def make_invitation(workspace, email="new@example.com") -> Invitation:
    return Invitation.objects.create(workspace=workspace, email=email, role="editor", token_hash=f"{workspace.pk:064x}")


@pytest.fixture
def owner() -> Membership:
    return MembershipFactory(workspace=WorkspaceFactory(name="Acme", slug="acme"), role=Membership.Role.OWNER)


# ---------------------------------------------------------------- routes


def test_routes_are_versioned_under_api_v1():
    assert url("workspace_list") == "/api/v1/workspaces/"
    assert url("workspace_detail", workspace_slug="acme") == "/api/v1/w/acme/"
    assert url("member_list", workspace_slug="acme") == "/api/v1/w/acme/members/"
    assert url("member_detail", workspace_slug="acme", pk=3) == "/api/v1/w/acme/members/3/"
    assert url("invitation_list", workspace_slug="acme") == "/api/v1/w/acme/invitations/"
    assert url("invitation_detail", workspace_slug="acme", pk=4) == "/api/v1/w/acme/invitations/4/"


# ---------------------------------------------------------------- workspaces


def test_a_session_user_lists_all_their_workspaces_with_their_role(owner):
    MembershipFactory(user=owner.user, workspace=WorkspaceFactory(name="Bistro", slug="bistro"), role="viewer")
    MembershipFactory(workspace=WorkspaceFactory(name="Not mine", slug="not-mine"))

    response = session_client(owner.user).get(url("workspace_list"))

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"name": "Acme", "slug": "acme", "timezone": "UTC", "role": "owner"},
            {"name": "Bistro", "slug": "bistro", "timezone": "UTC", "role": "viewer"},
        ],
    }


def test_an_api_key_lists_only_its_workspace_with_the_keys_role(owner):
    MembershipFactory(user=owner.user, workspace=WorkspaceFactory(name="Bistro", slug="bistro"))
    api_key = ApiKeyFactory(workspace=owner.workspace, role="viewer", created_by=owner.user)

    response = key_client(api_key).get(url("workspace_list"))

    assert response.json()["results"] == [{"name": "Acme", "slug": "acme", "timezone": "UTC", "role": "viewer"}]


def test_workspace_detail(owner):
    owner.workspace.timezone = "Europe/Berlin"
    owner.workspace.save()

    response = session_client(owner.user).get(url("workspace_detail", workspace_slug="acme"))

    assert response.status_code == 200
    assert response.json() == {"name": "Acme", "slug": "acme", "timezone": "Europe/Berlin", "role": "owner"}


def test_workspace_detail_with_a_key_shows_the_keys_role(owner):
    api_key = ApiKeyFactory(workspace=owner.workspace, role="editor")

    response = key_client(api_key).get(url("workspace_detail", workspace_slug="acme"))

    assert response.json() == {"name": "Acme", "slug": "acme", "timezone": "UTC", "role": "editor"}


# ---------------------------------------------------------------- members


def test_members_list(owner):
    editor = MembershipFactory(
        workspace=owner.workspace, role="editor", user=UserFactory(email="ed@example.com", name="Ed")
    )
    MembershipFactory(role="editor")  # another workspace

    response = session_client(editor.user).get(url("member_list", workspace_slug="acme"))

    assert response.status_code == 200
    assert [(m["id"], m["email"], m["name"], m["role"]) for m in response.json()["results"]] == [
        (owner.pk, owner.user.email, owner.user.name, "owner"),
        (editor.pk, "ed@example.com", "Ed", "editor"),
    ]
    assert set(response.json()["results"][0]) == {"id", "email", "name", "role", "joined_at"}


def test_member_detail(owner):
    response = session_client(owner.user).get(url("member_detail", workspace_slug="acme", pk=owner.pk))

    assert response.status_code == 200
    assert response.json()["role"] == "owner"


def test_the_owner_changes_a_members_role(owner):
    editor = MembershipFactory(workspace=owner.workspace, role="editor")

    response = session_client(owner.user).patch(
        url("member_detail", workspace_slug="acme", pk=editor.pk), {"role": "admin"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert Membership.objects.get(pk=editor.pk).role == "admin"


def test_the_owner_removes_a_member(owner):
    editor = MembershipFactory(workspace=owner.workspace, role="editor")

    response = session_client(owner.user).delete(url("member_detail", workspace_slug="acme", pk=editor.pk))

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=editor.pk).exists()


def test_a_bad_role_is_400_with_the_fields_message(owner):
    editor = MembershipFactory(workspace=owner.workspace, role="editor")

    response = session_client(owner.user).patch(
        url("member_detail", workspace_slug="acme", pk=editor.pk), {"role": "boss"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"role": ['"boss" is not a valid choice.']}
    assert Membership.objects.get(pk=editor.pk).role == "editor"


def test_a_missing_role_is_400(owner):
    editor = MembershipFactory(workspace=owner.workspace, role="editor")

    response = session_client(owner.user).patch(
        url("member_detail", workspace_slug="acme", pk=editor.pk), {}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"role": ["This field is required."]}


def test_a_rule_of_the_service_is_400_with_its_message(owner):
    response = session_client(owner.user).delete(url("member_detail", workspace_slug="acme", pk=owner.pk))

    assert response.status_code == 400
    assert response.json() == {"detail": ["The owner cannot be removed."]}
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_an_admin_cannot_remove_another_admin_403(owner):
    admin = MembershipFactory(workspace=owner.workspace, role="admin")
    other_admin = MembershipFactory(workspace=owner.workspace, role="admin")

    response = session_client(admin.user).delete(url("member_detail", workspace_slug="acme", pk=other_admin.pk))

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the owner can change or remove an admin."}
    assert Membership.objects.filter(pk=other_admin.pk).exists()


# ---------------------------------------------------------------- invitations


def test_invitations_list_never_shows_the_token_hash(owner):
    invitation = make_invitation(owner.workspace)
    make_invitation(WorkspaceFactory(), email="elsewhere@example.com")

    response = session_client(owner.user).get(url("invitation_list", workspace_slug="acme"))

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == invitation.pk
    assert (row["email"], row["role"], row["status"], row["invited_by"]) == (
        "new@example.com",
        "editor",
        "pending",
        None,
    )
    assert set(row) == {
        "id",
        "email",
        "role",
        "status",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    }
    assert invitation.token_hash not in response.content.decode()


def test_the_owner_invites_someone(owner):
    response = session_client(owner.user).post(
        url("invitation_list", workspace_slug="acme"), {"email": "Zoe@Example.com", "role": "viewer"}, format="json"
    )

    invitation = Invitation.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == invitation.pk
    assert (response.json()["email"], response.json()["role"], response.json()["invited_by"]) == (
        "Zoe@example.com",
        "viewer",
        owner.user.email,
    )
    assert "token" not in response.content.decode()
    assert invitation.workspace == owner.workspace


def test_bad_invitation_input_is_400_with_field_messages(owner):
    response = session_client(owner.user).post(
        url("invitation_list", workspace_slug="acme"), {"email": "nope", "role": "owner"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"email": ["Enter a valid email address."], "role": ['"owner" is not a valid choice.']}
    assert not Invitation.objects.exists()


def test_inviting_a_member_again_is_400(owner):
    response = session_client(owner.user).post(
        url("invitation_list", workspace_slug="acme"), {"email": owner.user.email, "role": "viewer"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": [f"{owner.user.email} is already a member of Acme."]}
    assert not Invitation.objects.exists()


def test_revoking_an_invitation(owner):
    invitation = make_invitation(owner.workspace)

    response = session_client(owner.user).delete(url("invitation_detail", workspace_slug="acme", pk=invitation.pk))

    assert response.status_code == 204
    assert Invitation.objects.get(pk=invitation.pk).status == "revoked"


# ---------------------------------------------------------------- tenant isolation


@pytest.fixture
def other_workspace():
    other = MembershipFactory(workspace=WorkspaceFactory(name="Other", slug="other"), role=Membership.Role.OWNER)
    return other.workspace


def _other_ids(other_workspace):
    member = MembershipFactory(workspace=other_workspace, role="editor")
    invitation = make_invitation(other_workspace)
    return member, invitation


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_member_gets_404_for_another_workspaces_member_and_invitation_ids(owner, other_workspace, method):
    member, invitation = _other_ids(other_workspace)
    client = session_client(owner.user)

    responses = [
        # Their ids under my workspace's URL, and their workspace's URL itself.
        getattr(client, method)(url("member_detail", workspace_slug="acme", pk=member.pk), {"role": "viewer"}),
        getattr(client, method)(url("invitation_detail", workspace_slug="acme", pk=invitation.pk)),
        getattr(client, method)(url("member_detail", workspace_slug="other", pk=member.pk), {"role": "viewer"}),
        getattr(client, method)(url("invitation_detail", workspace_slug="other", pk=invitation.pk)),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert Membership.objects.get(pk=member.pk).role == "editor"
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None


def test_a_member_gets_404_for_another_workspaces_lists(owner, other_workspace):
    client = session_client(owner.user)

    for name in ("workspace_detail", "member_list", "invitation_list"):
        response = client.get(url(name, workspace_slug="other"))
        assert (name, response.status_code, response.json()) == (name, 404, {"detail": "No such workspace."})
    response = client.post(url("invitation_list", workspace_slug="other"), {"email": "x@example.com", "role": "viewer"})
    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_a_key_for_one_workspace_gets_404_on_another(owner, other_workspace):
    api_key = ApiKeyFactory(workspace=owner.workspace, role="admin", created_by=owner.user)
    # Even when the key's creator is a member of the other workspace.
    MembershipFactory(user=owner.user, workspace=other_workspace, role="admin")
    member, invitation = _other_ids(other_workspace)
    client = key_client(api_key)

    statuses = [
        client.get(url("workspace_detail", workspace_slug="other")).status_code,
        client.get(url("member_list", workspace_slug="other")).status_code,
        client.get(url("member_detail", workspace_slug="other", pk=member.pk)).status_code,
        client.get(url("member_detail", workspace_slug="acme", pk=member.pk)).status_code,
        client.delete(url("invitation_detail", workspace_slug="other", pk=invitation.pk)).status_code,
        client.delete(url("invitation_detail", workspace_slug="acme", pk=invitation.pk)).status_code,
        client.post(
            url("invitation_list", workspace_slug="other"), {"email": "x@example.com", "role": "viewer"}
        ).status_code,
    ]

    assert statuses == [404] * 7
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None
    assert Invitation.objects.count() == 1


def test_a_missing_workspace_is_404():
    response = session_client(UserFactory()).get(url("member_list", workspace_slug="nowhere"))

    assert response.status_code == 404


# ---------------------------------------------------------------- viewers cannot write


@pytest.fixture
def viewer_targets(owner):
    return MembershipFactory(workspace=owner.workspace, role="editor"), make_invitation(owner.workspace)


def _writes(client, target, invitation):
    return [
        client.post(url("invitation_list", workspace_slug="acme"), {"email": "x@example.com", "role": "viewer"}),
        client.patch(url("member_detail", workspace_slug="acme", pk=target.pk), {"role": "viewer"}),
        client.delete(url("member_detail", workspace_slug="acme", pk=target.pk)),
        client.delete(url("invitation_detail", workspace_slug="acme", pk=invitation.pk)),
    ]


@pytest.mark.parametrize("role", ["viewer", "editor", "approver"])
def test_a_member_without_manage_members_gets_403_and_nothing_changes(owner, viewer_targets, role):
    member = MembershipFactory(workspace=owner.workspace, role=role)
    target, invitation = viewer_targets

    responses = _writes(session_client(member.user), target, invitation)

    assert [r.status_code for r in responses] == [403] * 4
    assert responses[0].json() == {"detail": f"Your role ({role}) does not allow this (manage members)."}
    assert Membership.objects.get(pk=target.pk).role == "editor"
    assert Invitation.objects.get().revoked_at is None


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_key_without_manage_members_gets_403_and_nothing_changes(owner, viewer_targets, role):
    api_key = ApiKeyFactory(workspace=owner.workspace, role=role, created_by=owner.user)
    target, invitation = viewer_targets

    responses = _writes(key_client(api_key), target, invitation)

    assert [r.status_code for r in responses] == [403] * 4
    assert responses[0].json() == {"detail": f"This API key's role ({role}) does not allow this (manage members)."}
    assert Membership.objects.get(pk=target.pk).role == "editor"
    assert Invitation.objects.get().revoked_at is None


# ---------------------------------------------------------------- API key writes act as the key's creator


def test_an_admin_key_writes_as_its_creator(owner):
    api_key = ApiKeyFactory(workspace=owner.workspace, role="admin", created_by=owner.user)

    response = key_client(api_key).post(
        url("invitation_list", workspace_slug="acme"), {"email": "zoe@example.com", "role": "viewer"}, format="json"
    )

    assert response.status_code == 201
    assert Invitation.objects.get().invited_by == owner.user


@pytest.mark.parametrize("creator_role", [None, "editor"], ids=["creator-left", "creator-demoted"])
def test_a_key_stops_writing_when_its_creator_may_no_longer(owner, creator_role):
    admin = MembershipFactory(workspace=owner.workspace, role="admin")
    api_key = ApiKeyFactory(workspace=owner.workspace, role="admin", created_by=admin.user)
    if creator_role is None:
        admin.delete()
    else:
        Membership.objects.filter(pk=admin.pk).update(role=creator_role)
    client = key_client(api_key)

    read = client.get(url("member_list", workspace_slug="acme"))
    write = client.post(url("invitation_list", workspace_slug="acme"), {"email": "z@example.com", "role": "viewer"})

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json() == {
        "detail": "The user who created this API key can no longer do this in the workspace; "
        "ask an admin to create a new key."
    }
    assert not Invitation.objects.exists()


def test_a_key_whose_creator_was_deleted_cannot_write(owner):
    api_key = ApiKeyFactory(workspace=owner.workspace, role="admin", created_by=None)

    response = key_client(api_key).post(
        url("invitation_list", workspace_slug="acme"), {"email": "z@example.com", "role": "viewer"}
    )

    assert response.status_code == 403
    assert not Invitation.objects.exists()


# ---------------------------------------------------------------- CSRF


def test_session_writes_need_the_csrf_token(owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner.user)
    invitations = url("invitation_list", workspace_slug="acme")

    refused = client.post(invitations, {"email": "zoe@example.com", "role": "viewer"}, format="json")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    assert not Invitation.objects.exists()

    client.cookies["csrftoken"] = CSRF_TOKEN
    accepted = client.post(
        invitations, {"email": "zoe@example.com", "role": "viewer"}, format="json", HTTP_X_CSRFTOKEN=CSRF_TOKEN
    )

    assert accepted.status_code == 201
    assert Invitation.objects.count() == 1


def test_session_reads_need_no_csrf_token(owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner.user)

    assert client.get(url("member_list", workspace_slug="acme")).status_code == 200


def test_api_key_writes_need_no_csrf_token(owner):
    api_key = ApiKeyFactory(workspace=owner.workspace, role="admin", created_by=owner.user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.raw_key}")

    response = client.post(
        url("invitation_list", workspace_slug="acme"), {"email": "zoe@example.com", "role": "viewer"}, format="json"
    )

    assert response.status_code == 201


# ---------------------------------------------------------------- rate limits


@pytest.fixture
def two_per_minute(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "2/minute"}}


def test_each_api_key_has_its_own_rate_limit(owner, two_per_minute):
    first = ApiKeyFactory(workspace=owner.workspace, role="viewer")
    second = ApiKeyFactory(workspace=owner.workspace, role="viewer")
    detail = url("workspace_detail", workspace_slug="acme")

    first_statuses = [key_client(first).get(detail).status_code for _ in range(3)]
    second_status = key_client(second).get(detail).status_code
    session_status = session_client(owner.user).get(detail).status_code

    assert first_statuses == [200, 200, 429]
    assert second_status == 200
    assert session_status == 200


def test_session_users_are_limited_per_user(owner, two_per_minute):
    client = session_client(owner.user)

    statuses = [client.get(url("workspace_list")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert session_client(UserFactory()).get(url("workspace_list")).status_code == 200
