"""API keys: the services, the Bearer authentication and the site pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import (
    LAST_USED_PRECISION,
    authenticate_api_key,
    create_api_key,
    hash_api_key,
    revoke_api_key,
)
from accounts.models import ApiKey, Membership
from accounts.tests.api_factories import ApiKeyFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

WORKSPACES_URL = "/api/v1/workspaces/"


def _member(role: str, workspace=None) -> Membership:
    return MembershipFactory(workspace=workspace or WorkspaceFactory(), role=role)


def _key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


# ---------------------------------------------------------------- services


def test_create_api_key_returns_the_raw_key_once_and_stores_only_its_hash():
    owner = _member(Membership.Role.OWNER)

    api_key, raw = create_api_key(workspace=owner.workspace, created_by=owner.user, name="  Zapier  ", role="viewer")

    assert re.fullmatch(r"lg_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", raw)
    assert raw.startswith(f"lg_{api_key.prefix}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert (stored.name, stored.role, stored.created_by, stored.workspace) == (
        "Zapier",
        "viewer",
        owner.user,
        owner.workspace,
    )
    assert stored.key_hash == hash_api_key(raw)
    secret = raw.removeprefix(f"lg_{api_key.prefix}_")
    every_value = str(list(ApiKey.objects.values()))
    assert raw not in every_value
    assert secret not in every_value
    assert stored.last_used_at is None and stored.revoked_at is None


def test_two_keys_differ():
    owner = _member(Membership.Role.OWNER)

    first = create_api_key(workspace=owner.workspace, created_by=owner.user, name="a", role="editor")
    second = create_api_key(workspace=owner.workspace, created_by=owner.user, name="b", role="editor")

    assert first[1] != second[1]
    assert first[0].prefix != second[0].prefix


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_only_owners_and_admins_create_keys(role):
    member = _member(role)

    with pytest.raises(PermissionDenied, match=rf"Your role \({role}\) does not allow this \(manage api keys\)\."):
        create_api_key(workspace=member.workspace, created_by=member.user, name="k", role="viewer")

    assert not ApiKey.objects.exists()


def test_a_non_member_cannot_create_a_key():
    outsider = _member(Membership.Role.OWNER)

    with pytest.raises(PermissionDenied):
        create_api_key(workspace=WorkspaceFactory(), created_by=outsider.user, name="k", role="viewer")

    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("name", "role", "errors"),
    [
        ("   ", "editor", {"name": ["Give the key a name, so you can tell it apart later."]}),
        ("x" * 81, "editor", {"name": ["Keep the name to 80 characters."]}),
        ("ok", "owner", {"role": ["Choose one of: admin, editor, viewer."]}),
    ],
)
def test_create_api_key_rejects_bad_input(name, role, errors):
    admin = _member(Membership.Role.ADMIN)

    with pytest.raises(ValidationError) as info:
        create_api_key(workspace=admin.workspace, created_by=admin.user, name=name, role=role)

    assert info.value.message_dict == errors
    assert not ApiKey.objects.exists()


def test_revoke_api_key_sets_revoked_at_once():
    admin = _member(Membership.Role.ADMIN)
    api_key = ApiKeyFactory(workspace=admin.workspace)

    revoke_api_key(api_key=api_key, actor=admin.user)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    revoke_api_key(api_key=api_key, actor=admin.user)

    assert first is not None
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first
    assert ApiKey.objects.get(pk=api_key.pk).is_active is False


def test_an_editor_cannot_revoke_a_key():
    editor = _member(Membership.Role.EDITOR)
    api_key = ApiKeyFactory(workspace=editor.workspace)

    with pytest.raises(PermissionDenied):
        revoke_api_key(api_key=api_key, actor=editor.user)

    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_authenticate_api_key_finds_the_key():
    api_key = ApiKeyFactory()

    assert authenticate_api_key(api_key.raw_key) == api_key


def _tampered(raw: str) -> str:
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


@pytest.mark.parametrize(
    "make_raw",
    [
        pytest.param(lambda key: _tampered(key.raw_key), id="tampered-secret"),
        pytest.param(lambda key: key.raw_key.replace(key.prefix, "ffffffff"), id="unknown-prefix"),
        pytest.param(lambda key: "lg_nothex!_abc", id="malformed"),
        pytest.param(lambda key: "", id="empty"),
        pytest.param(lambda key: key.key_hash, id="the-hash-itself"),
    ],
)
def test_authenticate_api_key_rejects_wrong_keys(make_raw):
    api_key = ApiKeyFactory()

    assert authenticate_api_key(make_raw(api_key)) is None
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


def test_authenticate_api_key_rejects_a_revoked_key():
    api_key = ApiKeyFactory(revoked_at=timezone.now())

    assert authenticate_api_key(api_key.raw_key) is None


def test_last_used_at_is_recorded_at_most_once_a_minute(django_assert_num_queries):
    api_key = ApiKeyFactory()

    authenticate_api_key(api_key.raw_key)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    # Within the minute: one read, no write.
    with django_assert_num_queries(1):
        authenticate_api_key(api_key.raw_key)

    assert first is not None
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first


def test_last_used_at_moves_on_after_a_minute():
    long_ago = timezone.now() - LAST_USED_PRECISION - timedelta(seconds=1)
    api_key = ApiKeyFactory(last_used_at=long_ago)

    authenticate_api_key(api_key.raw_key)

    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > long_ago


# ---------------------------------------------------------------- Bearer authentication


def test_a_valid_key_authenticates_and_records_its_use():
    api_key = ApiKeyFactory(role="viewer")

    response = _key_client(api_key.raw_key).get(WORKSPACES_URL)

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"name": api_key.workspace.name, "slug": api_key.workspace.slug, "timezone": "UTC", "role": "viewer"}
    ]
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


@pytest.mark.parametrize(
    ("make_header", "message"),
    [
        pytest.param(lambda key: f"Bearer {_tampered(key.raw_key)}", "Invalid API key.", id="tampered"),
        pytest.param(lambda key: "Bearer lg_00000000_nope", "Invalid API key.", id="unknown"),
        pytest.param(lambda key: "Bearer", "Invalid Authorization header", id="no-key"),
        pytest.param(lambda key: f"Bearer {key.raw_key} extra", "Invalid Authorization header", id="spaces"),
    ],
)
def test_a_bad_key_is_401_with_a_message(make_header, message):
    api_key = ApiKeyFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=make_header(api_key))

    response = client.get(WORKSPACES_URL)

    assert response.status_code == 401
    assert response.json()["detail"].startswith(message)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


def test_a_revoked_key_is_401_and_says_so():
    api_key = ApiKeyFactory(revoked_at=timezone.now())

    response = _key_client(api_key.raw_key).get(WORKSPACES_URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "This API key has been revoked."}
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


def test_a_bad_key_does_not_fall_back_to_the_session():
    member = _member(Membership.Role.OWNER)
    client = APIClient()
    client.force_login(member.user)
    client.credentials(HTTP_AUTHORIZATION="Bearer lg_00000000_wrongwrongwrongwrongwrong")

    assert client.get(WORKSPACES_URL).status_code == 401


def test_no_credentials_is_401():
    response = APIClient().get(WORKSPACES_URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


# ---------------------------------------------------------------- site pages


def _page_client(membership: Membership):
    from django.test import Client

    client = Client()
    client.force_login(membership.user)
    return client


def test_the_page_lists_the_workspaces_keys_only():
    admin = _member(Membership.Role.ADMIN)
    mine = ApiKeyFactory(workspace=admin.workspace, name="Reporting script")
    ApiKeyFactory(name="Someone else's key")

    response = _page_client(admin).get(reverse("accounts:api_keys", kwargs={"workspace_slug": admin.workspace.slug}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Reporting script" in html
    assert f"lg_{mine.prefix}_…" in html
    assert "Someone else&#x27;s key" not in html
    assert mine.raw_key not in html


@pytest.mark.parametrize("role", ["editor", "approver", "viewer"])
def test_members_without_manage_api_keys_get_403(role):
    member = _member(role)
    url = reverse("accounts:api_keys", kwargs={"workspace_slug": member.workspace.slug})
    client = _page_client(member)

    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "k", "role": "admin"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_creating_a_key_shows_it_once():
    owner = _member(Membership.Role.OWNER)
    url = reverse("accounts:api_keys", kwargs={"workspace_slug": owner.workspace.slug})
    client = _page_client(owner)

    response = client.post(url, {"name": "Zapier", "role": "editor"})

    api_key = ApiKey.objects.get()
    html = response.content.decode()
    raw = re.search(r'value="(lg_[^"]+)"', html).group(1)
    assert response.status_code == 200
    assert "It will not be shown again" in html
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert (api_key.name, api_key.role, api_key.created_by) == ("Zapier", "editor", owner.user)
    assert api_key.key_hash == hash_api_key(raw)
    assert raw not in client.get(url).content.decode()


def test_creating_a_key_without_a_name_shows_the_error():
    owner = _member(Membership.Role.OWNER)
    url = reverse("accounts:api_keys", kwargs={"workspace_slug": owner.workspace.slug})

    response = _page_client(owner).post(url, {"name": "", "role": "editor"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_a_key_from_the_page():
    admin = _member(Membership.Role.ADMIN)
    api_key = ApiKeyFactory(workspace=admin.workspace, name="Zapier")
    url = reverse("accounts:api_key_revoke", kwargs={"workspace_slug": admin.workspace.slug, "pk": api_key.pk})

    response = _page_client(admin).post(url)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:api_keys", kwargs={"workspace_slug": admin.workspace.slug})
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    assert _key_client(api_key.raw_key).get(WORKSPACES_URL).status_code == 401


def test_revoking_another_workspaces_key_is_404():
    admin = _member(Membership.Role.ADMIN)
    other_key = ApiKeyFactory()
    url = reverse("accounts:api_key_revoke", kwargs={"workspace_slug": admin.workspace.slug, "pk": other_key.pk})

    response = _page_client(admin).post(url)

    assert response.status_code == 404
    assert ApiKey.objects.get(pk=other_key.pk).revoked_at is None


def test_an_editor_cannot_revoke_from_the_page():
    editor = _member(Membership.Role.EDITOR)
    api_key = ApiKeyFactory(workspace=editor.workspace)
    url = reverse("accounts:api_key_revoke", kwargs={"workspace_slug": editor.workspace.slug, "pk": api_key.pk})

    response = _page_client(editor).post(url)

    assert response.status_code == 403
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_revoke_takes_only_post():
    admin = _member(Membership.Role.ADMIN)
    api_key = ApiKeyFactory(workspace=admin.workspace)
    url = reverse("accounts:api_key_revoke", kwargs={"workspace_slug": admin.workspace.slug, "pk": api_key.pk})

    response = _page_client(admin).get(url)

    assert response.status_code == 405
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None
