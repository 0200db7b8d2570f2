"""MastodonProvider: counting, instance limits, idempotency, lookup, media, errors, OAuth; over HTTP to the emulator."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from publishing.platforms import provider_for
from publishing.providers.base import (
    Credentials,
    ErrorKind,
    Media,
    ProviderConfig,
    ProviderError,
    Variant,
    code_challenge_s256,
    new_code_verifier,
)
from publishing.providers.mastodon.provider import (
    InstanceLimits,
    MastodonProvider,
    forget_instance_limits,
    status_length,
)
from publishing.tests.test_provider_contract import PNG, REDIRECT_URI, consent

INSTANCE = "mastodon.example"


@pytest.fixture(autouse=True)
def _fresh_limits():
    forget_instance_limits()
    yield
    forget_instance_limits()


def emulated(emulator):
    return emulator.app.platforms["mastodon"]


def register(instance: str = INSTANCE) -> MastodonProvider:
    provider = provider_for("mastodon", server=instance)
    client_id, client_secret = provider.register_app(
        redirect_uri=REDIRECT_URI, app_name="LetsGrow", website="https://letsgrow.app"
    )
    return provider_for("mastodon", server=instance, client_id=client_id, client_secret=client_secret)


def connect(instance: str = INSTANCE, username: str = "alice") -> tuple[MastodonProvider, Credentials]:
    provider = register(instance)
    verifier = new_code_verifier()
    url = provider.authorization_url(
        state="st", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(verifier)
    )
    code = consent(url, username=username)["code"]
    tokens = provider.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    profile = provider.fetch_accounts(tokens)[0]
    credentials = Credentials(access_token=tokens.access_token, account_id=profile.account_id, config=profile.config)
    return provider, credentials


def statuses_of(emulator, account_id: str) -> list[dict]:
    return [s for s in emulator.store("mastodon").get("statuses", {}).values() if s["account_id"] == account_id]


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("https://example.com/a/very/long/path/that/is/much/longer/than/twenty-three", 23),
        ("see https://x.io", 4 + 23),
        ("see https://example.com/page.", 4 + 23 + 1),  # the full stop ends the sentence, not the URL
        ("(https://example.com/page)", 1 + 23 + 1),
        ("two https://a.example/1 https://b.example/2", 4 + 23 + 1 + 23),
        ("example.com without a scheme", 28),
        ("hi @bob@other.social", 3 + 4),  # a mention counts without its domain
        ("hi @bob", 7),
        ("mail me at bob@other.social", 27),  # an address is not a mention
        ("👨‍👩‍👧‍👦", 1),  # one grapheme cluster, seven code points
        ("e\u0301", 1),  # e + combining acute accent
        ("🇫🇷🇩🇪", 2),
    ],
)
def test_status_length_counts_as_mastodon_does(text, expected):
    assert status_length(text) == expected


def test_status_length_uses_the_instances_url_weight():
    assert status_length("https://example.com/x", chars_per_url=30) == 30


# --------------------------------------------------------------------------- limits from the instance


def test_limits_are_read_from_the_instance(emulator):
    emulated(emulator).configure_instance("big.example", statuses={"max_characters": 1000})
    big = provider_for("mastodon", server="big.example")
    stock = provider_for("mastodon", server=INSTANCE)
    variant = Variant(text="a" * 900)

    on_big = big.validate(variant)
    on_stock = stock.validate(variant)

    assert on_big.is_valid and on_big.length == 900 and on_big.max_length == 1000
    assert not on_stock.is_valid and on_stock.max_length == 500
    assert not big.validate(Variant(text="a" * 1001)).is_valid


def test_limits_are_cached_per_instance(emulator):
    provider = provider_for("mastodon", server=INSTANCE)
    provider.validate(Variant(text="one"))
    provider_for("mastodon", server=INSTANCE).validate(Variant(text="two"))

    reads = [r for r in emulator.requests(platform="mastodon") if r["operation"] == "instance_info"]
    assert len(reads) == 1


def test_url_weight_and_media_limits_come_from_the_instance(emulator):
    emulated(emulator).configure_instance(
        "small.example",
        statuses={"characters_reserved_per_url": 30, "max_media_attachments": 2},
        media_attachments={"image_size_limit": 1000},
    )
    provider = provider_for("mastodon", server="small.example")

    assert provider.validate(Variant(text="https://example.com")).length == 30
    image = Media(content_type="image/png", size=10, data=b"x" * 10, alt_text="dot")
    assert not provider.validate(Variant(text="three", media=(image,) * 3)).is_valid
    big_image = Media(content_type="image/png", size=2000, data=b"x" * 2000, alt_text="dot")
    assert not provider.validate(Variant(text="big", media=(big_image,))).is_valid


def test_a_link_is_appended_to_the_text_and_counted(emulator):
    provider = provider_for("mastodon", server=INSTANCE)
    variant = Variant(text="Read this", link="https://example.com/article")

    assert provider.status_text(variant) == "Read this\n\nhttps://example.com/article"
    assert provider.validate(variant).length == len("Read this\n\n") + 23
    assert provider.status_text(Variant(text="At https://e.com/x", link="https://e.com/x")) == "At https://e.com/x"


@pytest.mark.parametrize(
    ("media", "message"),
    [
        ((Media(content_type="image/png", size=10, data=b"x", alt_text="a"),) * 5, "allows 4"),
        (
            (
                Media(content_type="video/mp4", size=10, data=b"x", alt_text="a"),
                Media(content_type="image/png", size=10, data=b"x", alt_text="a"),
            ),
            "only attachment",
        ),
        ((Media(content_type="application/pdf", size=10, data=b"x", alt_text="a"),), "not supported"),
        ((Media(content_type="image/png", size=17 * 1024 * 1024, data=b"x", alt_text="a"),), "the limit is 16.0 MB"),
        ((Media(content_type="image/png", size=10, data=b"x", alt_text="a" * 1501),), "description is longer"),
    ],
)
def test_media_that_the_instance_refuses_is_blocking(emulator, media, message):
    result = provider_for("mastodon", server=INSTANCE).validate(Variant(text="media", media=media))

    assert not result.is_valid
    assert any(message in issue.message for issue in result.issues if issue.is_blocking)


def test_missing_alt_text_is_only_a_warning(emulator):
    image = Media(content_type="image/png", size=10, data=b"x")
    result = provider_for("mastodon", server=INSTANCE).validate(Variant(text="pic", media=(image,)))

    assert result.is_valid
    assert [issue.message for issue in result.issues] == ["Attachment 1 has no description (alt text)."]


def test_an_unreachable_instance_falls_back_to_the_defaults_with_a_warning(emulator):
    provider = MastodonProvider(ProviderConfig(api_base=f"{emulator.base_url}/nowhere"))

    result = provider.validate(Variant(text="a" * 501))

    assert result.max_length == 500 and not result.is_valid
    assert any(not issue.is_blocking and "defaults" in issue.message for issue in result.issues)


def test_instance_limits_keep_defaults_for_missing_values():
    limits = InstanceLimits.from_instance(
        {"domain": "x.example", "configuration": {"statuses": {"max_characters": 5000}}}
    )

    assert limits.max_characters == 5000
    assert limits.characters_reserved_per_url == 23
    assert limits.max_media_attachments == 4
    assert limits.domain == "x.example" and not limits.is_default


# --------------------------------------------------------------------------- publishing


def test_publish_sends_the_handle_as_idempotency_key_and_a_repeat_makes_one_status(emulator):
    provider, credentials = connect()
    variant = Variant(text="Only once #letsgrow")
    handle = provider.prepare(credentials, variant)

    first = provider.publish(credentials, variant, handle=handle)
    second = provider.publish(credentials, variant, handle=handle)

    assert second == first
    assert len(statuses_of(emulator, credentials.account_id)) == 1
    posts = [r for r in emulator.requests(platform="mastodon", operation="create_status")]
    assert [r["headers"].get("Idempotency-Key") for r in posts] == [handle, handle]
    assert first.url == f"https://{INSTANCE}/@alice/{first.remote_id}"


def test_a_new_handle_makes_a_new_status(emulator):
    provider, credentials = connect()
    variant = Variant(text="Twice on purpose")

    first = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))
    second = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert first.remote_id != second.remote_id
    assert len(statuses_of(emulator, credentials.account_id)) == 2


def test_prepare_needs_no_call_and_gives_a_fresh_timestamped_key(emulator):
    provider, credentials = connect()
    before = len(emulator.requests(platform="mastodon"))

    one, two = provider.prepare(credentials, Variant(text="a")), provider.prepare(credentials, Variant(text="a"))

    assert one != two and one.startswith("lg-")
    assert abs(int(one.split("-")[1]) - time.time()) < 5
    assert len(emulator.requests(platform="mastodon")) == before


def test_the_status_body_is_json_with_text_visibility_and_media_ids(emulator):
    provider, credentials = connect()
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot")

    provider.publish(credentials, Variant(text="With a dot", media=(image,)), handle="k1")

    upload = emulator.requests(platform="mastodon", operation="upload_media")[0]
    assert upload["body"]["description"] == "A dot"
    assert upload["body"]["file"]["content_type"] == "image/png"
    body = emulator.requests(platform="mastodon", operation="create_status")[0]["body"]
    assert body == {"status": "With a dot", "visibility": "public", "media_ids": [upload_id(emulator)]}


def upload_id(emulator) -> str:
    return next(iter(emulator.store("mastodon")["media"]))


def test_text_only_statuses_send_no_media_ids(emulator):
    provider, credentials = connect()

    provider.publish(credentials, Variant(text="Just words"), handle="k2")

    assert emulator.requests(platform="mastodon", operation="create_status")[0]["body"] == {
        "status": "Just words",
        "visibility": "public",
    }


def test_a_video_is_polled_until_processed(emulator):
    emulated(emulator).configure_instance(INSTANCE, processing_seconds=0.5)
    provider, credentials = connect()
    provider.media_poll_delays = (0.3, 0.3, 0.3)
    video = Media(content_type="video/mp4", size=100, data=b"v" * 100, alt_text="A clip")

    result = provider.publish(credentials, Variant(text="A clip", media=(video,)), handle="k3")

    polls = emulator.requests(platform="mastodon", operation="show_media")
    assert [p["status"] for p in polls] == [206, 200]
    assert emulator.store("mastodon")["statuses"][result.remote_id]["media_ids"]


def test_media_still_processing_after_the_polls_is_transient(emulator):
    emulated(emulator).configure_instance(INSTANCE, processing_seconds=30)
    provider, credentials = connect()
    provider.media_poll_delays = (0.05, 0.05)
    video = Media(content_type="video/mp4", size=100, data=b"v" * 100, alt_text="A clip")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="A clip", media=(video,)), handle="k4")

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert statuses_of(emulator, credentials.account_id) == []


def test_media_without_bytes_is_fetched_from_its_url(emulator):
    provider, credentials = connect()
    image = Media(content_type="image/png", size=len(PNG), url=f"{emulator.base_url}/_media/dot.png", alt_text="dot")

    result = provider.publish(credentials, Variant(text="Fetched", media=(image,)), handle="k5")

    upload = emulator.requests(platform="mastodon", operation="upload_media")[0]
    assert upload["body"]["file"]["size"] == len(PNG)
    assert result.remote_id


# --------------------------------------------------------------------------- lookup


def test_lookup_finds_a_status_whose_text_mastodon_rendered_as_html(emulator):
    provider, credentials = connect()
    variant = Variant(
        text="Line one & <two>\n\nSee https://example.com/a/very/long/path?x=1&y=2 #LetsGrow\nthanks @bob@other.social"
    )
    handle = provider.prepare(credentials, variant)
    published = provider.publish(credentials, variant, handle=handle)

    found = provider.lookup(credentials, variant, handle=handle)

    assert found == published


def test_lookup_ignores_an_identical_status_older_than_the_handle(emulator):
    provider, credentials = connect()
    variant = Variant(text="Same words again")
    provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))
    later = int((datetime.now(tz=UTC) + timedelta(hours=1)).timestamp())

    assert provider.lookup(credentials, variant, handle=f"lg-{later}-{uuid.uuid4().hex}") is None


def test_lookup_matches_the_media_count_too(emulator):
    provider, credentials = connect()
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="dot")
    with_image = Variant(text="Picture post", media=(image,))
    handle = provider.prepare(credentials, with_image)
    provider.publish(credentials, with_image, handle=handle)

    assert provider.lookup(credentials, Variant(text="Picture post"), handle=handle) is None
    assert provider.lookup(credentials, with_image, handle=handle) is not None


def test_lookup_never_posts(emulator):
    provider, credentials = connect()
    variant = Variant(text="Never made")

    assert provider.lookup(credentials, variant, handle=provider.prepare(credentials, variant)) is None
    assert not [r for r in emulator.requests(platform="mastodon") if r["operation"] == "create_status"]


def test_lookup_reads_older_pages_back_to_the_handle_time(emulator):
    provider, credentials = connect()
    target = Variant(text="The one we lost")
    handle = provider.prepare(credentials, target)
    provider.publish(credentials, target, handle=handle)
    for n in range(45):  # push it onto the second page of 40
        other = Variant(text=f"Filler {n}")
        provider.publish(credentials, other, handle=provider.prepare(credentials, other))

    found = provider.lookup(credentials, target, handle=handle)

    assert found is not None
    listings = emulator.requests(platform="mastodon", operation="account_statuses")
    assert len(listings) == 2 and "max_id" in listings[1]["query"]


# --------------------------------------------------------------------------- delete and metrics


def test_delete_twice_is_fine(emulator):
    provider, credentials = connect()
    result = provider.publish(credentials, Variant(text="Short-lived"), handle="k6")

    provider.delete(credentials, result.remote_id)
    provider.delete(credentials, result.remote_id)

    assert statuses_of(emulator, credentials.account_id) == []


def test_metrics_are_read_in_batches_and_deleted_statuses_are_left_out(emulator):
    provider, credentials = connect()
    provider.metrics_batch_size = 2
    ids = [provider.publish(credentials, Variant(text=f"Counted {n}"), handle=f"m{n}").remote_id for n in range(3)]
    provider.delete(credentials, ids[0])

    snapshots = provider.fetch_metrics(credentials, ids)

    assert sorted(s.remote_id for s in snapshots) == sorted(ids[1:])
    assert all(s.impressions is None and s.views is None for s in snapshots)
    calls = emulator.requests(platform="mastodon", operation="statuses")
    assert len(calls) == 2


def test_metrics_grow_with_time(emulator):
    provider, credentials = connect()
    remote_id = provider.publish(credentials, Variant(text="Popular"), handle="k7").remote_id
    record = emulated(emulator).data()["statuses"][remote_id]
    record["created_ts"] -= 3600  # an hour old

    (snapshot,) = provider.fetch_metrics(credentials, [remote_id])

    assert snapshot.likes > 0 and snapshot.reposts > 0 and snapshot.replies > 0


# --------------------------------------------------------------------------- errors


def fake_response(status: int, body: dict | None = None, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (json.dumps(body) if body is not None else "").encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    return response


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": "The access token is invalid"}, ErrorKind.AUTH_EXPIRED),
        (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, ErrorKind.INVALID_CONTENT),
        (
            422,
            {"error": "Cannot attach files that have not finished processing. Try again in a moment!"},
            ErrorKind.TRANSIENT,
        ),
        (503, {"error": "Remote data could not be fetched"}, ErrorKind.TRANSIENT),
        (500, {"error": "We're sorry, but something went wrong on our end."}, ErrorKind.TRANSIENT),
        (
            400,
            {"error": "invalid_grant", "error_description": "The provided authorization grant is invalid"},
            ErrorKind.AUTH_EXPIRED,
        ),
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}, ErrorKind.AUTH_EXPIRED),
        (403, {"error": "This action is outside the authorized scopes"}, ErrorKind.AUTH_EXPIRED),
        (403, {"error": "This action is not allowed"}, ErrorKind.PERMANENT),
        (404, {"error": "Record not found"}, ErrorKind.PERMANENT),
    ],
)
def test_errors_are_classified(status, body, kind):
    provider = MastodonProvider(ProviderConfig(api_base="https://mastodon.example"))

    error = provider.classify(fake_response(status, body))

    assert error.kind is kind
    assert error.status == status
    assert body["error"][:20] in error.message or (body.get("error_description") or "")[:20] in error.message


def test_retry_after_comes_from_the_iso_8601_reset():
    provider = MastodonProvider(ProviderConfig(api_base="https://mastodon.example"))
    reset = (datetime.now(tz=UTC) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    error = provider.classify(fake_response(429, {"error": "Too many requests"}, {"X-RateLimit-Reset": reset}))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert 85 <= error.retry_after <= 90


def test_a_5xx_ignores_the_rate_limit_reset_and_reads_retry_after():
    provider = MastodonProvider(ProviderConfig(api_base="https://mastodon.example"))
    reset = (datetime.now(tz=UTC) + timedelta(minutes=4)).isoformat()

    error = provider.classify(fake_response(503, {"error": "x"}, {"X-RateLimit-Reset": reset, "Retry-After": "7"}))

    assert error.retry_after == 7


def test_the_emulated_rate_limit_gives_retry_after_from_its_reset(emulator):
    provider, credentials = connect()
    emulator.inject_fault("mastodon", "rate_limit", operation="publish", retry_after=120)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Too fast"), handle="k8")

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert 115 <= caught.value.retry_after <= 120


def test_a_too_long_status_is_refused_by_the_server_as_invalid(emulator):
    provider, credentials = connect()

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="y" * 501), handle="k9")

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert "character limit of 500" in caught.value.message


def test_refresh_is_refused_as_auth_expired(emulator):
    provider, credentials = connect()

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED


# --------------------------------------------------------------------------- connecting


def test_a_wrong_pkce_verifier_fails(emulator):
    provider = register()
    verifier = new_code_verifier()
    url = provider.authorization_url(state="s", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(verifier))
    code = consent(url, username="mallory")["code"]

    with pytest.raises(ProviderError) as caught:
        provider.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=new_code_verifier())

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert caught.value.status == 400
    # The code was used up by the failed attempt: the right verifier no longer helps.
    with pytest.raises(ProviderError):
        provider.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)


def test_a_missing_pkce_verifier_fails(emulator):
    provider = register()
    url = provider.authorization_url(
        state="s", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(new_code_verifier())
    )
    code = consent(url, username="mallory")["code"]

    with pytest.raises(ProviderError):
        provider.exchange_code(code=code, redirect_uri=REDIRECT_URI)


def test_the_authorization_url_asks_for_s256_state_and_our_scopes(emulator):
    provider = register()

    url = provider.authorization_url(state="abc", redirect_uri=REDIRECT_URI, code_challenge="chal")

    query = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(f"{emulator.base_url}/mastodon/{INSTANCE}/oauth/authorize?")
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == "chal"
    assert query["state"] == "abc" and query["response_type"] == "code"
    assert query["scope"] == "read:accounts write:statuses write:media read:statuses"
    assert query["client_id"] == provider.config.client_id


def test_an_app_registered_on_one_instance_is_unknown_on_another(emulator):
    provider = register("one.example")
    elsewhere = provider_for(
        "mastodon",
        server="two.example",
        client_id=provider.config.client_id,
        client_secret=provider.config.client_secret,
    )

    page = requests.get(elsewhere.authorization_url(state="s", redirect_uri=REDIRECT_URI), timeout=5)

    assert page.status_code == 401


def test_a_token_works_only_on_its_own_instance(emulator):
    _provider, credentials = connect("one.example")
    other = provider_for("mastodon", server="two.example")

    with pytest.raises(ProviderError) as caught:
        other.publish(credentials, Variant(text="Wrong server"), handle="k10")

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED


def test_fetch_accounts_names_the_account_and_its_instance(emulator):
    provider = register()
    verifier = new_code_verifier()
    url = provider.authorization_url(state="s", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(verifier))
    code = consent(url, username="carol_k")["code"]
    tokens = provider.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)

    (profile,) = provider.fetch_accounts(tokens)

    assert profile.handle == f"@carol_k@{INSTANCE}"
    assert profile.display_name == "Carol K"
    assert profile.config == {"instance": INSTANCE}
    assert profile.tokens is tokens and tokens.expires_at is None and tokens.refresh_token == ""
    assert profile.avatar_url.startswith(emulator.base_url)


def test_the_server_host_is_the_instance_on_the_real_network_too():
    config = ProviderConfig(api_base="https://mastodon.social")

    assert MastodonProvider(config).server_host() == "mastodon.social"


def test_revoke_makes_the_token_useless(emulator):
    provider, credentials = connect()

    provider.revoke(credentials)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="After revoke"), handle="k11")
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert credentials.access_token not in caught.value.message


def test_the_same_username_on_two_instances_is_two_accounts(emulator):
    _p1, one = connect("one.example", "dana")
    _p2, two = connect("two.example", "dana")

    assert one.account_id != two.account_id
