"""X's weighted length and media rules, as `XProvider.validate` applies them (no network)."""

from __future__ import annotations

import pytest

from publishing.emulator.platforms import x as emulated_x
from publishing.providers.base import Media, ProviderConfig, Variant
from publishing.providers.x.provider import MAX_GIF_BYTES, MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, XProvider

URL = "https://example.com/a/rather/long/path/that/is/much/longer/than/twenty-three/characters"


@pytest.fixture
def provider():
    return XProvider(ProviderConfig(api_base="http://x.invalid", client_id="id", client_secret="secret"))


def _messages(result, field):
    return [issue.message for issue in result.issues if issue.field == field and issue.is_blocking]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hello", 5),
        (URL, 23),  # every link counts 23, however long
        ("x.com", 23),  # a bare domain is a link too
        ("see " + URL + " and " + URL, 4 + 23 + 5 + 23),
        ("😀", 2),
        ("👨‍👩‍👧", 2),  # a ZWJ family is one emoji
        ("👍🏽", 2),  # skin tone modifier included
        ("🇫🇷", 2),  # a flag: two regional indicators
        ("漢字", 4),  # CJK weighs 2
        ("한국어", 6),
        ("café", 4),
        ("cafe\u0301", 4),  # NFC: e + combining acute is one character
        ("\u2019\u2014", 2),  # U+2019, U+2014: in the weight-1 ranges (8208-8223)
        ("…", 2),  # U+2026: just outside them
        ("€", 2),
        ("Привет", 6),
        ("a\r\nb", 3),  # CRLF is one newline
    ],
)
def test_weighted_length(provider, text, length):
    result = provider.validate(Variant(text=text))

    assert result.length == length
    assert result.max_length == 280


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("a" * 280, True),
        ("a" * 281, False),
        ("漢" * 140, True),
        ("漢" * 139 + "a", True),
        ("漢" * 140 + "a", False),
        ("😀" * 140, True),
        ("😀" * 141, False),
        ("a" * 256 + " " + URL, True),  # 256 + 1 + 23 = 280
        ("a" * 257 + " " + URL, False),
    ],
)
def test_exactly_280_weighted_is_allowed_and_281_is_not(provider, text, valid):
    result = provider.validate(Variant(text=text))

    assert result.is_valid is valid
    assert (result.length <= 280) is valid
    assert bool(_messages(result, "text")) is not valid


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        URL,
        "a" * 256 + " " + URL,
        "漢" * 140,
        "👨‍👩‍👧 ok",
        "cafe\u0301",
        "see x.com/foo, then",
        "\u2019\u2014\u2026\u20ac",
    ],
)
def test_the_emulator_counts_like_twitter_text(text):
    """Two independent counts (twitter-text in the provider, the documented ranges in the emulator) agree."""
    from publishing.providers.x.provider import weighted_length

    assert emulated_x.weighted_length(text) == weighted_length(text)


def test_a_link_outside_the_text_is_appended_and_counted(provider):
    result = provider.validate(Variant(text="a" * 256, link="https://letsgrow.app/some/very/long/landing/page"))

    assert result.length == 256 + 1 + 23
    assert result.is_valid
    assert not provider.validate(Variant(text="a" * 257, link="https://letsgrow.app/x")).is_valid


def test_a_link_already_in_the_text_is_not_counted_twice(provider):
    result = provider.validate(Variant(text=f"Read {URL}", link=URL))

    assert result.length == 5 + 23


def test_at_most_one_cashtag(provider):
    assert provider.validate(Variant(text="Buying $AAPL today")).is_valid
    result = provider.validate(Variant(text="$AAPL or $MSFT?"))

    assert not result.is_valid
    assert "cashtag" in _messages(result, "text")[0]


def test_prices_are_not_cashtags(provider):
    assert provider.validate(Variant(text="$AAPL at $100 and $5.99")).is_valid


def test_empty_text_needs_media(provider):
    image = Media(content_type="image/png", size=100)

    assert not provider.validate(Variant(text="  ")).is_valid
    assert provider.validate(Variant(text="", media=(image,))).is_valid


def test_characters_x_refuses(provider):
    assert not provider.validate(Variant(text="bad \ufeff byte order mark")).is_valid


def _image(size=1000, content_type="image/png", alt=""):
    return Media(content_type=content_type, size=size, alt_text=alt)


@pytest.mark.parametrize(
    ("media", "valid"),
    [
        ((_image(),) * 4, True),
        ((_image(),) * 5, False),
        ((_image(content_type="image/jpeg"), _image(content_type="image/webp")), True),
        ((_image(MAX_IMAGE_BYTES),), True),
        ((_image(MAX_IMAGE_BYTES + 1),), False),
        ((_image(MAX_GIF_BYTES, "image/gif"),), True),  # an animated GIF may be up to 15 MB
        ((_image(MAX_GIF_BYTES + 1, "image/gif"),), False),
        ((_image(1000, "image/gif"), _image()), False),  # a GIF must be alone
        ((_image(MAX_VIDEO_BYTES, "video/mp4"),), True),
        ((_image(MAX_VIDEO_BYTES + 1, "video/mp4"),), False),
        ((_image(1000, "video/quicktime"),), True),
        ((_image(1000, "video/mp4"), _image(1000, "video/mp4")), False),  # one video only
        ((_image(1000, "video/mp4"), _image()), False),
        ((_image(1000, "image/bmp"),), False),
        ((_image(1000, "application/pdf"),), False),
        ((_image(alt="a" * 1000),), True),
        ((_image(alt="a" * 1001),), False),
    ],
)
def test_media_limits(provider, media, valid):
    result = provider.validate(Variant(text="With media", media=media))

    assert result.is_valid is valid
    assert bool(_messages(result, "media")) is not valid
