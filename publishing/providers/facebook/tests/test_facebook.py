"""Facebook Pages against the emulator: one account per Page, Graph error codes, photos, metrics."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from publishing.platforms import provider_for
from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, TokenSet, Variant
from publishing.providers.facebook.provider import (
    FacebookPagesProvider,
    GraphError,
    business_use_case_wait,
)
from publishing.tests.test_provider_contract import PNG, REDIRECT_URI, connect, consent


def _provider() -> FacebookPagesProvider:
    return provider_for("facebook")  # type: ignore[return-value]


def _user_tokens(username: str = "page_admin") -> TokenSet:
    provider = _provider()
    url = provider.authorization_url(state="st", redirect_uri=REDIRECT_URI)
    answer = consent(url, username=username)
    return provider.exchange_code(code=answer["code"], redirect_uri=REDIRECT_URI)


def _credentials(profile) -> Credentials:
    return Credentials(access_token=profile.tokens.access_token, account_id=profile.account_id, config=profile.config)


def _posts(emulator) -> dict:
    return emulator.store("facebook").get("posts", {})


# --------------------------------------------------------------------------- connecting


def test_connecting_gives_one_account_per_page_each_with_its_own_token(emulator):
    tokens = _user_tokens()

    profiles = _provider().fetch_accounts(tokens)

    assert [p.display_name for p in profiles] == ["Page Admin", "Page Admin Shop"]  # not the analyst-only Page
    assert len({p.account_id for p in profiles}) == 2
    assert len({p.tokens.access_token for p in profiles} | {tokens.access_token}) == 3
    for profile in profiles:
        assert profile.config == {"page_id": profile.account_id}
        assert profile.tokens.expires_at is None
        assert profile.handle.startswith("pageadmin.")
        assert profile.avatar_url.startswith("http")


def test_the_user_token_is_exchanged_for_a_long_lived_one(emulator):
    tokens = _user_tokens()

    token_calls = emulator.requests(platform="facebook", operation="access_token")
    assert [("code" in c["query"], c["query"].get("grant_type")) for c in token_calls] == [
        (True, None),
        (False, "fb_exchange_token"),
    ]
    assert tokens.expires_at is not None
    assert emulator.app.state.tokens[tokens.access_token].extra["long_lived"] is True


def test_the_authorization_url_asks_for_page_permissions_with_state(emulator, settings):
    url = _provider().authorization_url(state="s-1", redirect_uri=REDIRECT_URI)

    assert url.startswith(f"{emulator.url('facebook')}/{settings.META_GRAPH_VERSION}/dialog/oauth?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == "s-1"
    assert set(query["scope"].split(",")) >= {"pages_manage_posts", "pages_read_engagement", "pages_show_list"}


def test_page_tokens_cannot_be_refreshed(emulator):
    provider, credentials = connect("facebook")

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert "reconnect" in caught.value.message


def test_a_page_token_posts_only_to_its_own_page(emulator):
    first, second = _provider().fetch_accounts(_user_tokens())
    wrong = Credentials(access_token=first.tokens.access_token, account_id=second.account_id, config=second.config)

    with pytest.raises(GraphError) as caught:
        _provider().publish(wrong, Variant(text="Wrong Page"))

    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, 200)
    assert _posts(emulator) == {}


def test_calls_carry_appsecret_proof(emulator):
    provider, credentials = connect("facebook")

    provider.publish(credentials, Variant(text="Proof"))

    (call,) = emulator.requests(platform="facebook", operation="publish_feed")
    assert len(call["body"]["appsecret_proof"]) == 64
    forged = requests.post(
        f"{emulator.url('facebook')}/v24.0/{credentials.account_id}/feed",
        data={"message": "Forged", "appsecret_proof": "0" * 64, "access_token": credentials.access_token},
        timeout=5,
    )
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == 100


# --------------------------------------------------------------------------- publishing


def test_a_text_post_with_a_link(emulator):
    provider, credentials = connect("facebook")

    result = provider.publish(credentials, Variant(text="Read this", link="https://example.com/a"))

    post = _posts(emulator)[result.remote_id]
    assert (post["message"], post["link"]) == ("Read this", "https://example.com/a")
    assert result.remote_id.startswith(f"{credentials.account_id}_")
    assert result.url == f"https://www.facebook.com/{result.remote_id}"


def test_one_photo_is_uploaded_as_bytes(emulator):
    provider, credentials = connect("facebook")
    image = Media(content_type="image/png", size=len(PNG), data=PNG, url="https://media.example/p.png", alt_text="Dot")

    result = provider.publish(credentials, Variant(text="A dot", link="https://example.com", media=(image,)))

    (call,) = emulator.requests(platform="facebook", operation="publish_photo")
    assert call["body"]["source"]["size"] == len(PNG)
    assert "url" not in call["body"]
    post = _posts(emulator)[result.remote_id]
    assert post["message"] == "A dot\n\nhttps://example.com"  # a photo post has no link field
    assert len(post["photos"]) == 1


def test_a_photo_without_bytes_is_sent_by_url(emulator):
    provider, credentials = connect("facebook")
    image = Media(content_type="image/png", size=len(PNG), url=f"{emulator.base_url}/_media/p.png")

    provider.publish(credentials, Variant(text="By URL", media=(image,)))

    (call,) = emulator.requests(platform="facebook", operation="publish_photo")
    assert call["body"]["url"] == image.url


def test_several_photos_are_attached_to_one_post(emulator):
    provider, credentials = connect("facebook")
    images = tuple(Media(content_type="image/png", size=len(PNG), data=PNG) for _ in range(3))

    result = provider.publish(credentials, Variant(text="Three", media=images))

    photo_calls = emulator.requests(platform="facebook", operation="publish_photo")
    assert [c["body"]["published"] for c in photo_calls] == ["false"] * 3
    post = _posts(emulator)[result.remote_id]
    assert len(post["photos"]) == 3
    assert len(_posts(emulator)) == 1


def test_the_same_status_twice_in_a_row_is_a_duplicate(emulator):
    provider, credentials = connect("facebook")
    provider.publish(credentials, Variant(text="Again"))

    with pytest.raises(GraphError) as caught:
        provider.publish(credentials, Variant(text="Again"))

    assert (caught.value.kind, caught.value.code) == (ErrorKind.DUPLICATE, 506)


def test_metrics_skip_deleted_posts_and_grow_with_time(emulator):
    provider, credentials = connect("facebook")
    kept = provider.publish(credentials, Variant(text="Kept")).remote_id
    gone = provider.publish(credentials, Variant(text="Gone")).remote_id
    provider.delete(credentials, gone)
    (first,) = provider.fetch_metrics(credentials, [kept, gone])

    with emulator.app.state.lock:
        emulator.app.state.store("facebook")["posts"][kept]["created"] -= 3600
    (later,) = provider.fetch_metrics(credentials, [kept, gone])

    assert first.remote_id == kept
    assert later.likes > first.likes and later.views > first.views
    assert later.impressions is None


def test_deleting_twice_is_fine(emulator):
    provider, credentials = connect("facebook")
    result = provider.publish(credentials, Variant(text="Short-lived"))

    provider.delete(credentials, result.remote_id)
    provider.delete(credentials, result.remote_id)

    assert _posts(emulator)[result.remote_id]["deleted"] is True


def test_deprecated_impression_metrics_are_refused(emulator, settings):
    provider, credentials = connect("facebook")
    result = provider.publish(credentials, Variant(text="Insights"))

    response = requests.get(
        f"{emulator.url('facebook')}/{settings.META_GRAPH_VERSION}/{result.remote_id}/insights",
        params={"metric": "post_impressions_unique"},
        headers={"Authorization": f"Bearer {credentials.access_token}"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("variant", "valid"),
    [
        (Variant(text="x" * 63_206), True),
        (Variant(text="x" * 63_207), False),
        (Variant(text=""), False),
        (Variant(text="", link="https://example.com"), True),
        (Variant(text="v", media=(Media(content_type="video/mp4", size=10),)), False),
        (Variant(text="big", media=(Media(content_type="image/jpeg", size=5 * 1024 * 1024),)), False),
        (Variant(text="many", media=tuple(Media(content_type="image/png", size=1) for _ in range(11))), False),
    ],
)
def test_validation(variant, valid):
    assert _provider().validate(variant).is_valid is valid


# --------------------------------------------------------------------------- Graph error codes


def _graph_response(status: int, error: dict | None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": error}).encode() if error is not None else b"<html>oops</html>"
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"code": 190, "error_subcode": 463, "message": "Session has expired"}, ErrorKind.AUTH_EXPIRED),
        (400, {"code": 190, "error_subcode": 460, "message": "password changed"}, ErrorKind.AUTH_EXPIRED),
        (400, {"code": 102, "message": "Session key invalid"}, ErrorKind.AUTH_EXPIRED),
        (400, {"code": 4, "message": "Application request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 17, "message": "User request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 32, "message": "Page request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 613, "message": "Calls within one hour have exceeded"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 80001, "message": "too many calls to this Page"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 368, "message": "temporarily blocked for policies"}, ErrorKind.PERMANENT),
        (400, {"code": 506, "message": "Duplicate status message"}, ErrorKind.DUPLICATE),
        (400, {"code": 100, "message": "Invalid parameter"}, ErrorKind.INVALID_CONTENT),
        (400, {"code": 1609005, "message": "Error posting link"}, ErrorKind.INVALID_CONTENT),
        (400, {"code": 1, "message": "An unknown error occurred", "is_transient": True}, ErrorKind.TRANSIENT),
        (500, {"code": 2, "message": "Service temporarily unavailable"}, ErrorKind.TRANSIENT),
        (400, {"code": 99, "message": "Something new", "is_transient": True}, ErrorKind.TRANSIENT),
        (400, {"code": 200, "message": "Permissions error"}, ErrorKind.PERMANENT),
        (403, {"code": 10, "message": "Permission denied"}, ErrorKind.PERMANENT),
        (502, None, ErrorKind.TRANSIENT),
    ],
)
def test_graph_error_codes_are_mapped(status, error, kind):
    assert _provider().classify(_graph_response(status, error)).kind is kind


@pytest.mark.parametrize(
    ("minutes", "seconds"),
    [(0, 30.0), (0.7, 42.0), (1, 60.0), (7, 420.0)],
)
def test_retry_after_reads_the_business_use_case_header(minutes, seconds):
    usage = {"1234": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": minutes}]}
    response = _graph_response(400, {"code": 80001, "message": "x"}, {"X-Business-Use-Case-Usage": json.dumps(usage)})

    assert _provider().classify(response).retry_after == seconds


def test_an_echoed_token_never_reaches_the_message():
    response = _graph_response(400, {"code": 190, "message": "Bad token secret-token-123"})
    response.request = requests.Request(
        "GET", "https://graph.example/v24.0/me", headers={"Authorization": "Bearer secret-token-123"}
    ).prepare()

    error = _provider().classify(response)

    assert "secret-token-123" not in error.message
    assert "[redacted]" in error.message


def test_app_usage_alone_gives_no_retry_time():
    response = _graph_response(400, {"code": 4, "message": "x"}, {"X-App-Usage": '{"call_count": 100}'})

    error = _provider().classify(response)

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after is None


def test_the_longest_wait_across_business_use_cases_wins():
    header = json.dumps(
        {
            "1": [{"type": "pages", "estimated_time_to_regain_access": 2}],
            "2": [{"type": "pages", "estimated_time_to_regain_access": 5}],
        }
    )

    assert business_use_case_wait(header) == 5
    assert business_use_case_wait("not json") is None
    assert business_use_case_wait(None) is None


def test_rate_limited_publish_reads_the_emulators_header(emulator):
    provider, credentials = connect("facebook")
    emulator.inject_fault("facebook", "rate_limit", operation="publish", retry_after=300)

    with pytest.raises(GraphError) as caught:
        provider.publish(credentials, Variant(text="Throttled"))

    assert (caught.value.kind, caught.value.code, caught.value.retry_after) == (ErrorKind.RATE_LIMITED, 80001, 300)
