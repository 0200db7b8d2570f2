"""The connections page and the OAuth callback, through Django's test client and the platform emulator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from publishing.connections import PENDING_SESSION_KEY
from publishing.models import SocialAccount
from publishing.providers import REGISTRY
from publishing.tests.test_connections import APP_PASSWORD, BASE, consent
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(settings):
    settings.OAUTH_REDIRECT_BASE_URL = BASE
    return MembershipFactory(role=Membership.Role.OWNER)


@pytest.fixture
def client(client, owner):
    client.force_login(owner.user)
    return client


def _page_url(membership) -> str:
    return reverse("publishing:connections", kwargs={"workspace_slug": membership.workspace.slug})


def _connect_url(membership, platform: str) -> str:
    return reverse("publishing:connect", kwargs={"workspace_slug": membership.workspace.slug, "platform": platform})


def _callback(platform: str) -> str:
    return reverse("publishing:oauth_callback", kwargs={"platform": platform})


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _account(membership, **values) -> SocialAccount:
    defaults = {"platform": "x", "account_id": "1", "handle": "alice", "access_token": "secret-access-token"}
    return SocialAccount.objects.create(workspace=membership.workspace, **{**defaults, **values})


# --------------------------------------------------------------------------- the page


def test_the_page_shows_every_platform_the_plan_and_the_emulator(client, owner, emulator):
    response = client.get(_page_url(owner))

    html = response.content.decode()
    assert response.status_code == 200
    for slug in REGISTRY:
        assert f'data-testid="platform-{slug}"' in html
    for icon in ("bi-twitter-x", "bi-mastodon", "bi-bluesky", "bi-linkedin", "bi-threads"):
        assert icon in html
    assert "0 of 2 connected accounts on the Free plan." in html
    assert "Platforms are emulated on this server: no real accounts are touched." in html
    assert [card.slug for card in response.context["cards"] if card.unlock_plan] == ["linkedin"]
    assert (
        '<span class="badge text-bg-warning" title="Not included in the Free plan" data-testid="gate">Pro</span>'
        in (html)
    )
    assert 'name="instance"' in html
    assert 'name="app_password"' in html


def test_the_page_has_no_emulator_banner_on_real_platforms(client, owner, settings):
    settings.PLATFORM_EMULATOR_ENABLED = False

    html = client.get(_page_url(owner)).content.decode()

    assert "Platforms are emulated" not in html
    assert "Not set up on this server yet" in html  # X without app credentials


def test_a_connected_account_shows_its_state_but_never_its_token(client, owner):
    _account(
        owner,
        display_name="Alice A.",
        avatar_url="https://pbs.example/alice.png",
        status=SocialAccount.Status.RECONNECT_NEEDED,
        last_error="X refused the token: reconnect the account.",
    )

    response = client.get(_page_url(owner))

    html = response.content.decode()
    assert '<strong data-testid="handle">alice</strong>' in html
    assert "Alice A." in html
    assert 'src="https://pbs.example/alice.png"' in html
    assert '<span class="badge text-bg-warning" data-testid="status">Reconnect needed</span>' in html
    assert "X refused the token: reconnect the account." in html
    assert "token does not expire" in html
    assert "1 of 2 connected accounts on the Free plan." in html
    assert "secret-access-token" not in html


def test_a_viewer_sees_the_page_without_buttons(client, owner):
    viewer = MembershipFactory(workspace=owner.workspace, role=Membership.Role.VIEWER)
    _account(owner)
    client.force_login(viewer.user)

    html = client.get(_page_url(owner)).content.decode()

    assert 'data-testid="view-only"' in html
    assert "Connect X" not in html
    assert "Disconnect" not in html


def test_a_full_plan_disables_connecting(client, owner):
    _account(owner, account_id="1")
    _account(owner, account_id="2", handle="bob")

    response = client.get(_page_url(owner))
    posted = client.post(_connect_url(owner, "x"), follow=True)

    assert 'data-testid="plan-full"' in response.content.decode()
    assert '<button class="btn btn-success" type="button" disabled>Connect Threads</button>' in (
        response.content.decode()
    )
    assert _messages(posted) == ["The Free plan allows 2 connected platforms; upgrade to add more."]
    assert PENDING_SESSION_KEY not in client.session or client.session[PENDING_SESSION_KEY] == {}


def test_the_workspace_nav_links_to_connections(client, owner):
    html = client.get(_page_url(owner)).content.decode()

    assert f'<a class="nav-link active" href="{_page_url(owner)}">Connections</a>' in html


# --------------------------------------------------------------------------- OAuth through the views


def test_connecting_x_round_trip(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))

    assert started.status_code == 302
    assert started["Location"].startswith(f"{emulator.base_url}/x/")
    params = consent(started["Location"], username="alice")
    done = client.get(_callback("x"), params)

    assert done.status_code == 302
    assert done["Location"] == _page_url(owner)
    account = SocialAccount.objects.get()
    assert (account.workspace, account.handle, account.status) == (owner.workspace, "alice", "active")
    page = client.get(done["Location"])
    assert _messages(page) == ["Connected alice on X."]
    assert '<span class="badge text-bg-success" data-testid="status">Active</span>' in page.content.decode()


def test_a_denied_consent_ends_on_a_clear_page_with_nothing_stored(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))
    params = consent(started["Location"], username="alice", grant=False)

    response = client.get(_callback("x"), params)

    html = response.content.decode()
    assert response.status_code == 400
    assert "You cancelled the connection on X, so nothing was connected." in html
    assert f'href="{_page_url(owner)}" data-testid="back-to-connections"' in html
    assert SocialAccount.objects.count() == 0
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_reused_state_ends_on_a_clear_page(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))
    params = consent(started["Location"], username="alice")
    client.get(_callback("x"), params)
    SocialAccount.objects.all().delete()

    response = client.get(_callback("x"), params)

    assert response.status_code == 400
    assert "This X connection link is not valid any more" in response.content.decode()
    assert SocialAccount.objects.count() == 0


def test_a_callback_without_a_state_links_back_to_the_last_workspace(client, owner):
    client.get(_page_url(owner))  # remembers the workspace

    response = client.get(_callback("x"), {"code": "abc"})

    assert response.status_code == 400
    assert f'href="{_page_url(owner)}"' in response.content.decode()


def test_a_token_exchange_error_ends_on_a_clear_page(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))
    params = consent(started["Location"], username="alice")
    emulator.inject_fault("x", "server_error", operation="token")

    response = client.get(_callback("x"), params)

    html = response.content.decode()
    assert response.status_code == 400
    assert "X did not complete the connection" in html
    assert params["code"] not in html
    assert SocialAccount.objects.count() == 0


def test_the_callback_of_an_unknown_platform_is_404(client):
    assert client.get(_callback("myspace"), {"state": "s"}).status_code == 404


def test_the_callback_needs_a_logged_in_user(owner, emulator, client):
    client.logout()

    response = client.get(_callback("x"), {"state": "s", "code": "c"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_connecting_mastodon_asks_for_the_instance(client, owner, emulator):
    missing = client.post(_connect_url(owner, "mastodon"), {"instance": ""})
    odd = client.post(_connect_url(owner, "mastodon"), {"instance": "localhost"})
    started = client.post(_connect_url(owner, "mastodon"), {"instance": "https://mastodon.example/"})

    assert missing.status_code == 400
    assert "This field is required." in missing.content.decode()
    assert odd.status_code == 400
    assert "“localhost” is not a server name." in odd.content.decode()
    assert started.status_code == 302
    assert started["Location"].startswith(f"{emulator.base_url}/mastodon/mastodon.example/oauth/authorize?")
    done = client.get(_callback("mastodon"), consent(started["Location"], username="alice"))
    assert done["Location"] == _page_url(owner)
    assert SocialAccount.objects.get().handle == "@alice@mastodon.example"


def test_connecting_bluesky_with_the_form(client, owner, emulator):
    response = client.post(
        _connect_url(owner, "bluesky"), {"identifier": "alice.bsky.social", "app_password": APP_PASSWORD}
    )

    assert response.status_code == 302
    account = SocialAccount.objects.get()
    assert (account.platform, account.handle, account.status) == ("bluesky", "alice.bsky.social", "active")


def test_a_refused_bluesky_login_keeps_the_handle_but_not_the_password(client, owner, emulator):
    response = client.post(
        _connect_url(owner, "bluesky"), {"identifier": "alice.bsky.social", "app_password": "my-main-password"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Bluesky did not accept this handle and app password" in html
    assert 'value="alice.bsky.social"' in html
    assert "my-main-password" not in html
    assert SocialAccount.objects.count() == 0


def test_an_editor_cannot_connect(client, owner, emulator):
    editor = MembershipFactory(workspace=owner.workspace, role=Membership.Role.EDITOR)
    client.force_login(editor.user)

    response = client.post(_connect_url(owner, "x"))

    assert response.status_code == 403
    assert PENDING_SESSION_KEY not in client.session


def test_a_gated_platform_is_refused_with_a_message(client, owner, emulator):
    response = client.post(_connect_url(owner, "linkedin"), follow=True)

    assert _messages(response) == ["LinkedIn is not included in the Free plan. Upgrade to Pro to connect it."]
    assert PENDING_SESSION_KEY not in client.session


def test_an_unknown_platform_is_404(client, owner):
    assert client.post(_connect_url(owner, "myspace")).status_code == 404


# --------------------------------------------------------------------------- reconnect and disconnect


def test_reconnecting_x_goes_back_to_the_platform_and_keeps_the_row(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))
    client.get(_callback("x"), consent(started["Location"], username="alice"))
    account = SocialAccount.objects.get()
    SocialAccount.objects.filter(pk=account.pk).update(status="reconnect_needed", last_error="Expired.")

    again = client.post(
        reverse("publishing:reconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": account.pk})
    )
    done = client.get(_callback("x"), consent(again["Location"], username="alice"))

    assert done["Location"] == _page_url(owner)
    saved = SocialAccount.objects.get()
    assert (saved.pk, saved.status, saved.last_error) == (account.pk, "active", "")


def test_reconnecting_bluesky_logs_in_again_with_the_saved_app_password(client, owner, emulator):
    client.post(
        _connect_url(owner, "bluesky"), {"identifier": "alice.bsky.social", "app_password": APP_PASSWORD}, follow=True
    )
    account = SocialAccount.objects.get()
    SocialAccount.objects.filter(pk=account.pk).update(status="reconnect_needed")

    response = client.post(
        reverse("publishing:reconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": account.pk}),
        follow=True,
    )

    assert _messages(response) == ["Reconnected alice.bsky.social on Bluesky."]
    assert SocialAccount.objects.get().status == "active"


def test_reconnecting_bluesky_without_a_saved_password_asks_for_one(client, owner, emulator):
    account = _account(owner, platform="bluesky", account_id="did:plc:alice", handle="alice.bsky.social")

    response = client.post(
        reverse("publishing:reconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": account.pk})
    )
    page = client.get(response["Location"])

    assert response["Location"] == f"{_page_url(owner)}?reconnect={account.pk}#connect-bluesky"
    assert _messages(page) == [
        "There is no saved app password for alice.bsky.social. Enter a new app password to reconnect alice.bsky.social."
    ]
    assert page.context["bluesky_form"].initial == {"identifier": "alice.bsky.social", "pds": ""}


def test_disconnecting_keeps_the_account_as_disconnected(client, owner, emulator):
    started = client.post(_connect_url(owner, "x"))
    client.get(_callback("x"), consent(started["Location"], username="alice"), follow=True)
    account = SocialAccount.objects.get()

    response = client.post(
        reverse("publishing:disconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": account.pk}),
        follow=True,
    )

    assert _messages(response) == ["Disconnected alice from X. Its posts stay in your history; reconnect it any time."]
    saved = SocialAccount.objects.get()
    assert (saved.pk, saved.status, saved.access_token) == (account.pk, "revoked", "")
    html = response.content.decode()
    assert '<span class="badge text-bg-secondary" data-testid="status">Disconnected</span>' in html
    assert "0 of 2 connected accounts on the Free plan." in html


def test_disconnect_and_reconnect_take_only_posts(client, owner):
    account = _account(owner)
    url = reverse("publishing:disconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": account.pk})

    assert client.get(url).status_code == 405
    assert SocialAccount.objects.get().status == "active"


def test_another_workspaces_account_is_404(client, owner):
    theirs = _account(MembershipFactory(user=UserFactory()))
    url = reverse("publishing:disconnect", kwargs={"workspace_slug": owner.workspace.slug, "pk": theirs.pk})

    assert client.post(url).status_code == 404
    assert SocialAccount.objects.get().status == "active"
