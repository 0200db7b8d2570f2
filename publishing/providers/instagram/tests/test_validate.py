"""Instagram's content rules: media required, public URLs, caption length, hashtags, aspect ratio."""

from __future__ import annotations

import pytest

from publishing.providers.base import ErrorKind, Media, ProviderConfig, ProviderError, Variant
from publishing.providers.instagram.provider import InstagramProvider


def provider(*, emulated: bool = False) -> InstagramProvider:
    # A closed local port: any request would fail loudly rather than reach anything.
    return InstagramProvider(ProviderConfig(api_base="http://127.0.0.1:9", extra={"emulated": emulated}))


def jpeg(url: str = "https://cdn.letsgrow.app/m/a.jpg", **kwargs) -> Media:
    return Media(**{"content_type": "image/jpeg", "size": 1000, "url": url, **kwargs})


def blocking(result) -> list[str]:
    return [issue.message for issue in result.issues if issue.is_blocking]


def warnings(result) -> list[str]:
    return [issue.message for issue in result.issues if not issue.is_blocking]


def test_a_text_only_post_is_blocked_because_instagram_needs_media():
    result = provider().validate(Variant(text="Hello"))

    assert not result.is_valid
    assert blocking(result) == ["Instagram needs an image or a video."]


@pytest.mark.parametrize("method", ["prepare", "publish"])
def test_prepare_and_publish_refuse_a_text_only_post_without_calling_instagram(method):
    from publishing.providers.base import Credentials

    with pytest.raises(ProviderError) as caught:
        getattr(provider(), method)(Credentials(access_token="t", account_id="1"), Variant(text="Hello"))

    assert caught.value.kind is ErrorKind.INVALID_CONTENT
    assert caught.value.message == "Instagram needs an image or a video."
    assert caught.value.maybe_sent is False


def test_one_jpeg_on_a_public_url_is_valid_without_warnings():
    result = provider().validate(Variant(text="Sunrise #morning", media=(jpeg(),)))

    assert result.is_valid
    assert result.issues == ()
    assert (result.length, result.max_length) == (16, 2200)


def test_media_without_a_url_is_blocked():
    result = provider().validate(Variant(text="x", media=(Media(content_type="image/jpeg", size=10, data=b"x"),)))

    assert blocking(result) == ["The file: Instagram fetches media from a public URL, and this file has none."]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/media/a.jpg", "http://localhost/a.jpg", "https://10.0.0.5/a.jpg", "ftp://x.y/a.jpg"]
)
def test_media_on_a_private_or_non_web_url_is_blocked_outside_the_emulator(url):
    result = provider().validate(Variant(text="x", media=(jpeg(url),)))

    assert not result.is_valid
    assert "URL" in blocking(result)[0] or "private address" in blocking(result)[0]


def test_the_emulator_may_fetch_loopback_urls():
    result = provider(emulated=True).validate(Variant(text="x", media=(jpeg("http://127.0.0.1:8100/_media/a.jpg"),)))

    assert result.is_valid


def test_the_caption_limit_is_2200_characters():
    assert provider().validate(Variant(text="x" * 2200, media=(jpeg(),))).is_valid
    too_long = provider().validate(Variant(text="x" * 2201, media=(jpeg(),)))

    assert blocking(too_long) == ["Instagram captions take at most 2200 characters."]
    assert too_long.length == 2201


def test_the_link_is_appended_to_the_caption_and_counted_with_a_warning():
    variant = Variant(text="x" * 2180, media=(jpeg(),), link="https://letsgrow.app/a-long-path")

    result = provider().validate(variant)

    assert result.length == 2180 + 2 + len("https://letsgrow.app/a-long-path")
    assert "Links in Instagram captions are not clickable." in warnings(result)
    assert not result.is_valid


def test_more_than_five_hashtags_is_a_warning_not_a_block():
    five = provider().validate(Variant(text="#a #b #c #d #e", media=(jpeg(),)))
    six = provider().validate(Variant(text="#a #b #c #d #e #f", media=(jpeg(),)))

    assert five.issues == ()
    assert six.is_valid
    assert warnings(six) == ["Instagram may refuse more than 5 hashtags in a post."]


def test_a_carousel_takes_at_most_ten_files():
    assert provider().validate(Variant(text="x", media=(jpeg(),) * 10)).is_valid
    eleven = provider().validate(Variant(text="x", media=(jpeg(),) * 11))

    assert blocking(eleven) == ["An Instagram carousel takes at most 10 files."]


def test_an_image_over_8_mb_is_blocked_and_png_is_a_warning():
    big = provider().validate(Variant(text="x", media=(jpeg(size=8 * 1024 * 1024 + 1),)))
    png = provider().validate(Variant(text="x", media=(jpeg(content_type="image/png"),)))

    assert blocking(big) == ["The file: Instagram images must be 8 MB or smaller."]
    assert png.is_valid
    assert warnings(png) == ["The file: Instagram officially supports JPEG images only."]


@pytest.mark.parametrize(
    ("width", "height", "warned"),
    [(1080, 1350, False), (1080, 566, False), (1080, 1351, True), (1080, 560, True), (None, 1350, False)],
)
def test_aspect_ratio_outside_4_5_to_1_91_is_a_warning_when_known(width, height, warned):
    result = provider().validate(Variant(text="x", media=(jpeg(width=width, height=height),)))

    assert result.is_valid
    assert bool(warnings(result)) is warned


def test_files_that_are_neither_images_nor_videos_are_blocked():
    pdf = Media(content_type="application/pdf", size=10, url="https://cdn.letsgrow.app/a.pdf")

    result = provider().validate(Variant(text="x", media=(pdf,)))

    assert blocking(result) == ["The file: Instagram takes images and videos only."]
