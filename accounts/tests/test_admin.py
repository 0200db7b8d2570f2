from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import InvitationFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_staff_2fa(settings):
    # The two-factor gate in front of admin has its own tests; here we look at the pages.
    settings.STAFF_REQUIRE_2FA = False


@pytest.fixture
def data():
    owner = MembershipFactory(role="owner", user=UserFactory(email="olga@example.com", name="Olga"))
    MembershipFactory(workspace=owner.workspace, role="editor")
    pending = InvitationFactory(workspace=owner.workspace, email="pending@example.com")
    InvitationFactory(workspace=owner.workspace, email="revoked@example.com", revoked_at=timezone.now())
    return owner, pending


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("user", ""),
        ("user", "?q=olga"),
        ("user", "?is_staff__exact=0&is_active__exact=1"),
        ("workspace", ""),
        ("workspace", "?q=olga@example.com"),
        ("workspace", "?onboarded=no"),
        ("membership", ""),
        ("membership", "?role__exact=editor&q=olga"),
        ("invitation", ""),
        ("invitation", "?status=pending"),
        ("invitation", "?status=revoked&q=revoked"),
        ("invitation", "?status=expired"),
        ("invitation", "?status=accepted&role__exact=editor"),
    ],
)
def test_staff_changelists_and_search_load(admin_client, data, model, query):
    response = admin_client.get(reverse(f"admin:accounts_{model}_changelist") + query)

    assert response.status_code == 200


def test_the_workspace_list_shows_owner_and_member_count(admin_client, data):
    response = admin_client.get(reverse("admin:accounts_workspace_changelist"))

    html = response.content.decode()
    assert '<td class="field-owner_email">olga@example.com</td>' in html
    assert '<td class="field-member_count">2</td>' in html


def test_the_invitation_status_filter_filters(admin_client, data):
    response = admin_client.get(reverse("admin:accounts_invitation_changelist") + "?status=pending")

    html = response.content.decode()
    assert "pending@example.com" in html
    assert "revoked@example.com" not in html


def test_the_invitation_page_is_read_only_and_never_shows_the_token_hash(admin_client, data):
    _, pending = data

    response = admin_client.get(reverse("admin:accounts_invitation_change", args=[pending.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert pending.token_hash not in html
    assert "token_hash" not in html
    assert 'name="email"' not in html  # read-only: no input
    assert admin_client.get(reverse("admin:accounts_invitation_add")).status_code == 403


@pytest.mark.parametrize("model", ["user", "workspace", "membership"])
def test_staff_detail_pages_load(admin_client, data, model):
    owner, _ = data
    obj = {"user": owner.user, "workspace": owner.workspace, "membership": owner}[model]

    response = admin_client.get(reverse(f"admin:accounts_{model}_change", args=[obj.pk]))

    assert response.status_code == 200


def test_autocomplete_for_users_and_workspaces_loads(admin_client, data):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "membership", "field_name": "user", "term": "olga"},
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["text"] == "olga@example.com"


@pytest.mark.parametrize("model", ["user", "workspace", "membership"])
def test_staff_add_pages_load(admin_client, model):
    response = admin_client.get(reverse(f"admin:accounts_{model}_add"))

    assert response.status_code == 200
