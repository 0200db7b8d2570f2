"""How XProvider classifies X's answers: unit cases from X's documented shapes, then over the emulator."""

from __future__ import annotations

import json
import time

import pytest
import requests

from publishing.providers.base import Credentials, ErrorKind, ProviderConfig, ProviderError, Variant
from publishing.providers.x.provider import XProvider
from publishing.tests.test_provider_contract import connect

DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


@pytest.fixture
def provider():
    return XProvider(ProviderConfig(api_base="http://x.invalid", client_id="id", client_secret="secret"))


def _response(status: int, body: dict | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body or {}).encode()
    response.headers.update({"content-type": "application/problem+json", **(headers or {})})
    response.reason = "reason"
    return response


def test_429_waits_until_x_rate_limit_reset(provider):
    reset = int(time.time()) + 90
    headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}

    error = provider.classify(_response(429, {"title": "Too Many Requests", "code": 88}, headers))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert 88 <= error.retry_after <= 90
    assert error.status == 429


def test_429_from_an_exhausted_24_hour_bucket_waits_for_that_bucket(provider):
    now = int(time.time())
    headers = {
        "x-rate-limit-remaining": "42",
        "x-rate-limit-reset": str(now + 300),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(now + 7200),
    }

    error = provider.classify(_response(429, {"title": "Too Many Requests"}, headers))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert 7190 <= error.retry_after <= 7200


def test_429_without_headers_has_no_retry_hint(provider):
    error = provider.classify(_response(429, {"title": "Too Many Requests"}))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after is None


def test_403_duplicate_content_is_duplicate(provider):
    error = provider.classify(_response(403, DUPLICATE))

    assert error.kind is ErrorKind.DUPLICATE
    assert "duplicate content" in error.message


def test_other_403s_are_permanent(provider):
    body = {"title": "Forbidden", "type": "about:blank", "detail": "You are not permitted to perform this action."}

    assert provider.classify(_response(403, body)).kind is ErrorKind.PERMANENT


def test_401_is_auth_expired(provider):
    error = provider.classify(
        _response(401, {"title": "Unauthorized", "type": "about:blank", "detail": "Unauthorized"})
    )

    assert error.kind is ErrorKind.AUTH_EXPIRED


def test_400_is_invalid_content_with_the_specific_message(provider):
    body = {
        "errors": [{"parameters": {"text": [""]}, "message": "Your Tweet text is too long."}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
    }

    error = provider.classify(_response(400, body))

    assert error.kind is ErrorKind.INVALID_CONTENT
    assert error.message == "X answered 400: Your Tweet text is too long."


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(provider, status):
    assert provider.classify(_response(status, {"title": "Service Unavailable"})).kind is ErrorKind.TRANSIENT


# --------------------------------------------------------------------------- against the emulator


def test_the_same_text_twice_is_a_duplicate(emulator):
    provider, credentials = connect("x")
    variant = Variant(text="Exactly the same words, twice.")
    provider.publish(credentials, variant)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant)

    assert caught.value.kind is ErrorKind.DUPLICATE
    assert caught.value.status == 403
    assert len(emulator.store("x")["tweets"]) == 1


def test_the_same_text_from_another_account_is_not_a_duplicate(emulator):
    provider, first = connect("x", "first_user")
    _, second = connect("x", "second_user")
    variant = Variant(text="Same words, two accounts.")

    provider.publish(first, variant)
    provider.publish(second, variant)

    assert len(emulator.store("x")["tweets"]) == 2


def test_text_over_280_is_refused_by_the_emulator_as_invalid_content(emulator):
    provider, credentials = connect("x")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="漢" * 140 + "!"))  # 281 weighted

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert "too long" in caught.value.message
    assert emulator.store("x").get("tweets", {}) == {}


def test_rate_limit_fault_carries_x_headers_and_code_88(emulator):
    provider, credentials = connect("x")
    emulator.inject_fault("x", "rate_limit", operation="publish", retry_after=120)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Rate limited"))

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert 118 <= caught.value.retry_after <= 120


def test_an_upload_fault_fails_the_publish_before_posting(emulator):
    from publishing.providers.base import Media
    from publishing.tests.test_provider_contract import PNG

    provider, credentials = connect("x")
    emulator.inject_fault("x", "server_error", operation="upload")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="With a picture", media=(Media("image/png", len(PNG), data=PNG),)))

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert emulator.store("x").get("tweets", {}) == {}


def test_a_revoked_token_is_auth_expired(emulator):
    provider, credentials = connect("x")
    provider.revoke(credentials)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="After revoking"))

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    with pytest.raises(ProviderError) as refreshing:
        provider.refresh_credentials(credentials)
    assert refreshing.value.kind is ErrorKind.AUTH_EXPIRED


def test_no_token_in_any_error_message(emulator):
    provider, credentials = connect("x")
    kinds = ("expired_token", "rate_limit", "duplicate", "invalid", "server_error")
    for kind in kinds:
        emulator.inject_fault("x", kind, operation="publish")
        with pytest.raises(ProviderError) as caught:
            provider.publish(credentials, Variant(text=f"Fault {kind}"))
        assert credentials.access_token not in caught.value.message
        assert credentials.access_token not in repr(caught.value)


def test_refresh_without_a_refresh_token_is_auth_expired(provider):
    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(Credentials(access_token="at"))

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
