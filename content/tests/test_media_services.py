"""The media library's services: type by content, plan limits, clean re-encoding, videos, renditions, deletion."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from billing.models import Subscription
from content import media
from content.media import (
    PLATFORM_RATIOS,
    delete_media,
    describe_fit,
    fit_for_platform,
    provider_media,
    rendition_for,
    update_alt_text,
    upload_media,
)
from content.models import MediaAsset, MediaRendition, Post, PostMedia
from content.tests.fixtures_media import (
    HTML_BYTES,
    PDF_BYTES,
    TEXT_BYTES,
    box,
    gif_bytes,
    jpeg_bytes,
    mov_bytes,
    mp4_bytes,
    png_bytes,
    png_claiming,
    upload,
    webp_bytes,
)
from publishing.providers.base import Media
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def workspace():
    return WorkspaceFactory()


@pytest.fixture
def user():
    return UserFactory()


def _add(workspace, user, name, data, **kwargs) -> MediaAsset:
    return upload_media(workspace=workspace, actor=user, uploaded_file=upload(name, data), **kwargs)


def _stored_image(asset: MediaAsset) -> Image.Image:
    with asset.file.open("rb") as handle:
        data = handle.read()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --------------------------------------------------------------------------- good images


@pytest.mark.parametrize(
    ("name", "data", "content_type", "extension", "size"),
    [
        ("photo.jpg", jpeg_bytes(64, 48), "image/jpeg", "jpg", (64, 48)),
        ("logo.png", png_bytes(40, 30), "image/png", "png", (40, 30)),
        ("anim.gif", gif_bytes(32, 32), "image/gif", "gif", (32, 32)),
        ("pic.webp", webp_bytes(50, 20), "image/webp", "webp", (50, 20)),
    ],
)
def test_good_images_are_stored_re_encoded_with_a_thumbnail(workspace, user, name, data, content_type, extension, size):
    asset = _add(workspace, user, name, data, alt_text="  A red square  ")

    assert asset.pk is not None
    assert asset.kind == MediaAsset.Kind.IMAGE
    assert asset.content_type == content_type
    assert (asset.width, asset.height) == size
    assert asset.original_name == name
    assert asset.alt_text == "A red square"
    assert asset.uploaded_by == user
    assert asset.storage_name.endswith(f".{extension}")
    assert name not in asset.file.name  # never the uploaded name
    assert asset.file.name == f"media/{workspace.pk}/{asset.storage_name}"
    with asset.file.open("rb") as handle:
        stored = handle.read()
    assert asset.size_bytes == len(stored)
    assert asset.sha256 == media.hashlib.sha256(stored).hexdigest()
    thumbnail = Image.open(asset.thumbnail.open("rb"))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == size  # small images are not enlarged
    assert asset.already_in_library is False


def test_a_large_image_gets_a_480_pixel_thumbnail(workspace, user):
    asset = _add(workspace, user, "big.jpg", jpeg_bytes(1600, 900))

    thumbnail = Image.open(asset.thumbnail.open("rb"))
    assert thumbnail.size == (480, 270)


def test_gps_and_all_other_metadata_are_gone_from_the_stored_file(workspace, user):
    original = jpeg_bytes(64, 48, gps=True, comment=b"secret comment")
    source = Image.open(io.BytesIO(original))
    assert source.getexif().get_ifd(0x8825)  # the upload really carries a location
    assert b"PhoneMaker" in original

    asset = _add(workspace, user, "holiday.jpg", original)

    with asset.file.open("rb") as handle:
        stored = handle.read()
    image = Image.open(io.BytesIO(stored))
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(0x8825) == {}
    assert "exif" not in image.info and "comment" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in stored and b"PhoneMaker" not in stored and b"secret comment" not in stored
    thumbnail = asset.thumbnail.open("rb").read()
    assert b"Exif" not in thumbnail and b"PhoneMaker" not in thumbnail


def test_xmp_and_icc_profiles_are_dropped(workspace, user):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>52,22.1N</exif:GPSLatitude></x:xmpmeta>'
    original = jpeg_bytes(64, 48, xmp=xmp, icc_profile=icc)
    assert Image.open(io.BytesIO(original)).info.get("icc_profile") == icc

    asset = _add(workspace, user, "xmp.jpg", original)

    with asset.file.open("rb") as handle:
        stored = handle.read()
    image = Image.open(io.BytesIO(stored))
    assert "icc_profile" not in image.info and "xmp" not in image.info
    assert b"GPSLatitude" not in stored and b"xmpmeta" not in stored


def test_an_animated_webp_keeps_its_frames_and_timing(workspace, user):
    frames = [Image.new("RGBA", (30, 20), (index * 60, 0, 0, 255)) for index in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0)

    asset = _add(workspace, user, "anim.webp", out.getvalue())

    image = Image.open(asset.file.open("rb"))
    durations = []
    for index in range(image.n_frames):
        image.seek(index)
        image.load()
        durations.append(image.info["duration"])
    assert durations == [100, 200, 300]


def test_png_text_chunks_are_dropped(workspace, user):
    asset = _add(workspace, user, "a.png", png_bytes(text="taken at 52.37N 4.89E"))

    with asset.file.open("rb") as handle:
        stored = handle.read()
    assert b"52.37N" not in stored
    assert Image.open(io.BytesIO(stored)).info.get("Comment") is None


def test_the_exif_orientation_is_applied_before_it_is_dropped(workspace, user):
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise to show it upright.
    asset = _add(workspace, user, "turned.jpg", jpeg_bytes(64, 48, orientation=6))

    assert (asset.width, asset.height) == (48, 64)
    image = _stored_image(asset)
    assert image.size == (48, 64)
    assert image.getexif().get(0x0112) is None


def test_an_animated_gif_keeps_its_frames(workspace, user):
    asset = _add(workspace, user, "anim.gif", gif_bytes(frames=4))

    image = Image.open(asset.file.open("rb"))
    assert image.n_frames == 4
    assert asset.ingest_notes == ()


def test_an_animation_too_long_to_keep_is_cut_to_its_first_frame_and_says_so(workspace, user, monkeypatch):
    monkeypatch.setattr(media, "MAX_FRAMES", 2)

    asset = _add(workspace, user, "anim.gif", gif_bytes(frames=4))

    assert Image.open(asset.file.open("rb")).n_frames == 1
    assert asset.ingest_notes and "only its first frame was saved" in asset.ingest_notes[0]


def test_a_cmyk_jpeg_is_stored_as_rgb(workspace, user):
    out = io.BytesIO()
    Image.new("CMYK", (20, 20), (0, 100, 100, 0)).save(out, format="JPEG")

    asset = _add(workspace, user, "print.jpg", out.getvalue())

    assert _stored_image(asset).mode == "RGB"


# --------------------------------------------------------------------------- refused files


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("photo.jpg", PDF_BYTES, "This file is a PDF document (application/pdf), whatever its name says."),
        ("notes.jpg", TEXT_BYTES, "We could not recognise this file's type."),
        ("page.png", HTML_BYTES, "We could not recognise this file's type."),
        ("clip.mp4", b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 64, "an AVI video (video/x-msvideo)"),
        ("archive.gif", b"PK\x03\x04" + b"\x00" * 60, "(application/zip)"),
    ],
)
def test_the_type_comes_from_the_bytes_not_the_name(workspace, user, name, data, fragment):
    with pytest.raises(ValidationError) as info:
        _add(workspace, user, name, data)

    assert fragment in info.value.messages[0]
    assert "JPEG, PNG, GIF and WebP images, and MP4 and MOV videos" in info.value.messages[0]
    assert MediaAsset.objects.count() == 0


def test_an_empty_file_is_refused(workspace, user):
    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "empty.jpg", b"")

    assert info.value.messages == ["This file is empty (0 bytes)."]


@pytest.mark.parametrize(
    "data",
    [
        jpeg_bytes(200, 200)[:400],  # cut in the middle of the scan
        jpeg_bytes(200, 200)[:-200],
        png_bytes(200, 200, mode="RGB")[:60],
        png_bytes(200, 200, mode="RGB")[:-20],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,
        b"GIF89a" + b"\x00" * 30,
    ],
    ids=["jpeg-head", "jpeg-tail", "png-head", "png-tail", "png-garbage", "jpeg-garbage", "gif-garbage"],
)
def test_truncated_and_broken_images_are_refused_in_plain_words(workspace, user, data):
    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "broken.img", data)

    assert info.value.messages == [media.NOT_READABLE]
    assert MediaAsset.objects.count() == 0


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (10_000, 6_000), (65_535, 1)])
def test_huge_dimensions_are_refused_quickly_without_decoding(workspace, user, width, height):
    started = time.monotonic()

    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "bomb.png", png_claiming(width, height))

    assert time.monotonic() - started < 1.0
    message = info.value.messages[0]
    assert "50 megapixels" in message or message == media.NOT_READABLE
    assert MediaAsset.objects.count() == 0


def test_a_bomb_header_names_its_dimensions(workspace, user):
    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "bomb.png", png_claiming(10_000, 6_000))

    assert info.value.messages == [
        "This image is 10,000 x 6,000 pixels; LetsGrow takes images up to 50 megapixels. "
        "Make it smaller and upload it again."
    ]


# --------------------------------------------------------------------------- plan limits


def test_the_free_plan_refuses_an_image_over_its_limit_naming_the_upgrade(workspace, user, monkeypatch):
    Subscription.objects.create(workspace=workspace, plan="free")
    big = jpeg_bytes(64, 64) + b"\x00" * (5 * 1024 * 1024)  # padding after the end of the JPEG

    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "big.jpg", big)

    assert info.value.messages == [
        "This image is 5.0 MB; the Free plan takes images up to 5 MB. Upgrade to Pro for images up to 20 MB."
    ]


def test_the_pro_plan_takes_the_same_image(user):
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    big = jpeg_bytes(64, 64) + b"\x00" * (5 * 1024 * 1024)

    asset = _add(workspace, user, "big.jpg", big)

    # Stored re-encoded: the padding is gone.
    assert asset.size_bytes < 10_000


def test_video_limits_come_from_the_plan_too(workspace, user, monkeypatch):
    tiny = dataclasses.replace(media.PLANS["free"], max_video_bytes=1000)
    monkeypatch.setattr(media, "plan_for", lambda ws: tiny)
    data = mp4_bytes()

    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "clip.mp4", data)

    assert info.value.messages[0].startswith(
        f"This video is {media.human_size(len(data))}; the Free plan takes videos up to 1000 bytes."
    )


# --------------------------------------------------------------------------- duplicates


def test_uploading_the_same_image_again_returns_the_existing_asset(workspace, user):
    data = jpeg_bytes(64, 48, gps=True)
    first = _add(workspace, user, "a.jpg", data)

    second = _add(workspace, user, "copy-of-a.jpg", data)

    assert second.pk == first.pk
    assert second.already_in_library is True
    assert MediaAsset.objects.count() == 1
    files = list((media.settings.MEDIA_ROOT / "media" / str(workspace.pk)).glob("*.jpg"))
    assert len(files) == 1  # the second copy was not written


def test_the_same_image_in_another_workspace_is_its_own_asset(user):
    data = png_bytes()
    one, two = WorkspaceFactory(), WorkspaceFactory()

    first = _add(one, user, "a.png", data)
    second = _add(two, user, "a.png", data)

    assert first.pk != second.pk
    assert second.already_in_library is False


# --------------------------------------------------------------------------- videos


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [(mp4_bytes(), "video/mp4", "mp4"), (mov_bytes(), "video/quicktime", "mov")],
)
def test_a_valid_video_is_stored_as_uploaded_with_its_size_and_duration(workspace, user, data, content_type, extension):
    asset = _add(workspace, user, "clip.bin", data)

    assert asset.kind == MediaAsset.Kind.VIDEO
    assert asset.content_type == content_type
    assert asset.storage_name.endswith(f".{extension}")
    assert (asset.width, asset.height, asset.duration_seconds) == (1280, 720, 12.5)
    assert not asset.thumbnail
    assert asset.file.open("rb").read() == data
    assert asset.size_bytes == len(data)


def test_a_portrait_phone_video_reports_its_shown_size(workspace, user):
    asset = _add(workspace, user, "upright.mp4", mp4_bytes(1920, 1080, rotate=True))

    assert (asset.width, asset.height) == (1080, 1920)


def test_a_video_with_its_index_at_the_end_is_read_too(workspace, user):
    asset = _add(workspace, user, "late-moov.mp4", mp4_bytes(640, 360, seconds=3, moov_first=False))

    assert (asset.width, asset.height, asset.duration_seconds) == (640, 360, 3.0)


def _fake_mp4s() -> list[tuple[bytes, str]]:
    broken = "This file is not a readable video (its MP4 structure is broken)."
    ftyp = mp4_bytes()[:24]
    return [
        (mp4_bytes()[:200], broken),  # cut off inside the moov box
        (ftyp + b"not boxes at all, just text pretending to be a video" * 4, broken),
        (
            ftyp + box(b"mdat", b"\x00" * 64),
            "This video has no index (moov box); it may be incomplete. Export it again and upload the new file.",
        ),
        (ftyp + box(b"moov", box(b"trak", b"\x00" * 16)), "This file is not a readable video (its index is damaged)."),
        (
            ftyp + box(b"moov", b"\x00\x00\x00\xff" + b"mvhd" + b"\x00" * 20),
            "This file is not a readable video (its index is damaged).",
        ),
    ]


@pytest.mark.parametrize(("data", "message"), _fake_mp4s())
def test_a_fake_or_broken_mp4_is_refused(workspace, user, data, message):
    with pytest.raises(ValidationError) as info:
        _add(workspace, user, "clip.mp4", data)

    assert info.value.messages == [message]
    assert MediaAsset.objects.count() == 0


def test_duplicate_videos_are_found_by_their_bytes(workspace, user):
    first = _add(workspace, user, "a.mp4", mp4_bytes())

    second = _add(workspace, user, "b.mp4", mp4_bytes())

    assert second.pk == first.pk and second.already_in_library is True


# --------------------------------------------------------------------------- alt text and deletion


def test_alt_text_is_saved_stripped_and_bounded(workspace, user):
    asset = _add(workspace, user, "a.png", png_bytes())

    update_alt_text(asset=asset, actor=user, alt_text="  A blue square  ")
    assert MediaAsset.objects.get(pk=asset.pk).alt_text == "A blue square"

    with pytest.raises(ValidationError) as info:
        update_alt_text(asset=asset, actor=user, alt_text="x" * 1501)
    assert info.value.messages == ["Alt text can be at most 1500 characters (this has 1501)."]
    assert MediaAsset.objects.get(pk=asset.pk).alt_text == "A blue square"


def test_an_asset_used_by_a_post_not_yet_published_cannot_be_deleted(workspace, user):
    asset = _add(workspace, user, "a.png", png_bytes())
    post = Post.objects.create(workspace=workspace, text="Launch day")
    PostMedia.objects.create(workspace=workspace, post=post, asset=asset)

    with pytest.raises(ValidationError) as info:
        delete_media(asset=asset, actor=user)

    assert info.value.messages == [
        "This file is attached to 1 post not published yet (“Launch day”). Remove it from those posts first."
    ]
    assert MediaAsset.objects.filter(pk=asset.pk).exists()
    assert asset.file.storage.exists(asset.file.name)


def test_an_asset_only_used_by_published_posts_can_be_deleted_with_its_files(
    workspace, user, django_capture_on_commit_callbacks
):
    asset = _add(workspace, user, "a.png", png_bytes(300, 100))
    rendition = rendition_for(asset, "1x1")
    post = Post.objects.create(workspace=workspace, text="Old news", status=Post.Status.PUBLISHED)
    PostMedia.objects.create(workspace=workspace, post=post, asset=asset)
    storage, names = asset.file.storage, [asset.file.name, asset.thumbnail.name, rendition.file.name]

    with django_capture_on_commit_callbacks(execute=True):
        delete_media(asset=asset, actor=user)

    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not MediaRendition.objects.filter(pk=rendition.pk).exists()
    assert Post.objects.filter(pk=post.pk).exists()
    assert [storage.exists(name) for name in names] == [False, False, False]


# --------------------------------------------------------------------------- renditions and platforms


@pytest.mark.parametrize(
    ("size", "ratio_key", "expected"),
    [
        ((1000, 500), "1x1", (500, 500)),
        ((600, 1200), "4x5", (600, 750)),
        ((3000, 1000), "1.91x1", (1910, 1000)),
        ((4000, 4000), "4x5", (1638, 2048)),  # and resized within 2048 px
        ((800, 600), "original", (800, 600)),
    ],
)
def test_renditions_are_center_crops_to_the_ratio(workspace, user, size, ratio_key, expected):
    asset = _add(workspace, user, "a.png", png_bytes(*size, mode="RGB"))

    rendition = rendition_for(asset, ratio_key)

    image = Image.open(rendition.file.open("rb"))
    assert image.format == "JPEG"
    assert image.size == expected == (rendition.width, rendition.height)
    assert rendition.size_bytes <= media.RENDITION_MAX_BYTES
    assert rendition_for(asset, ratio_key).pk == rendition.pk  # cached
    assert MediaRendition.objects.filter(asset=asset).count() == 1


def test_the_crop_is_taken_from_the_center(workspace, user):
    picture = Image.new("RGB", (300, 100), (255, 0, 0))
    picture.paste((0, 0, 255), (100, 0, 200, 100))  # a blue middle third
    out = io.BytesIO()
    picture.save(out, format="PNG")
    asset = _add(workspace, user, "bands.png", out.getvalue())

    rendition = rendition_for(asset, "1x1")

    image = Image.open(rendition.file.open("rb")).convert("RGB")
    red, _green, blue = image.getpixel((50, 50))
    assert blue > 200 and red < 60


def test_bad_ratio_keys_and_videos_have_no_renditions(workspace, user):
    image = _add(workspace, user, "a.png", png_bytes())
    video = _add(workspace, user, "a.mp4", mp4_bytes())

    with pytest.raises(ValidationError):
        rendition_for(image, "wide")
    with pytest.raises(ValidationError):
        rendition_for(image, "0x5")
    with pytest.raises(ValidationError):
        rendition_for(video, "1x1")


def test_instagram_ratios_come_from_the_platform_rules():
    rules = PLATFORM_RATIOS["instagram"]

    assert (rules.min_ratio, rules.max_ratio) == (0.8, 1.91)
    assert rules.crops == ("4x5", "1x1", "1.91x1")


@pytest.mark.parametrize(
    ("size", "expected_key"),
    [((1080, 1350), None), ((1080, 1920), "4x5"), ((3000, 1000), "1.91x1"), ((1600, 900), None)],
)
def test_fit_for_instagram_keeps_accepted_jpegs_and_crops_the_rest(workspace, user, size, expected_key):
    asset = _add(workspace, user, "a.jpg", jpeg_bytes(*size))

    fitted = fit_for_platform(asset, "instagram")

    if expected_key is None:
        assert fitted == asset
    else:
        assert isinstance(fitted, MediaRendition) and fitted.ratio_key == expected_key
        assert 0.8 <= fitted.width / fitted.height <= 1.91


def test_a_png_for_instagram_is_sent_as_a_jpeg_copy(workspace, user):
    asset = _add(workspace, user, "a.png", png_bytes(500, 500))

    fitted = fit_for_platform(asset, "instagram")

    assert isinstance(fitted, MediaRendition) and fitted.ratio_key == "original"
    assert describe_fit(asset, "instagram").message == (
        "Will be sent as a smaller JPEG copy: Instagram does not take PNG images."
    )


def test_platforms_without_ratio_rules_take_the_original(workspace, user):
    asset = _add(workspace, user, "a.jpg", jpeg_bytes(1080, 1920))

    for platform in ("x", "mastodon", "bluesky", "facebook", "unknown-platform"):
        assert fit_for_platform(asset, platform) == asset
    assert fit_for_platform(_add(workspace, user, "v.mp4", mp4_bytes()), "instagram").kind == "video"


def test_describe_fit_says_what_will_happen(workspace, user):
    asset = _add(workspace, user, "tall.jpg", jpeg_bytes(1080, 1920))

    fit = describe_fit(asset, "instagram")

    assert (fit.action, fit.ratio_key) == ("crop", "4x5")
    assert fit.message == "Will be cropped to 4:5 (from the center): Instagram takes 4:5 to 1.91:1."
    assert fit.ratio_css == "125.0000%"
    assert describe_fit(asset, "x").action == "fits"
    assert MediaRendition.objects.count() == 0  # describing makes nothing


def test_provider_media_gives_the_provider_a_signed_url_and_the_facts(workspace, user):
    asset = _add(workspace, user, "a.jpg", jpeg_bytes(1080, 1920), alt_text="A tall picture")

    plain = provider_media(asset)
    fitted = provider_media(asset, platform="instagram")

    assert isinstance(plain, Media)
    assert (plain.content_type, plain.size, plain.width, plain.height, plain.alt_text) == (
        "image/jpeg",
        asset.size_bytes,
        1080,
        1920,
        "A tall picture",
    )
    assert plain.url.startswith("http://letsgrow.test/m/")
    rendition = MediaRendition.objects.get(asset=asset, ratio_key="4x5")
    assert (fitted.content_type, fitted.size, fitted.width, fitted.height) == (
        "image/jpeg",
        rendition.size_bytes,
        rendition.width,
        rendition.height,
    )
    assert fitted.url != plain.url
    assert media.resolve_signed_token(fitted.url.rsplit("/m/", 1)[1].rstrip("/")).file.name == rendition.file.name
