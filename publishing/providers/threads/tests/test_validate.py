"""Threads' counting: 500 characters with emoji as UTF-8 bytes, at most 5 distinct links."""

from __future__ import annotations

import pytest

from publishing.providers.base import Credentials, ErrorKind, Media, ProviderConfig, ProviderError, Variant
from publishing.providers.threads.provider import ThreadsProvider, threads_length, threads_links


def provider(*, emulated: bool = False) -> ThreadsProvider:
    return ThreadsProvider(ProviderConfig(api_base="http://127.0.0.1:9", extra={"emulated": emulated}))


def blocking(result) -> list[str]:
    return [issue.message for issue in result.issues if issue.is_blocking]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hello", 5),
        ("👍", 4),  # U+1F44D: 4 bytes
        ("👍🏽", 8),  # with a skin tone modifier
        ("👨‍👩‍👧", 18),  # three emoji joined by two ZWJ (3 bytes each)
        ("🇫🇷", 8),  # a flag: two regional indicators
        ("1️⃣", 7),  # keycap: 1 + VS16 + U+20E3
        ("☀️", 6),  # U+2600 + VS16
        ("é", 1),  # precomposed
        ("e\u0301", 2),  # decomposed: two code points, no emoji
        ("中文", 2),  # CJK is characters, not bytes
        ("a 👍 b", 8),
    ],
)
def test_emoji_count_as_their_utf8_bytes_and_other_characters_as_one(text, length):
    assert threads_length(text) == length


def test_496_characters_and_one_4_byte_emoji_make_exactly_500():
    text = "x" * 496 + "👍"

    result = provider().validate(Variant(text=text))

    assert len(text) == 497
    assert (result.length, result.max_length) == (500, 500)
    assert result.is_valid


def test_one_more_character_is_over_the_limit():
    result = provider().validate(Variant(text="x" * 497 + "👍"))

    assert result.length == 501
    assert blocking(result) == ["Threads posts take at most 500 characters (an emoji counts as several)."]


def test_500_plain_characters_are_valid_and_501_are_not():
    assert provider().validate(Variant(text="x" * 500)).is_valid
    assert not provider().validate(Variant(text="x" * 501)).is_valid


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("no links here. e.g. this, Mr.Smith", 0),
        ("https://a.com and https://b.com/x", 2),
        ("https://a.com and https://a.com again, and www.a.com", 1),  # the same link counts once
        ("www.instagram.com and www.threads.com", 2),
        ("bare domains count too: letsgrow.app, example.org/path.", 2),
        ("mail me at me@example.com", 0),
    ],
)
def test_distinct_links_are_counted(text, count):
    assert len(threads_links(text)) == count


def test_five_links_are_fine_and_six_are_blocked():
    five = " ".join(f"https://site{n}.com" for n in range(5))

    assert provider().validate(Variant(text=five)).is_valid
    six = provider().validate(Variant(text=five + " https://site5.com"))
    assert blocking(six) == ["Threads refuses posts with more than 5 links."]


def test_the_variant_link_is_a_sixth_link_unless_the_text_has_it():
    five = " ".join(f"https://site{n}.com" for n in range(5))

    assert provider().validate(Variant(text=five, link="https://site0.com")).is_valid
    assert not provider().validate(Variant(text=five, link="https://other.com")).is_valid


def test_more_than_one_hashtag_is_only_a_warning():
    result = provider().validate(Variant(text="#one #two"))

    assert result.is_valid
    assert [i.message for i in result.issues] == ["Threads uses only one hashtag per post as a topic."]


def test_media_needs_a_public_url():
    no_url = Media(content_type="image/jpeg", size=10, data=b"x")
    private = Media(content_type="image/jpeg", size=10, url="http://192.168.1.4/a.jpg")

    assert blocking(provider().validate(Variant(text="x", media=(no_url,)))) == [
        "The file: Threads fetches media from a public URL, and this file has none."
    ]
    assert not provider().validate(Variant(text="x", media=(private,))).is_valid
    assert (
        provider(emulated=True)
        .validate(
            Variant(text="x", media=(Media(content_type="image/png", size=10, url="http://127.0.0.1:1/_media/a.png"),))
        )
        .is_valid
    )


def test_an_empty_post_is_blocked_and_refused_before_any_call():
    assert blocking(provider().validate(Variant(text="  "))) == ["Write something or attach an image or a video."]

    with pytest.raises(ProviderError) as caught:
        provider().prepare(Credentials(access_token="t", account_id="1"), Variant(text=""))

    assert caught.value.kind is ErrorKind.INVALID_CONTENT


def test_a_carousel_takes_at_most_20_files():
    item = Media(content_type="image/jpeg", size=10, url="https://cdn.letsgrow.app/a.jpg")

    assert provider().validate(Variant(text="x", media=(item,) * 20)).is_valid
    assert blocking(provider().validate(Variant(text="x", media=(item,) * 21))) == [
        "A Threads carousel takes at most 20 files."
    ]
