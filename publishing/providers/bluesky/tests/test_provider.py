"""BlueskyProvider against the emulator over real HTTP: length, record keys, lookup, refresh, blobs, errors."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
import requests

from publishing.emulator.core import now
from publishing.platforms import provider_for
from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, Variant
from publishing.providers.bluesky.provider import TID_ALPHABET, TID_PATTERN, BlueskyProvider, new_tid, split_at_uri

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 1 grapheme, 25 bytes
THUMB_MEDIUM = "\U0001f44d\U0001f3fd"  # 1 grapheme, 8 bytes
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def connect(handle: str = "alice.bsky.social") -> tuple[BlueskyProvider, Credentials]:
    provider = provider_for("bluesky")
    assert isinstance(provider, BlueskyProvider)
    profile = provider.login(identifier=handle, password=APP_PASSWORD)
    assert profile.tokens is not None
    credentials = Credentials(
        access_token=profile.tokens.access_token,
        refresh_token=profile.tokens.refresh_token,
        expires_at=profile.tokens.expires_at,
        account_id=profile.account_id,
        config=profile.config,
    )
    return provider, credentials


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def xrpc(emulator, method: str, nsid: str, *, token: str = "", **kwargs) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{emulator.url('bluesky')}/xrpc/{nsid}", headers=headers, timeout=5, **kwargs)


def created(emulator) -> list[dict]:
    return emulator.requests(platform="bluesky", operation="create_record")


def stored_record(emulator, uri: str) -> dict:
    return emulator.store("bluesky")["records"][uri]


# --------------------------------------------------------------------------- login


def test_login_returns_the_did_the_tokens_and_the_pds(emulator):
    _provider, credentials = connect("alice.bsky.social")

    assert credentials.account_id.startswith("did:plc:")
    assert credentials.config == {
        "did": credentials.account_id,
        "handle": "alice.bsky.social",
        "pds": emulator.url("bluesky"),
    }
    assert credentials.access_token != credentials.refresh_token
    # The access JWT's own expiry (120 minutes) is what we plan the refresh by.
    assert timedelta(minutes=118) < credentials.expires_at - now() <= timedelta(minutes=120)
    [session] = emulator.requests(platform="bluesky", operation="create_session")
    assert session["body"] == {"identifier": "alice.bsky.social", "password": APP_PASSWORD}
    assert session["account"] == credentials.account_id


def test_login_shows_the_display_name_from_the_appview(emulator):
    provider = provider_for("bluesky")

    profile = provider.login(identifier="@carol-smith.bsky.social", password=APP_PASSWORD)

    assert profile.handle == "carol-smith.bsky.social"
    assert profile.display_name == "Carol Smith"
    assert profile.avatar_url.startswith("http")


def test_a_password_that_is_no_app_password_is_refused(emulator):
    provider = provider_for("bluesky")

    with pytest.raises(ProviderError) as caught:
        provider.login(identifier="alice.bsky.social", password="my-real-password")

    assert caught.value.status == 401
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert "Invalid identifier or password" in caught.value.message
    assert "my-real-password" not in caught.value.message


# --------------------------------------------------------------------------- length


def test_300_graphemes_of_multi_codepoint_emoji_are_valid_and_301_are_not(emulator):
    provider, credentials = connect()
    ok = Variant(text=FAMILY + THUMB_MEDIUM * 299)  # 300 graphemes, 25 + 2392 bytes
    too_long = Variant(text=FAMILY + THUMB_MEDIUM * 300)

    assert len(ok.text) == 7 + 2 * 299  # code points are not what counts
    assert provider.validate(ok).length == 300
    assert provider.validate(ok).is_valid
    assert provider.validate(too_long).length == 301
    assert not provider.validate(too_long).is_valid

    result = provider.publish(credentials, ok, handle=provider.prepare(credentials, ok))
    assert stored_record(emulator, result.remote_id)["value"]["text"] == ok.text

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, too_long, handle=provider.prepare(credentials, too_long))
    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert len(created(emulator)) == 1  # refused before any call


def test_the_emulator_refuses_301_graphemes_like_the_pds(emulator):
    _provider, credentials = connect()
    record = {"$type": "app.bsky.feed.post", "text": FAMILY * 301, "createdAt": "2026-01-01T00:00:00.000Z"}

    answer = xrpc(
        emulator,
        "POST",
        "com.atproto.repo.createRecord",
        token=credentials.access_token,
        json={"repo": credentials.account_id, "collection": "app.bsky.feed.post", "record": record},
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidRequest"
    assert "grapheme too big (maximum 300, got 301)" in answer.json()["message"]


def test_more_than_3000_bytes_is_invalid_even_under_300_graphemes(emulator):
    provider = provider_for("bluesky")
    variant = Variant(text=FAMILY * 121)  # 121 graphemes, 3025 bytes

    result = provider.validate(variant)

    assert result.length == 121
    assert not result.is_valid
    assert "3000 bytes" in result.issues[0].message


def test_the_link_is_appended_and_counted(emulator):
    provider = provider_for("bluesky")
    variant = Variant(text="a" * 280, link="https://example.com/page")

    result = provider.validate(variant)

    assert provider.post_text(variant) == "a" * 280 + "\n\nhttps://example.com/page"
    assert result.length == 280 + 2 + 24
    assert not result.is_valid
    assert provider.post_text(Variant(text="see https://example.com/page", link="https://example.com/page")) == (
        "see https://example.com/page"
    )


# --------------------------------------------------------------------------- record keys and lookup


def test_prepare_chooses_a_tid_without_calling_the_platform(emulator):
    provider, credentials = connect()
    before = len(emulator.requests(platform="bluesky"))

    keys = [provider.prepare(credentials, Variant(text="x")) for _ in range(200)]

    assert len(emulator.requests(platform="bluesky")) == before
    assert all(TID_PATTERN.match(key) for key in keys)
    assert keys == sorted(keys)  # base32-sortable: later keys sort later
    assert len(set(keys)) == len(keys)
    value = 0
    for char in keys[0]:
        value = value * 32 + TID_ALPHABET.index(char)
    assert value >> 63 == 0  # the top bit is always 0
    assert abs((value >> 10) / 1e6 - time.time()) < 5  # 53 bits of microseconds since the epoch


def test_publish_uses_the_saved_key(emulator):
    provider, credentials = connect()
    variant = Variant(text="Exactly once #letsgrow")
    rkey = provider.prepare(credentials, variant)

    result = provider.publish(credentials, variant, handle=rkey)

    assert split_at_uri(result.remote_id) == (credentials.account_id, "app.bsky.feed.post", rkey)
    assert result.url == f"https://bsky.app/profile/alice.bsky.social/post/{rkey}"
    [call] = created(emulator)
    assert call["body"]["rkey"] == rkey
    assert call["body"]["repo"] == credentials.account_id


def test_lookup_by_key_finds_the_post_and_nothing_else(emulator):
    provider, credentials = connect()
    variant = Variant(text="Find me")
    rkey = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=rkey)

    found = provider.lookup(credentials, variant, handle=rkey)

    assert found == result
    assert provider.lookup(credentials, variant, handle=new_tid()) is None
    lookups = emulator.requests(platform="bluesky", operation="get_record")
    assert lookups[0]["query"] == {"repo": credentials.account_id, "collection": "app.bsky.feed.post", "rkey": rkey}
    # Public reads carry no token.
    assert "Authorization" not in lookups[0]["headers"]


def test_lookup_without_a_key_matches_the_text_of_recent_posts(emulator):
    provider, credentials = connect()
    variant = Variant(text="Matched  by\ntext")
    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))
    provider.publish(credentials, Variant(text="another"), handle=provider.prepare(credentials, variant))

    assert provider.lookup(credentials, Variant(text="Matched by text")) == result
    assert provider.lookup(credentials, Variant(text="never posted")) is None


def test_the_same_key_twice_is_a_500_and_leaves_one_post(emulator):
    provider, credentials = connect()
    variant = Variant(text="Only once")
    rkey = provider.prepare(credentials, variant)
    provider.publish(credentials, variant, handle=rkey)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=rkey)

    assert caught.value.status == 500
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert len(emulator.store("bluesky")["records"]) == 1


def test_a_key_that_is_not_a_tid_is_refused_before_the_call(emulator):
    provider, credentials = connect()

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x"), handle="not-a-tid")

    assert caught.value.kind is ErrorKind.PERMANENT
    assert created(emulator) == []


def test_delete_then_lookup_is_none_and_deleting_again_succeeds(emulator):
    provider, credentials = connect()
    variant = Variant(text="Short-lived")
    rkey = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=rkey)

    provider.delete(credentials, result.remote_id)
    provider.delete(credentials, result.remote_id)

    assert provider.lookup(credentials, variant, handle=rkey) is None


# --------------------------------------------------------------------------- facets end to end


def test_published_facets_point_at_the_right_bytes(emulator):
    provider, credentials = connect()
    _bob_provider, bob = connect("bob.bsky.social")
    text = f"Déjà vu {FAMILY} → https://example.com/ünï?q=1 with @bob.bsky.social #café, @ghost.example.com"
    variant = Variant(text=text)

    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    record = stored_record(emulator, result.remote_id)["value"]
    encoded = record["text"].encode("utf-8")
    spans = [
        (encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"), f["features"][0])
        for f in record["facets"]
    ]
    assert spans == [
        (
            "https://example.com/ünï?q=1",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ünï?q=1"},
        ),
        ("@bob.bsky.social", {"$type": "app.bsky.richtext.facet#mention", "did": bob.account_id}),
        ("#café", {"$type": "app.bsky.richtext.facet#tag", "tag": "café"}),
    ]
    resolved = emulator.requests(platform="bluesky", operation="resolve_handle")
    assert [r["query"]["handle"] for r in resolved] == ["bob.bsky.social", "ghost.example.com"]
    assert [r["status"] for r in resolved] == [200, 400]


# --------------------------------------------------------------------------- images and blobs


def test_publish_with_an_image_uploads_a_blob_and_embeds_it(emulator):
    provider, credentials = connect()
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot", width=1, height=1)
    variant = Variant(text="Look", media=(image,))

    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    [upload] = emulator.requests(platform="bluesky", operation="upload_blob")
    assert upload["body"] == {"bytes": len(PNG), "content_type": "image/png"}
    embed = stored_record(emulator, result.remote_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    [entry] = embed["images"]
    assert entry["alt"] == "A dot"
    assert entry["aspectRatio"] == {"width": 1, "height": 1}
    assert entry["image"]["$type"] == "blob"
    assert entry["image"]["size"] == len(PNG)


def test_an_image_without_alt_text_is_a_warning_only(emulator):
    provider = provider_for("bluesky")
    image = Media(content_type="image/png", size=len(PNG), data=PNG)

    result = provider.validate(Variant(text="x", media=(image,)))

    assert result.is_valid
    assert [(i.field, i.is_blocking) for i in result.issues] == [("media", False)]


@pytest.mark.parametrize(("size", "valid"), [(2_000_000, True), (2_000_001, False)])
def test_images_may_be_up_to_2_mb(size, valid, emulator):
    provider = provider_for("bluesky")
    image = Media(content_type="image/jpeg", size=size, alt_text="big")

    assert provider.validate(Variant(text="x", media=(image,))).is_valid is valid


def test_more_than_four_images_or_a_video_are_invalid(emulator):
    provider = provider_for("bluesky")
    image = Media(content_type="image/png", size=10, alt_text="a")
    video = Media(content_type="video/mp4", size=10)

    assert not provider.validate(Variant(text="x", media=(image,) * 5)).is_valid
    assert provider.validate(Variant(text="x", media=(image,) * 4)).is_valid
    assert not provider.validate(Variant(text="x", media=(video,))).is_valid


def test_an_oversized_image_is_refused_before_uploading(emulator):
    provider, credentials = connect()
    big = bytes(2_000_001)
    image = Media(content_type="image/jpeg", size=len(big), data=big, alt_text="big")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x", media=(image,)), handle=new_tid())

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert emulator.requests(platform="bluesky", operation="upload_blob") == []


def test_the_emulator_refuses_a_record_with_a_blob_over_2_mb(emulator):
    provider, credentials = connect()
    upload = xrpc(
        emulator,
        "POST",
        "com.atproto.repo.uploadBlob",
        token=credentials.access_token,
        data=bytes(2_000_001),
        headers={"Content-Type": "image/jpeg"},
    )
    assert upload.status_code == 200  # the PDS takes up to 5 MB; the limit applies where a record uses it
    record = {
        "$type": "app.bsky.feed.post",
        "text": "big",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "embed": {"$type": "app.bsky.embed.images", "images": [{"image": upload.json()["blob"], "alt": "big"}]},
    }

    answer = xrpc(
        emulator,
        "POST",
        "com.atproto.repo.createRecord",
        token=credentials.access_token,
        json={"repo": credentials.account_id, "collection": "app.bsky.feed.post", "record": record},
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "BlobTooLarge"
    assert provider.classify(answer).kind is ErrorKind.INVALID_CONTENT
    assert "records" not in emulator.store("bluesky") or not emulator.store("bluesky")["records"]


def test_a_lost_upload_answer_is_not_a_maybe_sent_post(emulator):
    provider, credentials = connect()
    emulator.inject_fault("bluesky", "lost_response", operation="upload")
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x", media=(image,)), handle=new_tid())

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.maybe_sent is False
    assert created(emulator) == []


# --------------------------------------------------------------------------- sessions


def test_refresh_rotates_and_the_old_token_has_a_grace_period(emulator):
    provider, credentials = connect()
    emulator.expire_tokens("bluesky", credentials.account_id)

    first = provider.refresh_credentials(credentials)

    assert first.access_token != credentials.access_token
    assert first.refresh_token != credentials.refresh_token
    # A second worker refreshing with the old token at the same time still succeeds.
    second = provider.refresh_credentials(credentials)
    assert second.access_token not in (credentials.access_token, first.access_token)
    for tokens in (first, second):
        fresh = Credentials(
            access_token=tokens.access_token, account_id=credentials.account_id, config=credentials.config
        )
        assert provider.publish(fresh, Variant(text="after refresh"), handle=new_tid()).remote_id
    # Both rotations continue the same session: the newest refresh token keeps working.
    assert provider.refresh_credentials(
        Credentials(access_token="", refresh_token=second.refresh_token, config=credentials.config)
    ).access_token

    # Two hours later the grace period is over: the old refresh token is refused.
    old = emulator.app.state.store("bluesky")["sessions"][jwt_claims(credentials.refresh_token)["jti"]]
    old["expires_at"] = (now() - timedelta(seconds=1)).isoformat()
    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert caught.value.status == 400
    assert "ExpiredToken" in caught.value.message
    assert provider.refresh_credentials(
        Credentials(access_token="", refresh_token=first.refresh_token, config=credentials.config)
    ).access_token


def test_an_expired_access_token_is_a_400_and_auth_expired(emulator):
    provider, credentials = connect()
    emulator.expire_tokens("bluesky", credentials.account_id)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x"), handle=new_tid())

    assert caught.value.status == 400
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert "ExpiredToken" in caught.value.message
    assert credentials.access_token not in caught.value.message


def test_a_malformed_token_is_auth_expired(emulator):
    provider, credentials = connect()
    broken = Credentials(access_token="not.a.token", account_id=credentials.account_id, config=credentials.config)

    with pytest.raises(ProviderError) as caught:
        provider.publish(broken, Variant(text="x"), handle=new_tid())

    assert caught.value.status == 400
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED


def test_an_access_token_cannot_refresh(emulator):
    provider, credentials = connect()
    wrong = Credentials(access_token="", refresh_token=credentials.access_token, config=credentials.config)

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(wrong)

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED


def test_revoke_ends_the_session(emulator):
    provider, credentials = connect()

    provider.revoke(credentials)

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    provider.revoke(credentials)  # revoking a dead session is not an error


# --------------------------------------------------------------------------- rate limits and metrics


def test_a_rate_limit_waits_until_ratelimit_reset(emulator):
    provider, credentials = connect()
    emulator.inject_fault("bluesky", "rate_limit", operation="publish", retry_after=120)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x"), handle=new_tid())

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert 110 <= caught.value.retry_after <= 121


def test_metrics_grow_with_time_and_come_in_batches_of_25(emulator):
    provider, credentials = connect()
    uris = [provider.publish(credentials, Variant(text=f"post {n}"), handle=new_tid()).remote_id for n in range(27)]
    records = emulator.app.state.store("bluesky")["records"]
    records[uris[0]]["indexedAt"] = (now() - timedelta(hours=1)).isoformat()

    snapshots = {s.remote_id: s for s in provider.fetch_metrics(credentials, uris)}

    assert sorted(snapshots) == sorted(uris)
    old = snapshots[uris[0]]
    assert old.likes >= 30 and old.reposts >= 5 and old.replies >= 3 and old.quotes >= 1
    assert old.impressions is None
    assert snapshots[uris[1]].likes == 0
    calls = emulator.requests(platform="bluesky", operation="get_posts")
    assert len(calls) == 2
    assert all("Authorization" not in call["headers"] for call in calls)  # the AppView is public


def test_metrics_leave_out_deleted_posts(emulator):
    provider, credentials = connect()
    kept = provider.publish(credentials, Variant(text="kept"), handle=new_tid()).remote_id
    gone = provider.publish(credentials, Variant(text="gone"), handle=new_tid()).remote_id
    provider.delete(credentials, gone)

    assert [s.remote_id for s in provider.fetch_metrics(credentials, [kept, gone])] == [kept]
