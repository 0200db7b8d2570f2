"""The connection services against the platform emulator: OAuth with state and PKCE, Mastodon, Bluesky, tokens."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from billing.models import Subscription
from publishing import connections
from publishing.connections import (
    PENDING_SESSION_KEY,
    ConnectionFailed,
    TokenUnavailable,
    allowed_redirect_uris,
    complete_connection,
    connect_bluesky,
    credentials_for,
    disconnect_account,
    mark_reconnect_needed,
    normalise_host,
    renew_bluesky_session,
    save_refreshed_tokens,
    start_connection,
)
from publishing.models import MastodonApp, SocialAccount
from publishing.providers.base import ErrorKind, ProviderError, TokenSet, code_challenge_s256
from publishing.providers.mastodon.provider import MastodonProvider
from publishing.providers.x.provider import XProvider
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "http://testserver"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


class _ConsentForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action") or ""
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value") or ""


def consent(authorization_url: str, *, username: str, grant: bool = True) -> dict[str, str]:
    """Answer the emulator's consent page as a person would; return the query our callback receives."""
    page = requests.get(authorization_url, timeout=5)
    assert page.status_code == 200, page.text[:300]
    form = _ConsentForm()
    form.feed(page.text)
    parts = urlsplit(authorization_url)
    action = form.action if form.action.startswith("http") else f"{parts.scheme}://{parts.netloc}{form.action}"
    answer = requests.post(
        action,
        data={**form.fields, "username": username, "decision": "grant" if grant else "deny"},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["Location"]
    assert location.startswith(f"{BASE}/connections/callback/"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def owner(settings):
    settings.OAUTH_REDIRECT_BASE_URL = BASE
    return MembershipFactory(role=Membership.Role.OWNER)


@pytest.fixture
def session():
    return {}


def _connect(session, membership, platform="x", *, username="alice", server="", reconnect=None):
    url = start_connection(
        session=session,
        workspace=membership.workspace,
        user=membership.user,
        platform=platform,
        server=server,
        reconnect=reconnect,
    )
    return complete_connection(
        session=session, user=membership.user, platform=platform, params=consent(url, username=username)
    )


# --------------------------------------------------------------------------- OAuth start


def test_start_returns_the_consent_url_with_state_and_pkce_and_remembers_the_attempt(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{emulator.base_url}/x/")
    assert query["redirect_uri"] == f"{BASE}/connections/callback/x/"
    assert query["code_challenge_method"] == "S256"
    pending = session[PENDING_SESSION_KEY]
    assert list(pending) == [query["state"]]
    entry = pending[query["state"]]
    assert (entry["platform"], entry["workspace_id"], entry["user_id"], entry["reconnect_id"]) == (
        "x",
        owner.workspace.pk,
        owner.user.pk,
        None,
    )
    assert code_challenge_s256(entry["code_verifier"]) == query["code_challenge"]
    assert entry["redirect_uri"] in allowed_redirect_uris()


def test_the_redirect_uris_are_our_callbacks_on_the_configured_base(owner):
    assert f"{BASE}/connections/callback/x/" in allowed_redirect_uris()
    assert f"{BASE}/connections/callback/mastodon/" in allowed_redirect_uris()
    assert len(allowed_redirect_uris()) == 7


@pytest.mark.parametrize("base", ["ftp://example.com", "https://example.com/app", "https://u:p@example.com", ""])
def test_a_bad_redirect_base_refuses_to_start(emulator, owner, session, settings, base):
    settings.OAUTH_REDIRECT_BASE_URL = base

    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    assert caught.value.message == "Connecting accounts is not set up correctly on this server. Please tell support."
    assert session == {}


def test_old_attempts_expire_and_only_the_newest_few_are_kept(emulator, owner, session):
    session[PENDING_SESSION_KEY] = {"stale": {"created_at": 0}}

    for _ in range(connections.MAX_PENDING + 2):
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    assert len(session[PENDING_SESSION_KEY]) == connections.MAX_PENDING
    assert "stale" not in session[PENDING_SESSION_KEY]


@pytest.mark.parametrize("role", [Membership.Role.EDITOR, Membership.Role.VIEWER, Membership.Role.APPROVER])
def test_only_admins_and_owners_may_connect(emulator, owner, session, role):
    member = MembershipFactory(workspace=owner.workspace, role=role)

    with pytest.raises(PermissionDenied):
        start_connection(session=session, workspace=owner.workspace, user=member.user, platform="x")

    assert session == {}


def test_a_platform_outside_the_plan_cannot_be_connected(emulator, owner, session):
    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="linkedin")

    assert caught.value.message == "LinkedIn is not included in the Free plan. Upgrade to Pro to connect it."
    assert caught.value.workspace == owner.workspace
    assert session == {}


def test_a_full_plan_cannot_connect_another_account(emulator, owner, session):
    for n in range(2):
        SocialAccount.objects.create(workspace=owner.workspace, platform="x", account_id=str(n), handle=f"a{n}")

    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    assert caught.value.message == "The Free plan allows 2 connected platforms; upgrade to add more."
    assert session == {}


def test_disconnected_accounts_do_not_count_against_the_plan(emulator, owner, session):
    for n in range(2):
        SocialAccount.objects.create(
            workspace=owner.workspace, platform="x", account_id=str(n), handle=f"a{n}", status="revoked"
        )

    [account] = _connect(session, owner)

    assert account.status == SocialAccount.Status.ACTIVE


def test_a_platform_without_app_credentials_is_not_offered(owner, session, settings):
    settings.PLATFORM_EMULATOR_ENABLED = False
    settings.PLATFORM_CREDENTIALS = {"x": ("", "")}

    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    assert caught.value.message == "X is not set up on this server yet."
    assert session == {}


def test_bluesky_does_not_use_oauth(emulator, owner, session):
    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="bluesky")

    assert caught.value.message == "Bluesky connects with a handle and an app password instead."


# --------------------------------------------------------------------------- OAuth complete


def test_connecting_x_stores_the_account_with_encrypted_tokens(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")

    saved = SocialAccount.objects.get()
    assert saved.pk == account.pk
    assert (saved.workspace, saved.platform, saved.handle, saved.status, saved.last_error) == (
        owner.workspace,
        "x",
        "alice",
        SocialAccount.Status.ACTIVE,
        "",
    )
    assert saved.connected_by == owner.user
    assert saved.access_token.startswith("x-at-")
    assert saved.refresh_token.startswith("x-rt-")
    assert "tweet.write" in saved.scopes
    assert saved.token_expires_at is not None and saved.token_expires_at > datetime.now(tz=UTC)
    assert session[PENDING_SESSION_KEY] == {}
    token_requests = emulator.requests(platform="x", operation="token")
    assert [r["body"].get("code_verifier") is not None for r in token_requests] == [True]


def test_a_state_works_only_once(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice")
    complete_connection(session=session, user=owner.user, platform="x", params=params)
    SocialAccount.objects.all().delete()

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params=params)

    assert caught.value.message.startswith("This X connection link is not valid any more")
    assert SocialAccount.objects.count() == 0


@pytest.mark.parametrize("state", ["", "forged-state"])
def test_an_unknown_state_is_refused(emulator, owner, session, state):
    start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params={"state": state, "code": "abc"})

    assert caught.value.message == (
        "This X connection link is not valid any more: it was already used, or it was not started from this "
        "browser. Start again from the connections page."
    )
    assert SocialAccount.objects.count() == 0
    assert emulator.requests(platform="x", operation="token") == []


def test_an_expired_state_is_refused(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice")
    session[PENDING_SESSION_KEY][params["state"]]["created_at"] -= 11 * 60

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params=params)

    assert caught.value.message == "The connection to X took longer than 10 minutes. Please start again."
    assert SocialAccount.objects.count() == 0
    assert session[PENDING_SESSION_KEY] == {}


def test_a_state_of_another_user_is_refused(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice")
    admin = MembershipFactory(workspace=owner.workspace, role=Membership.Role.ADMIN)

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=admin.user, platform="x", params=params)

    assert caught.value.message == (
        "This X connection was started by someone else or for another platform. Please start again."
    )
    assert SocialAccount.objects.count() == 0


def test_a_state_of_another_platform_is_refused(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice")

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="mastodon", params=params)

    assert "started by someone else or for another platform" in caught.value.message
    assert SocialAccount.objects.count() == 0


def test_a_denied_consent_says_so_and_stores_nothing(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice", grant=False)

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params=params)

    assert caught.value.message == "You cancelled the connection on X, so nothing was connected."
    assert caught.value.workspace == owner.workspace
    assert SocialAccount.objects.count() == 0


def test_another_platform_error_is_named(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    state = parse_qs(urlsplit(url).query)["state"][0]

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(
            session=session,
            user=owner.user,
            platform="x",
            params={"state": state, "error": "server_error", "error_description": "Try later"},
        )

    assert caught.value.message == "X did not allow the connection: server_error (Try later). Nothing was connected."
    assert SocialAccount.objects.count() == 0


def test_a_failed_token_exchange_is_explained_without_secrets(emulator, owner, session, caplog):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = consent(url, username="alice")
    verifier = session[PENDING_SESSION_KEY][params["state"]]["code_verifier"]
    emulator.inject_fault("x", "server_error", operation="token")

    with pytest.raises(ConnectionFailed) as caught, caplog.at_level(logging.INFO):
        complete_connection(session=session, user=owner.user, platform="x", params=params)

    message = caught.value.message
    assert message.startswith("X did not complete the connection: X answered 5")
    assert message.endswith("Nothing was connected; please try again.")
    for secret in (params["code"], verifier):
        assert secret not in message
        assert secret not in caplog.text
    assert SocialAccount.objects.count() == 0


def test_a_wrong_code_is_refused_by_the_platform(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    params = {**consent(url, username="alice"), "code": "not-the-code"}

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params=params)

    assert caught.value.message.startswith("X did not complete the connection: X answered 400")
    assert SocialAccount.objects.count() == 0


def test_the_plan_is_checked_again_when_the_platform_answers(emulator, owner, session):
    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x")
    for n in range(2):  # another tab filled the plan meanwhile
        SocialAccount.objects.create(workspace=owner.workspace, platform="mastodon", account_id=str(n), handle=f"m{n}")

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=owner.user, platform="x", params=consent(url, username="alice"))

    assert caught.value.message == "The Free plan allows 2 connected platforms; upgrade to add more."
    assert SocialAccount.objects.filter(platform="x").count() == 0


def test_a_member_who_lost_the_right_meanwhile_cannot_complete(emulator, owner, session):
    admin = MembershipFactory(workspace=owner.workspace, role=Membership.Role.ADMIN)
    url = start_connection(session=session, workspace=owner.workspace, user=admin.user, platform="x")
    Membership.objects.filter(pk=admin.pk).update(role=Membership.Role.VIEWER)

    with pytest.raises(ConnectionFailed) as caught:
        complete_connection(session=session, user=admin.user, platform="x", params=consent(url, username="alice"))

    assert caught.value.message == "Your role in this workspace no longer allows connecting accounts."
    assert SocialAccount.objects.count() == 0


# --------------------------------------------------------------------------- reconnect


def test_reconnecting_updates_the_same_row(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")
    old_token = account.access_token
    mark_reconnect_needed(account=account, reason="X refused the token: reconnect the account.")

    [again] = _connect(session, owner, username="alice", reconnect=account)

    saved = SocialAccount.objects.get()
    assert again.pk == saved.pk == account.pk
    assert (saved.status, saved.last_error) == (SocialAccount.Status.ACTIVE, "")
    assert saved.access_token != old_token


def test_reconnecting_as_another_account_changes_nothing(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")
    mark_reconnect_needed(account=account, reason="Expired.")

    with pytest.raises(ConnectionFailed) as caught:
        _connect(session, owner, username="bob", reconnect=account)

    assert caught.value.message == (
        "You signed in to X as bob, but the account to reconnect is alice. "
        "Sign in as alice and try again; nothing was changed."
    )
    saved = SocialAccount.objects.get()
    assert (saved.handle, saved.status, saved.last_error) == (
        "alice",
        SocialAccount.Status.RECONNECT_NEEDED,
        "Expired.",
    )
    bobs_tokens = [t for t in emulator.app.state.tokens.values() if t.username == "bob" and t.kind == "access"]
    assert [t.revoked for t in bobs_tokens] == [True]  # given back, not left valid


def test_reconnecting_mastodon_goes_back_to_the_accounts_instance(emulator, owner, session):
    [account] = _connect(session, owner, "mastodon", username="alice", server="mastodon.example")
    mark_reconnect_needed(account=account, reason="Mastodon refused the token: reconnect the account.")

    [again] = _connect(session, owner, "mastodon", username="alice", reconnect=account)

    saved = SocialAccount.objects.get()
    assert again.pk == saved.pk == account.pk
    assert (saved.status, saved.last_error, saved.config["instance"]) == ("active", "", "mastodon.example")


def test_reconnecting_a_disconnected_account_needs_room_in_the_plan(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")
    disconnect_account(account=account, actor=owner.user)
    for n in range(2):
        SocialAccount.objects.create(workspace=owner.workspace, platform="mastodon", account_id=str(n), handle=f"m{n}")

    with pytest.raises(ConnectionFailed) as caught:
        start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="x", reconnect=account)

    assert caught.value.message == "The Free plan allows 2 connected platforms; upgrade to add more."


# --------------------------------------------------------------------------- Mastodon


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("mastodon.social", "mastodon.social"),
        ("  Mastodon.Social  ", "mastodon.social"),
        ("https://mastodon.social/", "mastodon.social"),
        ("https://mastodon.social", "mastodon.social"),
        ("fosstodon.org.", "fosstodon.org"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_an_instance_is_read_as_a_host(settings, typed, host):
    settings.PLATFORM_EMULATOR_ENABLED = True

    assert normalise_host(typed) == host


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the Mastodon server's name, e.g. mastodon.social."),
        ("@alice@mastodon.social", "Only the server, not your @handle or a login."),
        ("https://user:pw@mastodon.social", "Only the server, not your @handle or a login."),
        ("http://mastodon.social", "Only https:// servers can be connected."),
        ("mastodon.social:8443", "without a port, a path or a query"),
        ("mastodon.social:99999", "is not a server name"),
        ("https://mastodon.social/@alice", "Only the server, not your @handle or a login."),
        ("https://mastodon.social/about", "without a port, a path or a query"),
        ("https://mastodon.social/?next=x", "without a port, a path or a query"),
        ("mastodon.social#x", "without a port, a path or a query"),
        ("localhost", "is not a server name"),
        ("127.0.0.1", "not an IP address"),
        ("[::1]", "not an IP address"),
        ("exa mple.com", "is not a server name"),
        ("-bad.example", "is not a server name"),
    ],
)
def test_odd_instances_are_refused(settings, typed, message):
    settings.PLATFORM_EMULATOR_ENABLED = True

    with pytest.raises(ConnectionFailed) as caught:
        normalise_host(typed)

    assert message in caught.value.message


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "fd00::1"])
def test_a_host_resolving_to_a_private_address_is_refused(settings, monkeypatch, address):
    settings.PLATFORM_EMULATOR_ENABLED = False
    monkeypatch.setattr(connections, "_resolve", lambda host: ["93.184.216.34", address])

    with pytest.raises(ConnectionFailed) as caught:
        normalise_host("sneaky.example")

    assert caught.value.message == "“sneaky.example” is not a public server on the internet, so it cannot be connected."


def test_a_public_host_is_accepted_and_an_unknown_one_explained(settings, monkeypatch):
    settings.PLATFORM_EMULATOR_ENABLED = False
    monkeypatch.setattr(connections, "_resolve", lambda host: ["93.184.216.34", "2606:2800:220:1::1"])
    assert normalise_host("mastodon.social") == "mastodon.social"

    def no_such_host(host):
        raise OSError("Name or service not known")

    monkeypatch.setattr(connections, "_resolve", no_such_host)
    with pytest.raises(ConnectionFailed) as caught:
        normalise_host("mastodon.invalid")
    assert caught.value.message == "Could not find the server “mastodon.invalid”. Check the spelling."


def test_connecting_mastodon_registers_the_app_and_keys_the_account_by_instance(emulator, owner, session):
    [account] = _connect(session, owner, "mastodon", username="alice", server="https://Mastodon.Example/")

    app = MastodonApp.objects.get()
    assert (app.instance, app.redirect_uri) == ("mastodon.example", f"{BASE}/connections/callback/mastodon/")
    assert app.client_secret
    saved = SocialAccount.objects.get()
    assert saved.pk == account.pk
    assert saved.handle == "@alice@mastodon.example"
    assert saved.account_id == f"{saved.config['remote_account_id']}@mastodon.example"
    assert saved.config["instance"] == "mastodon.example"
    credentials = credentials_for(saved)
    assert credentials.account_id == saved.config["remote_account_id"]
    assert credentials.config["instance"] == "mastodon.example"


def test_the_same_username_on_two_instances_is_two_accounts(emulator, owner, session):
    _connect(session, owner, "mastodon", username="alice", server="mastodon.example")
    _connect(session, owner, "mastodon", username="alice", server="other.example")

    assert sorted(SocialAccount.objects.values_list("handle", flat=True)) == [
        "@alice@mastodon.example",
        "@alice@other.example",
    ]
    assert MastodonApp.objects.count() == 2


def test_a_real_instance_registers_our_app_once(owner, session, settings, monkeypatch):
    settings.PLATFORM_EMULATOR_ENABLED = False
    monkeypatch.setattr(connections, "_resolve", lambda host: ["93.184.216.34"])
    calls = []

    def register_app(self, *, redirect_uri, app_name, website):
        calls.append((self.config.api_base, redirect_uri, app_name))
        return "client-1", "secret-1"

    monkeypatch.setattr(MastodonProvider, "register_app", register_app)

    first = start_connection(
        session=session, workspace=owner.workspace, user=owner.user, platform="mastodon", server="mastodon.social"
    )
    second = start_connection(
        session=session, workspace=owner.workspace, user=owner.user, platform="mastodon", server="mastodon.social"
    )

    assert calls == [("https://mastodon.social", f"{BASE}/connections/callback/mastodon/", "LetsGrow")]
    assert first.startswith("https://mastodon.social/oauth/authorize?client_id=client-1&")
    assert second.startswith("https://mastodon.social/oauth/authorize?client_id=client-1&")
    assert MastodonApp.objects.get().client_secret == "secret-1"


def test_a_failed_registration_is_explained_and_stores_nothing(emulator, owner, session, monkeypatch):
    def refuse(self, *, redirect_uri, app_name, website):
        raise ProviderError(ErrorKind.TRANSIENT, "Mastodon answered 503: Service Unavailable", status=503)

    monkeypatch.setattr(MastodonProvider, "register_app", refuse)

    with pytest.raises(ConnectionFailed) as caught:
        start_connection(
            session=session, workspace=owner.workspace, user=owner.user, platform="mastodon", server="mastodon.example"
        )

    assert (
        caught.value.message
        == "Could not register LetsGrow on mastodon.example: Mastodon answered 503: Service Unavailable"
    )
    assert MastodonApp.objects.count() == 0
    assert session == {}


# --------------------------------------------------------------------------- Bluesky


def test_connecting_bluesky_with_an_app_password(emulator, owner):
    account = connect_bluesky(
        workspace=owner.workspace, user=owner.user, identifier="@alice.bsky.social", app_password=APP_PASSWORD
    )

    saved = SocialAccount.objects.get()
    assert saved.pk == account.pk
    assert (saved.platform, saved.handle, saved.status) == ("bluesky", "alice.bsky.social", "active")
    assert saved.account_id.startswith("did:")
    assert saved.app_password == APP_PASSWORD
    assert saved.access_token and saved.refresh_token
    assert saved.config["did"] == saved.account_id


def test_a_wrong_app_password_stores_nothing(emulator, owner):
    with pytest.raises(ConnectionFailed) as caught:
        connect_bluesky(
            workspace=owner.workspace, user=owner.user, identifier="alice.bsky.social", app_password="my-main-password"
        )

    assert caught.value.message.startswith("Bluesky did not accept this handle and app password: Bluesky answered 401")
    assert "my-main-password" not in caught.value.message
    assert SocialAccount.objects.count() == 0


@pytest.mark.parametrize(
    ("identifier", "password", "pds", "message"),
    [
        ("", APP_PASSWORD, "", "Enter your Bluesky handle, e.g. alice.bsky.social."),
        ("alice bsky", APP_PASSWORD, "", "Enter your Bluesky handle, e.g. alice.bsky.social."),
        ("alice.bsky.social", "  ", "", "Enter an app password"),
        ("alice.bsky.social", APP_PASSWORD, "https://pds.example/xrpc", "without a port, a path or a query"),
    ],
)
def test_bluesky_input_is_checked_before_anything_is_sent(emulator, owner, identifier, password, pds, message):
    with pytest.raises(ConnectionFailed) as caught:
        connect_bluesky(
            workspace=owner.workspace, user=owner.user, identifier=identifier, app_password=password, pds=pds
        )

    assert message in caught.value.message
    assert emulator.requests(platform="bluesky") == []
    assert SocialAccount.objects.count() == 0


def test_bluesky_logs_in_again_with_the_stored_app_password(emulator, owner):
    account = connect_bluesky(
        workspace=owner.workspace, user=owner.user, identifier="alice.bsky.social", app_password=APP_PASSWORD
    )
    old_refresh = account.refresh_token
    mark_reconnect_needed(account=account, reason="Bluesky ended the session.")

    renewed = renew_bluesky_session(account=account, actor=owner.user)

    saved = SocialAccount.objects.get()
    assert renewed.pk == saved.pk
    assert (saved.status, saved.last_error) == ("active", "")
    assert saved.refresh_token != old_refresh


# --------------------------------------------------------------------------- disconnect and tokens


def test_disconnecting_revokes_forgets_the_tokens_and_keeps_the_row(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")
    token = account.access_token

    disconnect_account(account=account, actor=owner.user)

    saved = SocialAccount.objects.get()
    assert (saved.status, saved.access_token, saved.refresh_token, saved.token_expires_at) == (
        SocialAccount.Status.REVOKED,
        "",
        "",
        None,
    )
    assert emulator.app.state.tokens[token].revoked is True
    with pytest.raises(TokenUnavailable):
        credentials_for(saved)


def test_a_failed_revocation_still_disconnects_and_logs_no_token(emulator, owner, session, monkeypatch, caplog):
    [account] = _connect(session, owner, username="alice")
    token = account.access_token

    def refuse(self, credentials):
        raise ProviderError(ErrorKind.TRANSIENT, "Could not reach X.")

    monkeypatch.setattr(XProvider, "revoke", refuse)

    with caplog.at_level(logging.INFO):
        disconnect_account(account=account, actor=owner.user)

    assert SocialAccount.objects.get().status == SocialAccount.Status.REVOKED
    assert "Could not revoke the token of account" in caplog.text
    assert "Could not reach X." in caplog.text
    assert token not in caplog.text


def test_an_editor_cannot_disconnect(emulator, owner, session):
    [account] = _connect(session, owner, username="alice")
    editor = MembershipFactory(workspace=owner.workspace, role=Membership.Role.EDITOR)

    with pytest.raises(PermissionDenied):
        disconnect_account(account=account, actor=editor.user)

    assert SocialAccount.objects.get().status == SocialAccount.Status.ACTIVE


def test_refreshed_tokens_replace_the_old_ones(owner):
    account = SocialAccount.objects.create(
        workspace=owner.workspace,
        platform="x",
        account_id="1",
        handle="alice",
        access_token="old-access",
        refresh_token="old-refresh",
        status=SocialAccount.Status.RECONNECT_NEEDED,
        last_error="Expired.",
    )
    expires = datetime.now(tz=UTC) + timedelta(hours=2)

    save_refreshed_tokens(account=account, tokens=TokenSet(access_token="new-access", expires_at=expires))

    saved = SocialAccount.objects.get()
    assert (saved.access_token, saved.refresh_token, saved.token_expires_at) == ("new-access", "old-refresh", expires)
    assert (saved.status, saved.last_error) == (SocialAccount.Status.ACTIVE, "")


def test_an_account_can_be_flagged_for_reconnecting(owner):
    account = SocialAccount.objects.create(workspace=owner.workspace, platform="x", account_id="1", handle="alice")

    mark_reconnect_needed(account=account, reason="X refused the token: reconnect the account.")

    saved = SocialAccount.objects.get()
    assert (saved.status, saved.last_error) == (
        SocialAccount.Status.RECONNECT_NEEDED,
        "X refused the token: reconnect the account.",
    )


def test_a_paid_plan_may_connect_linkedin(emulator, owner, session):
    Subscription.objects.create(workspace=owner.workspace, plan="pro")

    url = start_connection(session=session, workspace=owner.workspace, user=owner.user, platform="linkedin")

    assert url.startswith(f"{emulator.base_url}/linkedin/")


def test_another_users_session_is_not_this_users(emulator, owner):
    stranger = UserFactory()
    theirs: dict = {}
    url = start_connection(session=theirs, workspace=owner.workspace, user=owner.user, platform="x")

    with pytest.raises(ConnectionFailed):
        complete_connection(session={}, user=stranger, platform="x", params=consent(url, username="alice"))

    assert SocialAccount.objects.count() == 0
