"""Staff pages of connected accounts and Mastodon apps: useful lists, and no token or secret anywhere."""

from __future__ import annotations

import pytest
from django.db.models import TextField
from django.db.models.functions import Cast
from django.urls import reverse

from publishing.models import MastodonApp, SocialAccount
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_staff_2fa(settings):
    settings.STAFF_REQUIRE_2FA = False


@pytest.fixture
def account():
    return SocialAccount.objects.create(
        workspace=WorkspaceFactory(name="Acme"),
        platform="x",
        account_id="42",
        handle="acme_news",
        access_token="x-access-plaintext",
        refresh_token="x-refresh-plaintext",
        app_password="never-shown",
    )


@pytest.fixture
def mastodon_app():
    return MastodonApp.objects.create(
        instance="mastodon.example", client_id="cid-1", client_secret="app-secret-plaintext", redirect_uri="http://a/cb"
    )


def _ciphertexts(model, pk, *fields):
    row = model.objects.annotate(**{f"raw_{f}": Cast(f, output_field=TextField()) for f in fields}).get(pk=pk)
    return [getattr(row, f"raw_{f}") for f in fields]


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("socialaccount", ""),
        ("socialaccount", "?q=acme"),
        ("socialaccount", "?platform__exact=x&status__exact=active"),
        ("mastodonapp", ""),
        ("mastodonapp", "?q=mastodon"),
    ],
)
def test_the_lists_load_and_find(admin_client, account, mastodon_app, model, query):
    response = admin_client.get(reverse(f"admin:publishing_{model}_changelist") + query)

    assert response.status_code == 200
    html = response.content.decode()
    assert ("acme_news" if model == "socialaccount" else "mastodon.example") in html


def test_the_account_list_shows_workspace_platform_status_and_expiry(admin_client, account):
    response = admin_client.get(reverse("admin:publishing_socialaccount_changelist"))

    html = response.content.decode()
    assert '<td class="field-workspace nowrap">Acme</td>' in html
    assert '<td class="field-platform">X</td>' in html
    assert '<td class="field-status">Active</td>' in html
    assert '<td class="field-token_expires_at nowrap">-</td>' in html


def test_the_account_page_never_shows_nor_takes_tokens(admin_client, account):
    url = reverse("admin:publishing_socialaccount_change", args=[account.pk])
    stored = _ciphertexts(SocialAccount, account.pk, "access_token", "refresh_token", "app_password")

    page = admin_client.get(url)
    posted = admin_client.post(url, {"access_token": "injected", "refresh_token": "injected", "_save": "Save"})

    html = page.content.decode()
    assert page.status_code == 200
    for secret in ("x-access-plaintext", "x-refresh-plaintext", "never-shown", *stored):
        assert secret not in html
    for name in ("access_token", "refresh_token", "app_password"):
        assert f'name="{name}"' not in html
    assert posted.status_code == 302
    reloaded = SocialAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.refresh_token) == ("x-access-plaintext", "x-refresh-plaintext")


def test_the_mastodon_app_page_never_shows_the_secret(admin_client, mastodon_app):
    (stored,) = _ciphertexts(MastodonApp, mastodon_app.pk, "client_secret")

    response = admin_client.get(reverse("admin:publishing_mastodonapp_change", args=[mastodon_app.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "cid-1" in html
    assert "app-secret-plaintext" not in html
    assert stored not in html
    assert 'name="client_secret"' not in html


@pytest.mark.parametrize("model", ["socialaccount", "mastodonapp"])
def test_staff_cannot_add_rows_by_hand(admin_client, model):
    response = admin_client.get(reverse(f"admin:publishing_{model}_add"))

    assert response.status_code == 403
    assert SocialAccount.objects.count() == 0
    assert MastodonApp.objects.count() == 0
