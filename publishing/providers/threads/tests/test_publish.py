"""Threads against the emulator: tokens, containers, exactly-once publishing, lookup, delete, metrics."""

from __future__ import annotations

import time

import pytest

from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, Variant
from publishing.tests.test_provider_contract import PNG, connect

pytestmark = pytest.mark.django_db
SLUG = "threads"


def calls(emulator, operation: str) -> list[dict]:
    return emulator.requests(platform=SLUG, operation=operation)


def test_connecting_exchanges_the_hour_token_for_a_60_day_token(emulator):
    _, credentials = connect(SLUG, "lena")

    assert credentials.account_id
    assert credentials.config == {"username": "lena"}
    assert credentials.expires_at.timestamp() - time.time() > 59 * 24 * 3600
    assert calls(emulator, "access_token")[0]["body"]["grant_type"] == "authorization_code"
    assert calls(emulator, "exchange_token")[0]["query"]["grant_type"] == "th_exchange_token"


def test_prepare_creates_the_container_and_publish_uses_it(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Hello Threads")

    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    created, published = calls(emulator, "create_container"), calls(emulator, "publish_container")
    assert [c["body"] for c in created] == [{"media_type": "TEXT", "text": "Hello Threads"}]
    assert len(published) == 1 and published[0]["query"]["creation_id"] == handle
    assert result.url.startswith("https://www.threads.com/@contract_user/post/")
    assert emulator.app.state.store(SLUG)["media"][result.remote_id]["container_id"] == handle


def test_a_500_character_post_with_an_emoji_is_accepted_by_threads(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="x" * 496 + "👍")

    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert result.remote_id


def test_threads_refuses_a_longer_post_and_more_than_five_links_at_creation(emulator):
    provider, credentials = connect(SLUG)
    too_long = Variant(text="x" * 497 + "👍")
    six_links = Variant(text=" ".join(f"https://site{n}.com" for n in range(6)))

    for variant in (too_long, six_links):
        with pytest.raises(ProviderError) as caught:
            provider.prepare(credentials, variant)  # validate would have said so; the platform agrees
        assert caught.value.kind is ErrorKind.INVALID_CONTENT

    assert "THREADS_API__LINK_LIMIT_EXCEEDED" in caught.value.message or "5 links" in caught.value.message
    assert emulator.app.state.store(SLUG).get("containers", {}) == {}


def test_an_image_post_sends_the_public_url(emulator):
    provider, credentials = connect(SLUG)
    image = Media(content_type="image/png", size=len(PNG), url=f"{emulator.base_url}/_media/p.png", alt_text="dot")
    variant = Variant(text="A picture", media=(image,))

    provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    body = calls(emulator, "create_container")[0]["body"]
    assert body == {"media_type": "IMAGE", "image_url": image.url, "alt_text": "dot", "text": "A picture"}


def test_lookup_after_a_lost_response_finds_the_post_through_its_container(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Lost and found")
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(SLUG, "lost_response", operation="publish")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.maybe_sent is True
    found = provider.lookup(credentials, variant, handle=handle)
    assert found is not None
    assert emulator.app.state.store(SLUG)["media"][found.remote_id]["container_id"] == handle
    status_reads = [r for r in calls(emulator, "get_node") if r["query"].get("fields") == "status,error_message"]
    assert status_reads[-1]["path"].endswith(f"/{handle}")
    # Publishing the same container again returns that post; Threads publishes nothing twice.
    assert provider.publish(credentials, variant, handle=handle) == found
    assert len(calls(emulator, "publish_container")) == 1


def test_an_unpublished_container_is_not_found(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Never published")

    assert provider.lookup(credentials, variant, handle=provider.prepare(credentials, variant)) is None


def test_delete_removes_the_post(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Short-lived")
    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    provider.delete(credentials, result.remote_id)

    assert calls(emulator, "delete_node")[0]["path"].endswith(f"/v1.0/{result.remote_id}")
    assert provider.lookup(credentials, variant, handle=handle) is None
    provider.delete(credentials, result.remote_id)  # again: already gone counts as deleted


def test_delete_needs_the_threads_delete_permission(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Stays")
    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))
    with emulator.app.state.lock:
        for token in emulator.app.state.tokens.values():
            token.scopes = tuple(s for s in token.scopes if s != "threads_delete")

    with pytest.raises(ProviderError) as caught:
        provider.delete(credentials, result.remote_id)

    assert caught.value.kind is ErrorKind.PERMANENT
    assert "(code 10)" in caught.value.message
    assert emulator.app.state.store(SLUG)["media"][result.remote_id]["deleted"] is False


def test_metrics_for_published_posts(emulator):
    provider, credentials = connect(SLUG)
    ids = []
    for n in range(2):
        variant = Variant(text=f"Metrics {n}")
        ids.append(provider.publish(credentials, variant, handle=provider.prepare(credentials, variant)).remote_id)
    for media in emulator.app.state.store(SLUG)["media"].values():
        media["published_at"] -= 1000

    snapshots = provider.fetch_metrics(credentials, ids)

    assert sorted(s.remote_id for s in snapshots) == sorted(ids)
    for snapshot in snapshots:
        assert snapshot.views >= 2000
        assert snapshot.likes > 0 and snapshot.replies > 0 and snapshot.reposts > 0 and snapshot.quotes > 0
        assert set(snapshot.extra) == {"shares"}
    assert calls(emulator, "insights")[0]["query"]["metric"] == "views,likes,replies,reposts,quotes,shares"


def test_refresh_extends_the_token(emulator):
    provider, credentials = connect(SLUG)

    tokens = provider.refresh_credentials(credentials)

    assert tokens.access_token != credentials.access_token
    assert tokens.expires_at.timestamp() - time.time() > 59 * 24 * 3600
    assert calls(emulator, "refresh_token")[0]["query"]["grant_type"] == "th_refresh_token"
    fresh = Credentials(access_token=tokens.access_token, account_id=credentials.account_id, config=credentials.config)
    assert provider.fetch_metrics(fresh, []) == []


def test_the_250_post_limit_is_rate_limited(emulator):
    provider, credentials = connect(SLUG)
    emulator.app.state.store(SLUG).setdefault("publishes", {})[credentials.account_id] = [time.time() - 60] * 250
    variant = Variant(text="One too many")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert provider.publishing_quota(credentials) == (250, 250)
    assert caught.value.kind is ErrorKind.RATE_LIMITED


def test_a_rate_limit_reads_the_usage_header(emulator):
    provider, credentials = connect(SLUG)
    variant = Variant(text="Throttled")
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(SLUG, "rate_limit", operation="publish", retry_after=120)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after == pytest.approx(120.0)
