"""Connecting to X over the emulator: PKCE S256, state, consent, Basic auth, refresh rotation, revoke."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from publishing.emulator.core import EMULATOR_CLIENT_ID
from publishing.platforms import provider_for
from publishing.providers.base import (
    Credentials,
    ErrorKind,
    ProviderError,
    Variant,
    code_challenge_s256,
    new_code_verifier,
)
from publishing.tests.test_provider_contract import REDIRECT_URI, connect, consent


def _start(provider, verifier: str, state: str = "state-1") -> dict[str, str]:
    url = provider.authorization_url(
        state=state, redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(verifier)
    )
    return consent(url, username="pkce_user")


def test_the_authorization_url_asks_for_pkce_s256_state_and_our_scopes(emulator):
    provider = provider_for("x")

    url = provider.authorization_url(state="abc", redirect_uri=REDIRECT_URI, code_challenge="challenge")

    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/x/i/oauth2/authorize"
    assert query == {
        "response_type": "code",
        "client_id": EMULATOR_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "tweet.read tweet.write users.read media.write offline.access",
        "state": "abc",
        "code_challenge": "challenge",
        "code_challenge_method": "S256",
    }
    assert "%20" in parts.query  # scopes separated as in X's examples


def test_x_requires_a_code_challenge():
    provider = provider_for("x")

    with pytest.raises(ValueError, match="PKCE"):
        provider.authorization_url(state="abc", redirect_uri=REDIRECT_URI)


def test_the_right_verifier_gets_tokens_for_two_hours_with_a_refresh_token(emulator):
    provider = provider_for("x")
    verifier = new_code_verifier()
    answer = _start(provider, verifier)

    tokens = provider.exchange_code(code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier)

    assert tokens.access_token and tokens.refresh_token
    assert "offline.access" in tokens.scopes
    assert tokens.expires_at is not None
    token_call = emulator.requests(platform="x", operation="token")[-1]
    assert token_call["body"]["code_verifier"] == verifier
    assert token_call["body"]["grant_type"] == "authorization_code"
    assert token_call["headers"]["Authorization"].startswith("sha256:")  # Basic auth was sent (and redacted)


def test_a_wrong_verifier_fails_the_token_exchange(emulator):
    provider = provider_for("x")
    answer = _start(provider, new_code_verifier())

    with pytest.raises(ProviderError) as caught:
        provider.exchange_code(code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=new_code_verifier())

    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.status == 400


def test_a_code_works_once(emulator):
    provider = provider_for("x")
    verifier = new_code_verifier()
    answer = _start(provider, verifier)
    provider.exchange_code(code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier)

    with pytest.raises(ProviderError) as caught:
        provider.exchange_code(code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier)

    assert caught.value.kind is ErrorKind.PERMANENT


def test_the_token_endpoint_wants_basic_auth(emulator):
    provider = provider_for("x")
    verifier = new_code_verifier()
    answer = _start(provider, verifier)

    response = requests.post(
        f"{emulator.url('x')}/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": EMULATOR_CLIENT_ID,
        },
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized_client"


def test_denied_consent_returns_access_denied_with_the_state(emulator):
    provider = provider_for("x")
    url = provider.authorization_url(
        state="keep-me", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256("v" * 60)
    )

    answer = consent(url, username="someone", grant=False)

    assert answer == {
        "error": "access_denied",
        "error_description": "The user denied the request",
        "state": "keep-me",
    }


def test_an_unknown_scope_is_refused(emulator):
    url = (
        f"{emulator.url('x')}/i/oauth2/authorize?response_type=code&client_id={EMULATOR_CLIENT_ID}"
        f"&redirect_uri={REDIRECT_URI}&scope=tweet.read%20everything&state=s&code_challenge=c&code_challenge_method=S256"
    )

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == 302
    assert "error=invalid_scope" in response.headers["Location"]


def test_the_profile_becomes_the_account(emulator):
    provider, credentials = connect("x", "Some_Person")

    assert credentials.config == {"username": "Some_Person"}
    assert credentials.account_id.isdigit()
    result = provider.publish(credentials, Variant(text="Hello from LetsGrow"))
    assert result.url == f"https://x.com/Some_Person/status/{result.remote_id}"


def test_refresh_rotates_the_refresh_token(emulator):
    provider, credentials = connect("x")

    tokens = provider.refresh_credentials(credentials)

    assert tokens.refresh_token and tokens.refresh_token != credentials.refresh_token
    with pytest.raises(ProviderError) as caught:  # the old one was used up
        provider.refresh_credentials(credentials)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    fresh = Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token, account_id="1")
    assert provider.refresh_credentials(fresh).access_token


def test_revoke_revokes_both_tokens(emulator):
    provider, credentials = connect("x")

    provider.revoke(credentials)

    calls = emulator.requests(platform="x", operation="revoke")
    assert [c["body"]["token_type_hint"] for c in calls] == ["refresh_token", "access_token"]
    assert all(c["status"] == 200 for c in calls)
    assert emulator.app.state.token("x", credentials.access_token) is None
    assert emulator.app.state.token("x", credentials.refresh_token, kind="refresh") is None
