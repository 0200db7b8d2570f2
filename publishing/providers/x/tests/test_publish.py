"""Publishing to X over the emulator: media upload, lookup after a crash, metrics, delete, strict bodies."""

from __future__ import annotations

import time

import pytest
import requests

from publishing.providers.base import ErrorKind, Media, ProviderError, Variant
from publishing.tests.test_provider_contract import PNG, connect

GIF = b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;"
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(64)


@pytest.fixture
def account(emulator):
    provider, credentials = connect("x")
    naps: list[float] = []
    provider.sleep = naps.append  # no real waiting between STATUS polls
    provider.naps = naps
    return provider, credentials


def _png(alt: str = "") -> Media:
    return Media(content_type="image/png", size=len(PNG), data=PNG, alt_text=alt)


def _tweets(emulator) -> list[dict]:
    return list(emulator.store("x").get("tweets", {}).values())


def test_a_text_post_is_sent_as_create_posts_request(account, emulator):
    provider, credentials = account

    result = provider.publish(credentials, Variant(text="Plain words"))

    call = emulator.requests(platform="x", operation="create_tweet")[-1]
    assert call["body"] == {"text": "Plain words"}
    assert call["status"] == 201
    assert call["account"] == credentials.account_id
    assert result.remote_id == _tweets(emulator)[0]["id"]


def test_four_images_are_uploaded_in_chunks_and_attached(account, emulator):
    provider, credentials = account

    provider.publish(credentials, Variant(text="Four pictures", media=(_png("one"), _png(), _png(), _png())))

    initialize = emulator.requests(platform="x", operation="media_initialize")
    assert [c["body"] for c in initialize] == [
        {"media_type": "image/png", "total_bytes": len(PNG), "media_category": "tweet_image"}
    ] * 4
    append = emulator.requests(platform="x", operation="media_append")
    assert {c["body"]["segment_index"] for c in append} == {"0"}
    assert all(c["body"]["media"]["size"] == len(PNG) for c in append)
    assert len(emulator.requests(platform="x", operation="media_finalize")) == 4
    assert emulator.requests(platform="x", operation="media_status") == []  # images need no processing
    created = emulator.requests(platform="x", operation="create_tweet")[-1]["body"]
    assert len(created["media"]["media_ids"]) == 4
    media = emulator.store("x")["media"]
    assert [media[i]["alt_text"] for i in created["media"]["media_ids"]] == ["one", "", "", ""]
    assert len(_tweets(emulator)[0]["media_keys"]) == 4


def test_a_large_file_is_sent_in_several_segments(account, emulator, monkeypatch):
    from publishing.providers.x import provider as module

    monkeypatch.setattr(module, "CHUNK_BYTES", 20)
    provider, credentials = account

    provider.publish(credentials, Variant(text="Chunked", media=(_png(),)))

    append = emulator.requests(platform="x", operation="media_append")
    assert [c["body"]["segment_index"] for c in append] == ["0", "1", "2", "3"]
    assert sum(c["body"]["media"]["size"] for c in append) == len(PNG)


@pytest.mark.parametrize(
    ("data", "content_type", "category"), [(GIF, "image/gif", "tweet_gif"), (MP4, "video/mp4", "tweet_video")]
)
def test_gif_and_video_wait_for_processing(account, emulator, data, content_type, category):
    provider, credentials = account

    provider.publish(credentials, Variant(text=f"A {category}", media=(Media(content_type, len(data), data=data),)))

    assert emulator.requests(platform="x", operation="media_initialize")[0]["body"]["media_category"] == category
    polls = emulator.requests(platform="x", operation="media_status")
    assert [c["query"] for c in polls] == [{"command": "STATUS", "media_id": polls[0]["query"]["media_id"]}] * 2
    assert provider.naps == [1.0, 1.0]  # check_after_secs, twice: pending, then in_progress
    assert len(_tweets(emulator)) == 1


def test_processing_that_outlasts_the_budget_is_transient(emulator):
    from publishing.platforms import provider_for
    from publishing.providers.base import ProviderConfig
    from publishing.providers.x.provider import XProvider

    _, credentials = connect("x")
    base = provider_for("x").config
    provider = XProvider(ProviderConfig(**{**base.__dict__, "extra": {"x_media_processing_seconds": 1}}))
    provider.sleep = lambda seconds: None

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Slow video", media=(Media("video/mp4", len(MP4), data=MP4),)))

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert _tweets(emulator) == []


def test_media_given_by_url_is_fetched_then_uploaded(account, emulator):
    provider, credentials = account
    image = Media(content_type="image/png", size=len(PNG), url=f"{emulator.base_url}/_media/pixel.png")

    provider.publish(credentials, Variant(text="From a URL", media=(image,)))

    assert emulator.requests(platform="x", operation="media_initialize")[0]["body"]["total_bytes"] == len(PNG)


def test_bytes_that_are_not_what_they_claim_are_refused(account, emulator):
    provider, credentials = account
    fake = Media(content_type="image/png", size=4, data=b"oops")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="Not a PNG", media=(fake,)))

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert _tweets(emulator) == []


@pytest.mark.parametrize(
    "text",
    [
        "Read this: https://letsgrow.app/blog/a-post-about-scheduling?utm_source=x&utm_medium=social",
        "Tom & Jerry <3 > everything",
        "Bare domain letsgrow.app/pricing works too",
        "Two links https://example.com/a and https://example.org/b/",
        "Multiple   spaces\nand a newline",
        "Ünïcödé cafe\u0301 漢字 👨‍👩‍👧",
    ],
)
def test_lookup_finds_the_post_despite_tco_and_escaping(account, emulator, text):
    provider, credentials = account
    variant = Variant(text=text)
    published = provider.publish(credentials, variant)

    found = provider.lookup(credentials, variant)

    assert found is not None
    assert found.remote_id == published.remote_id
    assert found.url == published.url


def test_the_emulator_wraps_links_and_escapes_text_like_x(account, emulator):
    provider, credentials = account
    remote_id = provider.publish(credentials, Variant(text="Tom & Jerry https://example.com/cartoons")).remote_id

    response = requests.get(
        f"{emulator.url('x')}/2/tweets/{remote_id}",
        params={"tweet.fields": "entities"},
        headers={"Authorization": f"Bearer {credentials.access_token}"},
        timeout=5,
    )

    data = response.json()["data"]
    assert data["text"].startswith("Tom &amp; Jerry https://t.co/")
    [entity] = data["entities"]["urls"]
    assert entity["expanded_url"] == "https://example.com/cartoons"
    assert entity["url"] in data["text"]


def test_lookup_finds_a_media_post_and_ignores_its_pic_link(account, emulator):
    provider, credentials = account
    variant = Variant(text="Look at this https://example.com/gallery", media=(_png(),))
    published = provider.publish(credentials, variant)
    assert _tweets(emulator)[0]["text"].count("https://t.co/") == 2

    assert provider.lookup(credentials, variant).remote_id == published.remote_id


def test_lookup_does_not_match_a_different_link_or_text(account):
    provider, credentials = account
    provider.publish(credentials, Variant(text="Launch day https://example.com/a"))

    assert provider.lookup(credentials, Variant(text="Launch day https://example.com/b")) is None
    assert provider.lookup(credentials, Variant(text="Launch day!")) is None


def test_lookup_with_a_link_field(account):
    provider, credentials = account
    variant = Variant(text="New article", link="https://letsgrow.app/blog/new")
    published = provider.publish(credentials, variant)

    assert provider.lookup(credentials, variant).remote_id == published.remote_id


def test_lookup_asks_for_recent_original_posts(account, emulator):
    provider, credentials = account

    provider.lookup(credentials, Variant(text="Nothing yet"))

    call = emulator.requests(platform="x", operation="user_tweets")[-1]
    assert call["path"] == f"/x/2/users/{credentials.account_id}/tweets"
    assert call["query"] == {"max_results": "100", "tweet.fields": "created_at,entities", "exclude": "replies,retweets"}


def test_metrics_grow_with_time_and_skip_deleted_posts(account, emulator):
    provider, credentials = account
    kept = provider.publish(credentials, Variant(text="Kept")).remote_id
    gone = provider.publish(credentials, Variant(text="Gone")).remote_id
    provider.delete(credentials, gone)
    first = provider.fetch_metrics(credentials, [kept, gone])
    tweet = emulator.app.state.stores["x"]["tweets"][kept]
    tweet["created_ts"] -= 3600  # an hour later

    later = provider.fetch_metrics(credentials, [kept, gone])

    assert [s.remote_id for s in first] == [kept]
    assert later[0].impressions > first[0].impressions
    assert later[0].likes > first[0].likes
    assert later[0].reposts >= first[0].reposts
    assert set(later[0].extra) == {"bookmarks"}
    call = emulator.requests(platform="x", operation="tweets_by_ids")[-1]
    assert call["query"] == {"ids": f"{kept},{gone}", "tweet.fields": "public_metrics"}


def test_metrics_are_fetched_100_ids_at_a_time(account, emulator):
    provider, credentials = account
    ids = [str(10**17 + n) for n in range(150)]

    assert provider.fetch_metrics(credentials, ids) == []

    calls = emulator.requests(platform="x", operation="tweets_by_ids")
    assert [len(c["query"]["ids"].split(",")) for c in calls] == [100, 50]


def test_deleting_twice_is_fine(account, emulator):
    provider, credentials = account
    remote_id = provider.publish(credentials, Variant(text="Short-lived")).remote_id

    provider.delete(credentials, remote_id)
    provider.delete(credentials, remote_id)

    assert [c["status"] for c in emulator.requests(platform="x", operation="delete_tweet")] == [200, 404]


def test_deleting_someone_elses_post_is_permanent(emulator):
    provider, owner = connect("x", "owner")
    _, other = connect("x", "other")
    remote_id = provider.publish(owner, Variant(text="Mine")).remote_id

    with pytest.raises(ProviderError) as caught:
        provider.delete(other, remote_id)

    assert caught.value.kind is ErrorKind.PERMANENT


# --------------------------------------------------------------------------- the emulator's strictness


def _post(emulator, credentials, body) -> requests.Response:
    return requests.post(
        f"{emulator.url('x')}/2/tweets",
        json=body,
        headers={"Authorization": f"Bearer {credentials.access_token}"},
        timeout=5,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "hi", "unexpected": True}, "[unexpected] is not allowed"),
        ({"text": "hi", "media": {"media_ids": ["1"], "extra": 1}}, "[media.extra] is not allowed"),
        ({"text": "hi", "media": {"media_ids": []}}, "1 to 4"),
        ({"text": "hi", "media": {"media_ids": ["1", "2", "3", "4", "5"]}}, "1 to 4"),
        ({"text": "hi", "media": {"media_ids": ["123"]}}, "media IDs are invalid"),
        ({"text": "a" * 281}, "too long"),
        ({"text": ""}, "required unless media"),
        ({"text": "$AAPL and $MSFT"}, "cashtag"),
        ({"text": 5}, "must be a string"),
        ({"text": "hi", "reply_settings": "everyone"}, "reply_settings"),
    ],
)
def test_the_emulator_refuses_bodies_the_spec_or_the_rules_forbid(emulator, body, message):
    _, credentials = connect("x")

    response = _post(emulator, credentials, body)

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "https://api.x.com/2/problems/invalid-request"
    assert message in problem["errors"][0]["message"]
    assert emulator.store("x").get("tweets", {}) == {}


def test_the_emulator_refuses_a_missing_or_bad_token(emulator):
    response = _post(emulator, type("C", (), {"access_token": "nope"})(), {"text": "hi"})

    assert response.status_code == 401
    assert response.json() == {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank", "status": 401}


def test_the_emulator_limits_posts_per_15_minutes(emulator):
    _, credentials = connect("x")
    emulator.app.state.store("x")["rate"] = {credentials.account_id: [time.time()] * 100}

    response = _post(emulator, credentials, {"text": "One too many"})

    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert int(response.headers["x-rate-limit-reset"]) > time.time()
    assert response.json()["code"] == 88
