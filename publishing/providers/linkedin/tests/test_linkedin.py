"""LinkedIn against the emulator: little text end to end, the required headers, errors and tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from publishing.platforms import provider_for
from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, Variant
from publishing.providers.linkedin.provider import LinkedInProvider
from publishing.tests.test_provider_contract import PNG, REDIRECT_URI, connect

RESERVED = "\\|{}@[]()<>#*_~"


def _posts(emulator) -> dict:
    return emulator.store("linkedin")["posts"]


def _rest_headers(version: str = "202611") -> dict[str, str]:
    return {"LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}


def _raw_post(emulator, credentials: Credentials, commentary: str, headers: dict[str, str] | None = None):
    """Post to the emulator as a careless client would: commentary sent exactly as given."""
    body = {
        "author": f"urn:li:person:{credentials.account_id}",
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
    }
    return requests.post(
        f"{emulator.url('linkedin')}/rest/posts",
        json=body,
        headers={"Authorization": f"Bearer {credentials.access_token}", **(headers or {})},
        timeout=5,
    )


# --------------------------------------------------------------------------- little, end to end


def test_every_reserved_character_reaches_linkedin_in_full(emulator):
    provider, credentials = connect("linkedin")
    text = "All of them: " + " ".join(RESERVED) + " and a #hashtag, (parens) and snake_case."

    result = provider.publish(credentials, Variant(text=text))

    post = _posts(emulator)[result.remote_id]
    assert post["_shown"] == text
    assert post["_truncated"] is False
    assert "{hashtag|\\#|hashtag}" in post["commentary"]
    assert provider.lookup(credentials, Variant(text=text)) == result


@pytest.mark.parametrize("char", list(RESERVED))
def test_an_unescaped_reserved_character_is_cut_silently_with_a_201(char, emulator):
    _, credentials = connect("linkedin")

    response = _raw_post(emulator, credentials, f"Kept {char} lost", _rest_headers())

    assert response.status_code == 201
    urn = response.headers["x-restli-id"]
    post = _posts(emulator)[urn]
    assert post["_shown"] == "Kept "
    assert post["commentary"] == "Kept "
    assert post["_truncated"] is True


def test_the_same_characters_escaped_by_hand_are_kept(emulator):
    _, credentials = connect("linkedin")
    commentary = "".join("\\" + char for char in RESERVED)

    response = _raw_post(emulator, credentials, commentary, _rest_headers())

    assert response.status_code == 201
    assert _posts(emulator)[response.headers["x-restli-id"]]["_shown"] == RESERVED


# --------------------------------------------------------------------------- headers


def test_every_rest_call_carries_the_version_and_protocol_headers(emulator, settings):
    provider, credentials = connect("linkedin")
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot")
    result = provider.publish(credentials, Variant(text="Headers check", media=(image,)))
    provider.fetch_metrics(credentials, [result.remote_id])
    provider.lookup(credentials, Variant(text="Headers check"))
    provider.delete(credentials, result.remote_id)

    rest_calls = [r for r in emulator.requests(platform="linkedin") if r["path"].startswith("/linkedin/rest/")]
    assert {r["operation"] for r in rest_calls} == {
        "images_action",
        "create_post",
        "post_analytics",
        "find_posts",
        "delete_post",
    }
    for call in rest_calls:
        headers = {k.lower(): v for k, v in call["headers"].items()}
        assert headers["linkedin-version"] == settings.LINKEDIN_API_VERSION
        assert headers["x-restli-protocol-version"] == "2.0.0"
        assert call["status"] < 300


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 400, "VERSION_MISSING"),
        ({"LinkedIn-Version": "202611"}, 400, "ILLEGAL_ARGUMENT"),
        (_rest_headers("202001"), 426, "NONEXISTENT_VERSION"),
        (_rest_headers("209912"), 426, "NONEXISTENT_VERSION"),
    ],
)
def test_the_emulator_refuses_a_missing_or_inactive_version(headers, status, code, emulator):
    _, credentials = connect("linkedin")

    response = _raw_post(emulator, credentials, "No headers", headers)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not emulator.store("linkedin").get("posts")


def test_a_sunset_api_version_is_a_permanent_error(emulator, settings):
    _, credentials = connect("linkedin")
    settings.LINKEDIN_API_VERSION = "202001"
    provider = provider_for("linkedin")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Too old"))

    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.status == 426


# --------------------------------------------------------------------------- connecting and tokens


def test_authorization_url_sends_state_and_the_scopes_but_no_pkce(emulator):
    provider = provider_for("linkedin")

    url = provider.authorization_url(state="s-123", redirect_uri=REDIRECT_URI, code_challenge="ignored")

    assert url.startswith(f"{emulator.url('linkedin')}/oauth/v2/authorization?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == "s-123"
    assert query["response_type"] == "code"
    assert query["scope"].split() == ["openid", "profile", "w_member_social", "r_member_postAnalytics"]
    assert "code_challenge" not in query


def test_the_account_is_the_member_and_posts_as_their_person_urn(emulator):
    provider, credentials = connect("linkedin", username="ada_lovelace")

    provider.publish(credentials, Variant(text="Who am I"))

    assert credentials.config == {"author_urn": f"urn:li:person:{credentials.account_id}"}
    (post,) = _posts(emulator).values()
    assert post["author"] == f"urn:li:person:{credentials.account_id}"
    assert post["visibility"] == "PUBLIC"
    assert post["lifecycleState"] == "PUBLISHED"
    assert post["distribution"]["feedDistribution"] == "MAIN_FEED"


def test_refresh_keeps_the_refresh_token_and_does_not_extend_it(emulator):
    provider, credentials = connect("linkedin")
    before = emulator.app.state.tokens[credentials.refresh_token].expires_at

    tokens = provider.refresh_credentials(credentials)

    assert tokens.access_token != credentials.access_token
    assert tokens.refresh_token == credentials.refresh_token
    assert emulator.app.state.tokens[credentials.refresh_token].expires_at == before
    assert (tokens.expires_at - datetime.now(tz=UTC)).days in (59, 60)


def test_without_a_refresh_token_the_member_must_reconnect(emulator):
    provider, credentials = connect("linkedin")
    bare = Credentials(access_token=credentials.access_token, account_id=credentials.account_id)

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(bare)

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert len(emulator.requests(platform="linkedin", operation="access_token")) == 1  # the connect only


def test_an_expired_token_is_auth_expired(emulator):
    provider, credentials = connect("linkedin")
    emulator.expire_tokens("linkedin", credentials.account_id)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Too late"))

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert caught.value.status == 401


# --------------------------------------------------------------------------- publishing


def test_posting_the_same_text_twice_is_a_duplicate(emulator):
    provider, credentials = connect("linkedin")
    provider.publish(credentials, Variant(text="Same again"))

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Same again"))

    assert caught.value.kind is ErrorKind.DUPLICATE
    assert len(_posts(emulator)) == 1


def test_several_images_make_a_multi_image_post(emulator):
    provider, credentials = connect("linkedin")
    images = tuple(Media(content_type="image/png", size=len(PNG), data=PNG, alt_text=f"dot {n}") for n in range(3))

    result = provider.publish(credentials, Variant(text="Three dots", media=images))

    content = _posts(emulator)[result.remote_id]["content"]
    assert [image["altText"] for image in content["multiImage"]["images"]] == ["dot 0", "dot 1", "dot 2"]
    uploaded = emulator.store("linkedin")["images"]
    assert all(uploaded[image["id"]]["status"] == "AVAILABLE" for image in content["multiImage"]["images"])


def test_a_link_goes_into_the_text_escaped(emulator):
    provider, credentials = connect("linkedin")
    variant = Variant(text="Read this", link="https://example.com/a_b(c)")

    result = provider.publish(credentials, variant)

    assert _posts(emulator)[result.remote_id]["_shown"] == "Read this\n\nhttps://example.com/a_b(c)"
    assert provider.lookup(credentials, variant) == result


def test_metrics_grow_with_time(emulator):
    provider, credentials = connect("linkedin")
    result = provider.publish(credentials, Variant(text="Growing"))
    (first,) = provider.fetch_metrics(credentials, [result.remote_id])

    with emulator.app.state.lock:
        emulator.app.state.store("linkedin")["posts"][result.remote_id]["_created"] -= 3600
    (later,) = provider.fetch_metrics(credentials, [result.remote_id])

    assert later.impressions > first.impressions
    assert later.likes > first.likes
    assert later.impressions is not None and later.views is None


def test_deleting_twice_is_fine(emulator):
    provider, credentials = connect("linkedin")
    result = provider.publish(credentials, Variant(text="Short-lived"))

    provider.delete(credentials, result.remote_id)
    provider.delete(credentials, result.remote_id)

    assert _posts(emulator)[result.remote_id]["lifecycleState"] == "DELETED"


# --------------------------------------------------------------------------- validation


def _provider() -> LinkedInProvider:
    return provider_for("linkedin")  # type: ignore[return-value]


def test_length_is_counted_on_the_escaped_text():
    provider = _provider()

    at_limit = provider.validate(Variant(text="(" * 1500))
    over = provider.validate(Variant(text="(" * 1501))

    assert (at_limit.length, at_limit.is_valid) == (3000, True)
    assert (over.length, over.is_valid) == (3002, False)


@pytest.mark.parametrize(
    ("media", "valid"),
    [
        ((Media(content_type="image/png", size=10),), True),
        (tuple(Media(content_type="image/jpeg", size=10) for _ in range(20)), True),
        (tuple(Media(content_type="image/jpeg", size=10) for _ in range(21)), False),
        ((Media(content_type="video/mp4", size=10),), False),
        ((Media(content_type="image/webp", size=10),), False),
        ((Media(content_type="image/png", size=10, width=7000, height=7000),), False),
    ],
)
def test_media_rules(media, valid):
    assert _provider().validate(Variant(text="Pictures", media=media)).is_valid is valid


def test_an_empty_post_is_refused():
    assert not _provider().validate(Variant(text="  ")).is_valid


# --------------------------------------------------------------------------- error classification


def _response(status: int, body: dict | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if body is not None else b""
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"status": 401, "code": "EXPIRED_ACCESS_TOKEN", "message": "expired"}, ErrorKind.AUTH_EXPIRED),
        (429, {"status": 429, "message": "throttled"}, ErrorKind.RATE_LIMITED),
        (422, {"status": 422, "message": "Content is a duplicate of urn:li:share:1"}, ErrorKind.DUPLICATE),
        (422, {"status": 422, "message": "ERROR :: /author :: field is required"}, ErrorKind.INVALID_CONTENT),
        (400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"}, ErrorKind.PERMANENT),
        (426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "not active"}, ErrorKind.PERMANENT),
        (403, {"status": 403, "code": "ACCESS_DENIED", "message": "no"}, ErrorKind.PERMANENT),
        (500, {"status": 500, "message": "Internal Server Error"}, ErrorKind.TRANSIENT),
        (504, None, ErrorKind.TRANSIENT),
    ],
)
def test_linkedin_errors_are_classified(status, body, kind):
    assert _provider().classify(_response(status, body)).kind is kind


def test_a_bare_429_waits_for_the_daily_reset_at_midnight_utc():
    error = _provider().classify(_response(429, {"status": 429, "message": "throttled"}))

    now = datetime.now(tz=UTC)
    until_midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert abs(error.retry_after - max(60, until_midnight)) < 5


def test_a_429_with_retry_after_uses_it():
    error = _provider().classify(_response(429, {"status": 429, "message": "x"}, {"Retry-After": "42"}))

    assert error.retry_after == 42
