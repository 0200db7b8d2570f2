"""Instagram against the emulator: containers, exactly-once publishing, lookup, metrics, errors.

The contract test publishes text-only posts, which Instagram cannot make; these are its
image versions (plus the container behaviour only Instagram and Threads have).
"""

from __future__ import annotations

import time

import pytest

from publishing.emulator.platforms.instagram import InstagramEmulator
from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, TokenSet, Variant
from publishing.tests.test_provider_contract import PNG, connect

pytestmark = pytest.mark.django_db
SLUG = "instagram"


def image(emulator, name: str = "pixel.png") -> Media:
    return Media(
        content_type="image/png", size=len(PNG), data=PNG, url=f"{emulator.base_url}/_media/{name}", alt_text="A dot"
    )


def post(emulator, n: int, **kwargs) -> Variant:
    return Variant(text=f"Instagram test post {n} #letsgrow", media=(image(emulator),), **kwargs)


def calls(emulator, operation: str) -> list[dict]:
    return emulator.requests(platform=SLUG, operation=operation)


def containers(emulator) -> dict:
    return emulator.app.state.store(SLUG).setdefault("containers", {})


def test_connecting_lists_only_pages_with_an_instagram_account(emulator):
    provider, credentials = connect(SLUG, "maria_shop")

    profiles = provider.fetch_accounts(TokenSet(access_token=credentials.access_token))

    assert len(profiles) == 1
    assert profiles[0].handle == "maria_shop"
    assert profiles[0].account_id == credentials.account_id
    assert profiles[0].config["username"] == "maria_shop"
    assert profiles[0].config["page_id"]
    assert profiles[0].tokens is None  # Instagram calls use the user token


def test_the_connection_holds_a_long_lived_token(emulator):
    _, credentials = connect(SLUG)

    assert credentials.expires_at is not None
    assert credentials.expires_at.timestamp() - time.time() > 59 * 24 * 3600


def test_prepare_creates_the_container_and_publish_uses_it(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 1)

    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    created = calls(emulator, "create_container")
    published = calls(emulator, "publish_container")
    assert len(created) == 1 and created[0]["status"] == 200
    assert created[0]["body"]["image_url"].endswith("/_media/pixel.png")
    assert created[0]["body"]["caption"] == variant.text
    assert created[0]["body"]["alt_text"] == "A dot"
    assert len(published) == 1 and published[0]["query"]["creation_id"] == handle
    assert all(r["account"] == credentials.account_id for r in created + published)
    assert result.url.startswith("https://www.instagram.com/p/")
    assert emulator.app.state.store(SLUG)["media"][result.remote_id]["container_id"] == handle


def test_publish_waits_while_the_container_is_in_progress(emulator, monkeypatch):
    provider, credentials = connect(SLUG)
    monkeypatch.setattr(InstagramEmulator, "processing_seconds", 0.6)
    waits: list[float] = []
    monkeypatch.setattr(provider, "sleep", lambda seconds: (waits.append(seconds), time.sleep(seconds)))
    variant = post(emulator, 2)
    handle = provider.prepare(credentials, variant)

    provider.publish(credentials, variant, handle=handle)

    statuses = [r for r in calls(emulator, "get_node") if r["query"].get("fields") == "status_code,status"]
    assert len(statuses) == len(waits) + 1
    assert waits and waits[0] == 0.25


def test_a_container_still_processing_at_the_deadline_is_transient_and_not_published(emulator, monkeypatch):
    provider, credentials = connect(SLUG)
    monkeypatch.setattr(InstagramEmulator, "processing_seconds", 60.0)
    monkeypatch.setattr(type(provider), "container_wait_seconds", 0.5)
    variant = post(emulator, 3)
    handle = provider.prepare(credentials, variant)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.maybe_sent is False
    assert calls(emulator, "publish_container") == []


def test_an_expired_container_is_permanent_and_lookup_finds_nothing(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 4)
    handle = provider.prepare(credentials, variant)
    containers(emulator)[handle]["created_at"] -= 25 * 3600

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.kind is ErrorKind.PERMANENT
    assert "expired" in caught.value.message
    assert provider.lookup(credentials, variant, handle=handle) is None
    assert calls(emulator, "publish_container") == []


def test_a_container_in_error_is_invalid_content(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 5)
    handle = provider.prepare(credentials, variant)
    containers(emulator)[handle]["error"] = "Unsupported image format"

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert "Unsupported image format" in caught.value.message


def test_lookup_after_a_lost_response_finds_the_post_through_its_container(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 6)
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(SLUG, "lost_response", operation="publish")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.maybe_sent is True
    found = provider.lookup(credentials, variant, handle=handle)
    media = emulator.app.state.store(SLUG)["media"]
    assert found is not None
    assert media[found.remote_id]["container_id"] == handle
    assert found.url == media[found.remote_id]["permalink"]
    # A container never published is not found, even though a post with other text exists.
    other = post(emulator, 7)
    assert provider.lookup(credentials, other, handle=provider.prepare(credentials, other)) is None


def test_publishing_a_published_container_again_returns_the_post_without_a_second_publish(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 8)
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(SLUG, "lost_response", operation="publish")
    with pytest.raises(ProviderError):
        provider.publish(credentials, variant, handle=handle)

    again = provider.publish(credentials, variant, handle=handle)

    assert len(calls(emulator, "publish_container")) == 1
    assert len(emulator.app.state.store(SLUG)["media"]) == 1
    assert again.remote_id in emulator.app.state.store(SLUG)["media"]


def test_lookup_without_a_handle_matches_the_caption(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 9)
    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert provider.lookup(credentials, variant) == result
    assert provider.lookup(credentials, post(emulator, 10)) is None


def test_media_the_platform_cannot_fetch_is_invalid_content(emulator):
    provider, credentials = connect(SLUG)
    remote = Media(content_type="image/jpeg", size=10, url="https://cdn.example.com/a.jpg")
    variant = Variant(text="Unreachable image", media=(remote,))

    with pytest.raises(ProviderError) as caught:
        provider.prepare(credentials, variant)

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert "(code 9004, subcode 2207052)" in caught.value.message
    assert containers(emulator) == {}


def test_a_carousel_creates_children_then_the_parent(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Two dots", media=(image(emulator, "a.png"), image(emulator, "b.png")))

    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    bodies = [r["body"] for r in calls(emulator, "create_container")]
    assert [b.get("is_carousel_item") for b in bodies] == ["true", "true", None]
    assert bodies[2]["media_type"] == "CAROUSEL"
    assert bodies[2]["children"].split(",") == [c for c in containers(emulator) if c != handle]
    assert emulator.app.state.store(SLUG)["media"][result.remote_id]["media_type"] == "CAROUSEL_ALBUM"


def test_a_single_video_is_published_as_a_reel(emulator):
    provider, credentials = connect(SLUG)
    clip = Media(content_type="video/mp4", size=1000, url=f"{emulator.base_url}/_media/clip.mp4")
    variant = Variant(text="A reel", media=(clip,))

    provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    body = calls(emulator, "create_container")[0]["body"]
    assert body["media_type"] == "REELS"
    assert body["video_url"].endswith("/_media/clip.mp4")
    assert "alt_text" not in body  # images only


def test_metrics_for_published_posts_grow_with_time(emulator):
    provider, credentials = connect(SLUG)
    ids = []
    for n in (11, 12):
        variant = post(emulator, n)
        ids.append(provider.publish(credentials, variant, handle=provider.prepare(credentials, variant)).remote_id)
    for media in emulator.app.state.store(SLUG)["media"].values():
        media["published_at"] -= 3600

    snapshots = provider.fetch_metrics(credentials, [*ids, "17912999999999999"])

    assert sorted(s.remote_id for s in snapshots) == sorted(ids)  # the unknown id is left out
    for snapshot in snapshots:
        assert snapshot.views >= 7200
        assert snapshot.likes > 0 and snapshot.replies > 0 and snapshot.reposts > 0
        assert snapshot.impressions is None
        assert set(snapshot.extra) == {"reach", "saved", "shares", "total_interactions"}
    assert calls(emulator, "insights")[0]["query"]["metric"] == (
        "views,reach,likes,comments,shares,saved,total_interactions"
    )


ERRORS = [
    ("expired_token", ErrorKind.AUTH_EXPIRED),
    ("rate_limit", ErrorKind.RATE_LIMITED),
    ("duplicate", ErrorKind.DUPLICATE),
    ("invalid", ErrorKind.INVALID_CONTENT),
    ("server_error", ErrorKind.TRANSIENT),
]


@pytest.mark.parametrize(("fault", "kind"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_error_class_is_recognised_on_an_image_post(emulator, fault, kind):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 20)
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(SLUG, fault, operation="publish", retry_after=42)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.kind is kind
    assert caught.value.maybe_sent is False
    if kind is ErrorKind.RATE_LIMITED:
        assert caught.value.retry_after == pytest.approx(42.0)
    assert credentials.access_token not in caught.value.message
    assert emulator.app.state.store(SLUG).get("media", {}) == {}


def test_the_24_hour_publishing_limit_is_rate_limited(emulator):
    provider, credentials = connect(SLUG)
    emulator.app.state.store(SLUG).setdefault("publishes", {})[credentials.account_id] = [time.time() - 60] * 50
    variant = post(emulator, 21)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert provider.publishing_quota(credentials) == (50, 50)
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert "subcode 2207042" in caught.value.message


def test_refresh_gives_working_credentials_for_an_image_post(emulator):
    provider, credentials = connect(SLUG)
    emulator.expire_tokens(SLUG, credentials.account_id)

    tokens = provider.refresh_credentials(credentials)

    assert tokens.access_token != credentials.access_token
    assert tokens.expires_at is not None
    fresh = Credentials(access_token=tokens.access_token, account_id=credentials.account_id, config=credentials.config)
    variant = post(emulator, 30)
    assert provider.publish(fresh, variant, handle=provider.prepare(fresh, variant)).remote_id
    exchange = calls(emulator, "access_token")[-1]
    assert exchange["query"]["grant_type"] == "fb_exchange_token"


def test_delete_is_refused_as_permanent_and_the_post_stays(emulator):
    provider, credentials = connect(SLUG)
    variant = post(emulator, 50)
    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    with pytest.raises(ProviderError) as caught:
        provider.delete(credentials, result.remote_id)

    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.message == "Instagram does not let apps delete posts; delete it in the app."
    assert provider.lookup(credentials, variant, handle=handle) == result
