"""The media library: upload or import images and videos, fit them to each platform, hand them to providers.

Every file is judged by its bytes, never its name: `filetype` names the type, the
workspace's plan caps the size, Pillow (with a pixel bound) proves an image is
readable. Images are then re-encoded, so the stored file carries nothing of the
original's metadata (EXIF with GPS, XMP, comments, ICC): only pixels, turned upright.
Videos are stored as uploaded; their size and duration are read from the MP4/MOV
`moov` box with bounded reads.

Platforms fetch attached media by URL, so each file has a signed, expiring public
URL (`signed_media_url`, served by `views_media.public_file` at /m/<token>/).
`provider_media` is what the composer and the delivery engine call: it fits an
image to the platform (center crop to an accepted aspect ratio, size and type
within its limits) and returns the `Media` dataclass providers take.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import filetype
from django.conf import settings
from django.contrib.sites.models import Site
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from PIL import Image, ImageOps

from accounts.models import User, Workspace
from billing.limits import plan_for
from billing.plans import PLANS
from content.models import MediaAsset, MediaRendition, Post, PostMedia
from letsgrow.lib.safe_fetch import FetchRefused, fetch
from publishing.providers.base import Media

logger = logging.getLogger(__name__)

Kind = MediaAsset.Kind

# Detected type → (kind, stored extension, name people know it by).
ACCEPTED_TYPES: dict[str, tuple[str, str, str]] = {
    "image/jpeg": (Kind.IMAGE, "jpg", "JPEG"),
    "image/png": (Kind.IMAGE, "png", "PNG"),
    "image/gif": (Kind.IMAGE, "gif", "GIF"),
    "image/webp": (Kind.IMAGE, "webp", "WebP"),
    "video/mp4": (Kind.VIDEO, "mp4", "MP4"),
    "video/quicktime": (Kind.VIDEO, "mov", "MOV"),
}
ACCEPTED_SUMMARY = "JPEG, PNG, GIF and WebP images, and MP4 and MOV videos"
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
# Names for types people upload by mistake, so the refusal says what the file really is.
_KNOWN_OTHER_TYPES = {
    "application/pdf": "a PDF document",
    "application/zip": "a ZIP archive",
    "image/heic": "a HEIC photo (convert it to JPEG first)",
    "image/heif": "a HEIF photo (convert it to JPEG first)",
    "image/avif": "an AVIF image",
    "image/tiff": "a TIFF image",
    "image/bmp": "a BMP image",
    "image/svg+xml": "an SVG drawing",
    "video/webm": "a WebM video",
    "video/x-msvideo": "an AVI video",
    "video/x-matroska": "a Matroska (MKV) video",
    "video/x-m4v": "an M4V video",
    "audio/mpeg": "an MP3 audio file",
}

HEAD_BYTES = 8192  # what filetype looks at
# The decoded image is held in memory (4 bytes a pixel with alpha): 50 MP is about 200 MB. Larger is refused.
MAX_PIXELS = 50_000_000
# Animations keep every frame in memory; past this many frame-pixels only the first frame is kept.
MAX_ANIMATION_PIXELS = 40_000_000
MAX_FRAMES = 500
THUMBNAIL_SIZE = 480
JPEG_QUALITY = 90
MAX_ALT_TEXT = 1500
MAX_NAME = 255
# The moov box is read into memory to find the size and duration; past this we say "unknown".
MAX_MOOV_BYTES = 16 * 1024 * 1024
MAX_TOP_LEVEL_BOXES = 10_000

SIGNING_SALT = "content.media"
DEFAULT_URL_LIFETIME = timedelta(days=7)
# However long a caller asked for, a token stops working after this.
MAX_URL_LIFETIME = timedelta(days=90)

NOT_READABLE = "This file is not a readable image (it may be truncated or damaged)."


# --------------------------------------------------------------------------- platform rules


@dataclass(frozen=True)
class PlatformMediaRules:
    """What one platform accepts for images; None means no limit we know of."""

    name: str
    min_ratio: float | None = None  # width / height
    max_ratio: float | None = None
    crops: tuple[str, ...] = ()  # ratio keys to crop to when the image is outside the range
    image_types: frozenset[str] | None = None
    max_image_bytes: int | None = None
    max_gif_bytes: int | None = None
    max_pixels: int | None = None


# Sources: /work/shared/PLATFORMS.md and each provider's own checks (publishing/providers/*/provider.py).
PLATFORM_RATIOS: dict[str, PlatformMediaRules] = {
    # Images JPEG ≤ 8 MB with an aspect ratio 4:5 to 1.91:1 (content-publishing guide; instagram/provider.py).
    "instagram": PlatformMediaRules(
        name="Instagram",
        min_ratio=4 / 5,
        max_ratio=1.91,
        crops=("4x5", "1x1", "1.91x1"),
        image_types=frozenset({"image/jpeg"}),
        max_image_bytes=8 * 1024 * 1024,
    ),
    # JPEG/PNG ≤ 8 MB [U] (threads/provider.py).
    "threads": PlatformMediaRules(
        name="Threads", image_types=frozenset({"image/jpeg", "image/png"}), max_image_bytes=8 * 1024 * 1024
    ),
    # Images ≤ 5 MB (JPG/PNG/WEBP), animated GIF ≤ 15 MB (media best-practices; x/provider.py).
    "x": PlatformMediaRules(
        name="X",
        image_types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
        max_image_bytes=5 * 1024 * 1024,
        max_gif_bytes=15 * 1024 * 1024,
    ),
    # Photos under 4 MB (facebook/provider.py).
    "facebook": PlatformMediaRules(
        name="Facebook",
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        max_image_bytes=4 * 1024 * 1024,
    ),
    # JPG, PNG or GIF under 36,152,320 pixels (LinkedIn images API via CData docs [U]).
    "linkedin": PlatformMediaRules(
        name="LinkedIn", image_types=frozenset({"image/jpeg", "image/png", "image/gif"}), max_pixels=36_152_320
    ),
    # Per instance; the defaults accept all our types (mastodon/provider.py reads the real limits).
    "mastodon": PlatformMediaRules(name="Mastodon"),
    # Each image blob ≤ 2,000,000 bytes (app.bsky.embed.images; bluesky/provider.py).
    "bluesky": PlatformMediaRules(name="Bluesky", max_image_bytes=2_000_000),
}

ORIGINAL_RATIO = "original"  # a rendition with the image's own ratio, re-encoded to fit the limits
_RATIO_KEY = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)x(\d{1,2}(?:\.\d{1,2})?)$")
# One rendition per ratio serves every platform, so it is made to fit the strictest of them
# (Bluesky's 2,000,000 bytes); 2048 px on the long side is more than any feed shows.
RENDITION_MAX_SIDE = 2048
RENDITION_MAX_BYTES = 1_900_000


# --------------------------------------------------------------------------- ingest


@dataclass(frozen=True)
class _Image:
    content: bytes
    width: int
    height: int
    thumbnail: bytes
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Video:
    width: int | None
    height: int | None
    duration_seconds: float | None


def upload_media(*, workspace: Workspace, actor: User | None, uploaded_file: Any, alt_text: str = "") -> MediaAsset:
    """Add an uploaded file (a Django UploadedFile) to the workspace's media library.

    Returns the new asset, or the existing one when the same image is already in the
    library (then `asset.already_in_library` is True). `asset.ingest_notes` lists what
    was changed on the way in (e.g. an animation kept as its first frame).
    Raises ValidationError with a plain message for anything it refuses.
    """
    size = getattr(uploaded_file, "size", None)
    if size is None:
        raise ValidationError("The upload did not say how large the file is. Try again.")
    uploaded_file.seek(0)
    return _ingest(
        workspace=workspace,
        actor=actor,
        stream=uploaded_file,
        size=size,
        original_name=getattr(uploaded_file, "name", "") or "",
        source_url="",
        alt_text=alt_text,
    )


def import_media_from_url(*, workspace: Workspace, actor: User | None, url: str, alt_text: str = "") -> MediaAsset:
    """Download an image or a video from a public web address into the media library.

    The download refuses private and local addresses, and is bounded in size (the
    plan's largest file, at most MEDIA_IMPORT_MAX_BYTES) and in time
    (MEDIA_IMPORT_MAX_SECONDS). Then it is checked exactly like an upload.
    """
    plan = plan_for(workspace)
    ceiling = int(getattr(settings, "MEDIA_IMPORT_MAX_BYTES", 100 * 1024 * 1024))
    max_bytes = min(ceiling, max(plan.max_image_bytes, plan.max_video_bytes))
    url = (url or "").strip()
    try:
        fetched = fetch(url, max_bytes=max_bytes, timeout_seconds=float(settings.MEDIA_IMPORT_MAX_SECONDS))
    except FetchRefused as exc:
        raise ValidationError(exc.message, code="fetch_refused") from exc
    name = unquote(urlsplit(fetched.final_url).path.rsplit("/", 1)[-1])
    return _ingest(
        workspace=workspace,
        actor=actor,
        stream=io.BytesIO(fetched.content),
        size=len(fetched.content),
        original_name=name,
        source_url=url[:2000],
        alt_text=alt_text,
    )


def _ingest(
    *,
    workspace: Workspace,
    actor: User | None,
    stream: IO[bytes],
    size: int,
    original_name: str,
    source_url: str,
    alt_text: str,
) -> MediaAsset:
    """Check, clean and store one file: the path every upload and import takes."""
    if size <= 0:
        raise ValidationError("This file is empty (0 bytes).", code="empty")
    alt_text = _clean_alt_text(alt_text)
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    content_type = _detect_type(head)
    kind, extension, _label = ACCEPTED_TYPES[content_type]
    _check_plan_size(workspace, kind=kind, size=size)

    asset = MediaAsset(
        workspace=workspace,
        uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        kind=kind,
        storage_name=f"{secrets.token_hex(16)}.{extension}",
        original_name=clean_name(original_name),
        source_url=source_url,
        content_type=content_type,
        alt_text=alt_text,
    )
    notes: tuple[str, ...] = ()
    if kind == Kind.IMAGE:
        # The plan's cap was checked above, so this read is bounded.
        image = _process_image(stream.read(size + 1), content_type)
        asset.sha256 = hashlib.sha256(image.content).hexdigest()
        asset.size_bytes = len(image.content)
        asset.width, asset.height = image.width, image.height
        notes = image.notes
        existing = _existing(workspace, asset.sha256)
        if existing is not None:
            return _mark(existing, already=True, notes=notes)
        asset.file.save(asset.storage_name, ContentFile(image.content), save=False)
        asset.thumbnail.save(asset.storage_name, ContentFile(image.thumbnail), save=False)
    else:
        video = _probe_video(stream, size)
        asset.sha256 = _stream_sha256(stream)
        asset.size_bytes = size
        asset.width, asset.height, asset.duration_seconds = video.width, video.height, video.duration_seconds
        existing = _existing(workspace, asset.sha256)
        if existing is not None:
            return _mark(existing, already=True, notes=notes)
        stream.seek(0)
        # An uploaded temporary file is moved into place rather than copied.
        content = stream if isinstance(stream, File) else File(stream, name=asset.storage_name)
        asset.file.save(asset.storage_name, content, save=False)
    return _mark(_save_new(asset), already=False, notes=notes)


def _mark(asset: MediaAsset, *, already: bool, notes: tuple[str, ...]) -> MediaAsset:
    # Not fields: what the caller shows about this one ingest ("already in your library").
    asset.already_in_library = already  # type: ignore[attr-defined]
    asset.ingest_notes = notes  # type: ignore[attr-defined]
    return asset


def _existing(workspace: Workspace, sha256: str) -> MediaAsset | None:
    return MediaAsset.objects.for_workspace(workspace).filter(sha256=sha256).order_by("pk").first()


class _AlreadyThere(Exception):
    def __init__(self, asset: MediaAsset) -> None:
        self.asset = asset


def _save_new(asset: MediaAsset) -> MediaAsset:
    """Save the row; on a concurrent identical upload or any failure, remove the files just written."""
    try:
        with transaction.atomic():
            # Serialises ingests per workspace (PostgreSQL) so two identical uploads make one asset.
            Workspace.objects.select_for_update().filter(pk=asset.workspace_id).first()
            existing = _existing(asset.workspace, asset.sha256)
            if existing is not None:
                raise _AlreadyThere(existing)
            asset.save()
    except _AlreadyThere as there:
        _delete_files(asset.file, asset.thumbnail)
        return _mark(there.asset, already=True, notes=())
    except BaseException:
        _delete_files(asset.file, asset.thumbnail)
        raise
    return asset


def _delete_files(*files: FieldFile) -> None:
    for field_file in files:
        if field_file and field_file.name:
            try:
                field_file.storage.delete(field_file.name)
            except OSError:
                logger.warning("Could not delete media file %s", field_file.name, exc_info=True)


def _detect_type(head: bytes) -> str:
    try:
        kind = filetype.guess(head)
    except Exception:  # a matcher tripping over odd bytes means "not a type we know", nothing worse
        logger.info("filetype could not judge an upload", exc_info=True)
        kind = None
    if kind is None:
        raise ValidationError(
            f"We could not recognise this file's type. The media library accepts {ACCEPTED_SUMMARY}.",
            code="unknown_type",
        )
    if kind.mime not in ACCEPTED_TYPES:
        what = _KNOWN_OTHER_TYPES.get(kind.mime, f"a {kind.extension.upper()} file")
        raise ValidationError(
            f"This file is {what} ({kind.mime}), whatever its name says. The media library accepts {ACCEPTED_SUMMARY}.",
            code="wrong_type",
        )
    return kind.mime


def _check_plan_size(workspace: Workspace, *, kind: str, size: int) -> None:
    plan = plan_for(workspace)
    attribute = "max_image_bytes" if kind == Kind.IMAGE else "max_video_bytes"
    limit: int = getattr(plan, attribute)
    if size <= limit:
        return
    noun = "image" if kind == Kind.IMAGE else "video"
    message = f"This {noun} is {human_size(size)}; the {plan.name} plan takes {noun}s up to {human_size(limit)}."
    bigger = sorted(
        (other for other in PLANS.values() if getattr(other, attribute) > limit and other.price_per_month_usd > 0),
        key=lambda other: other.price_per_month_usd,
    )
    if bigger:
        message += f" Upgrade to {bigger[0].name} for {noun}s up to {human_size(getattr(bigger[0], attribute))}."
    else:
        message += " Make the file smaller and try again."
    raise ValidationError(message, code="too_large")


def clean_name(name: str) -> str:
    """The uploaded name as shown to people (last path segment, printable, at most 255 characters)."""
    # Shown, never used as a path: keep the last path segment, without control characters.
    base = re.split(r"[\\/]", name or "")[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:MAX_NAME]


def _clean_alt_text(alt_text: str) -> str:
    text = (alt_text or "").strip()
    if len(text) > MAX_ALT_TEXT:
        raise ValidationError(
            f"Alt text can be at most {MAX_ALT_TEXT} characters (this has {len(text)}).", code="alt_text"
        )
    return text


def human_size(size: int) -> str:
    """A byte count as people read it: 512 bytes, 14 KB, 5 MB, 1.5 GB."""
    if size < 1024:
        return f"{size} bytes"
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


# --------------------------------------------------------------------------- images


def _process_image(data: bytes, content_type: str) -> _Image:
    """Prove `data` is a readable image of a sane size, and re-encode it without metadata."""
    pillow_format = _PILLOW_FORMATS[content_type]
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as probe:
            _check_pixels(probe.width, probe.height)
            probe.verify()
        # verify() leaves the image unusable; open again to decode it.
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            _check_pixels(image.width, image.height)
            return _reencode(image, pillow_format)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(_too_many_pixels_message(None, None), code="too_many_pixels") from exc
    except MemoryError as exc:
        raise ValidationError(
            "This image is too large to process. Make it smaller and try again.", code="too_large"
        ) from exc
    except Exception as exc:
        # Pillow's decoders report broken input as OSError, SyntaxError, ValueError, struct.error,
        # EOFError, IndexError…; whichever it is, the person needs the same answer.
        logger.info("Unreadable %s upload: %r", content_type, exc)
        raise ValidationError(NOT_READABLE, code="unreadable") from exc


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValidationError(NOT_READABLE, code="unreadable")
    if width * height > MAX_PIXELS:
        raise ValidationError(_too_many_pixels_message(width, height), code="too_many_pixels")


def _too_many_pixels_message(width: int | None, height: int | None) -> str:
    limit = f"LetsGrow takes images up to {MAX_PIXELS // 1_000_000} megapixels"
    if width is None or height is None:
        return f"This image has far too many pixels; {limit}. Make it smaller and upload it again."
    return f"This image is {width:,} x {height:,} pixels; {limit}. Make it smaller and upload it again."


def _reencode(image: Image.Image, pillow_format: str) -> _Image:
    frame_count = getattr(image, "n_frames", 1) if pillow_format in ("GIF", "WEBP") else 1
    notes: list[str] = []
    if frame_count > 1:
        if frame_count <= MAX_FRAMES and frame_count * image.width * image.height <= MAX_ANIMATION_PIXELS:
            content, first = _reencode_animation(image, pillow_format, frame_count)
            return _Image(content, first.width, first.height, _thumbnail(first), ())
        notes.append(
            f"This animation has {frame_count} frames of {image.width} x {image.height} pixels, more than LetsGrow "
            "keeps; only its first frame was saved."
        )
        image.seek(0)
    image.load()
    clean = _upright(image)
    clean = _to_srgb(clean, image.info.get("icc_profile"))
    clean = _mode_for(clean, pillow_format)
    out = io.BytesIO()
    _save_clean(clean, out, pillow_format)
    content = out.getvalue()
    return _Image(content, clean.width, clean.height, _thumbnail(clean), tuple(notes))


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (the orientation tag itself is dropped with the rest)."""
    try:
        turned = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: it is being discarded anyway
        logger.info("Ignoring unreadable EXIF orientation", exc_info=True)
        return image
    return turned if turned is not None else image


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert colours to sRGB when the image carried a profile, so dropping the profile keeps the colours."""
    if not icc_profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode)
    except Exception:  # no LittleCMS, or a broken profile: the pixels stay as they are
        logger.info("Could not convert an ICC profile to sRGB", exc_info=True)
        return image
    return converted if converted is not None else image


def _mode_for(image: Image.Image, pillow_format: str) -> Image.Image:
    mode = image.mode
    if pillow_format == "JPEG":
        return image if mode in ("L", "RGB") else image.convert("RGB")
    if pillow_format == "PNG":
        return image if mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16") else image.convert("RGBA")
    if pillow_format == "WEBP":
        if mode in ("RGB", "RGBA"):
            return image
        has_alpha = mode in ("LA", "PA", "RGBa") or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    return image  # GIF: the writer quantises whatever it gets


def _save_clean(image: Image.Image, out: IO[bytes], pillow_format: str, **params: Any) -> None:
    """Encode with no metadata: Pillow's writers copy EXIF, XMP, comments and ICC from `info`, so empty it."""
    kept = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.info = kept
    if pillow_format == "JPEG":
        params.setdefault("quality", JPEG_QUALITY)
    elif pillow_format == "WEBP":
        params.setdefault("quality", JPEG_QUALITY)
        params.setdefault("method", 4)
    image.save(out, format=pillow_format, **params)


def _reencode_animation(image: Image.Image, pillow_format: str, frame_count: int) -> tuple[bytes, Image.Image]:
    """All frames, re-encoded (Pillow composites each frame, so they are whole pictures), with their timing."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    loop = image.info.get("loop")  # absent: the animation plays once, and must stay so
    for index in range(frame_count):
        image.seek(index)
        image.load()  # WebP sets a frame's duration only once it is loaded
        durations.append(int(image.info.get("duration") or 100))
        frame = image.convert("RGBA")
        frame.info = {}
        frames.append(frame)
    out = io.BytesIO()
    params: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if loop is not None:
        params["loop"] = loop
    if pillow_format == "GIF":
        params["disposal"] = 2
    _save_clean(frames[0], out, pillow_format, **params)
    return out.getvalue(), frames[0]


def _thumbnail(image: Image.Image) -> bytes:
    base = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGBA")
    scale = min(1.0, THUMBNAIL_SIZE / max(base.width, base.height))
    size = (max(1, round(base.width * scale)), max(1, round(base.height * scale)))
    small = base.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if scale < 1 else base.copy()
    return _jpeg_bytes(_flatten(small), quality=82)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _jpeg_bytes(image: Image.Image, *, quality: int) -> bytes:
    out = io.BytesIO()
    _save_clean(image, out, "JPEG", quality=quality)
    return out.getvalue()


# --------------------------------------------------------------------------- videos


def _probe_video(stream: IO[bytes], size: int) -> _Video:
    """Width, height and duration from the `moov` box; refuse a file whose box structure is broken.

    Only box headers are read while walking the file, and the moov box (where the index
    lives) only when it is of a sane size, so a huge or hostile file costs little.
    """
    boxes = _top_level_boxes(stream, size)
    if not boxes or boxes[0][0] != b"ftyp":
        raise ValidationError("This file is not a readable video (its MP4 structure is broken).", code="unreadable")
    moov = next(((start, end) for box_type, start, end in boxes if box_type == b"moov"), None)
    if moov is None:
        raise ValidationError(
            "This video has no index (moov box); it may be incomplete. Export it again and upload the new file.",
            code="unreadable",
        )
    start, end = moov
    if end - start > MAX_MOOV_BYTES:
        return _Video(None, None, None)
    stream.seek(start)
    data = stream.read(end - start)
    try:
        return _parse_moov(data)
    except (struct.error, ValueError, IndexError) as exc:
        raise ValidationError("This file is not a readable video (its index is damaged).", code="unreadable") from exc


def _top_level_boxes(stream: IO[bytes], size: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, end) of every top-level box, checking the sizes add up to the file."""
    boxes: list[tuple[bytes, int, int]] = []
    offset = 0
    broken = ValidationError("This file is not a readable video (its MP4 structure is broken).", code="unreadable")
    while offset < size:
        if len(boxes) >= MAX_TOP_LEVEL_BOXES:
            raise broken
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            raise broken
        box_size, box_type = struct.unpack(">I4s", header)
        header_size = 8
        if box_size == 1:
            large = stream.read(8)
            if len(large) < 8:
                raise broken
            box_size = struct.unpack(">Q", large)[0]
            header_size = 16
        elif box_size == 0:  # "to the end of the file"
            box_size = size - offset
        if box_size < header_size or offset + box_size > size or not _is_box_type(box_type):
            raise broken
        boxes.append((box_type, offset + header_size, offset + box_size))
        offset += box_size
    return boxes


def _is_box_type(box_type: bytes) -> bool:
    return all(32 <= byte < 127 or byte == 0xA9 for byte in box_type)


def _child_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    end = len(data) if end is None else end
    boxes: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end:
        box_size, box_type = struct.unpack_from(">I4s", data, offset)
        header_size = 8
        if box_size == 1:
            box_size = struct.unpack_from(">Q", data, offset + 8)[0]
            header_size = 16
        elif box_size == 0:
            box_size = end - offset
        if box_size < header_size or offset + box_size > end:
            raise ValueError("box overruns its parent")
        boxes.append((box_type, offset + header_size, offset + box_size))
        offset += box_size
    return boxes


def _parse_moov(data: bytes) -> _Video:
    children = _child_boxes(data)
    mvhd = next(((s, e) for t, s, e in children if t == b"mvhd"), None)
    if mvhd is None:
        raise ValueError("no mvhd")
    duration = _mvhd_duration(data, mvhd[0])
    width = height = None
    for box_type, start, end in children:
        if box_type != b"trak":
            continue
        found = _video_track_size(data, start, end)
        if found is not None:
            width, height = found
            break
    return _Video(width, height, duration)


def _mvhd_duration(data: bytes, start: int) -> float | None:
    version = data[start]
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", data, start + 4 + 16)
    else:
        timescale, duration = struct.unpack_from(">II", data, start + 4 + 8)
    if timescale <= 0 or duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return round(duration / timescale, 3)


def _video_track_size(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    children = _child_boxes(data, start, end)
    handler = None
    for box_type, child_start, child_end in children:
        if box_type == b"mdia":
            for inner_type, inner_start, _inner_end in _child_boxes(data, child_start, child_end):
                if inner_type == b"hdlr":
                    handler = data[inner_start + 8 : inner_start + 12]
    if handler != b"vide":
        return None
    tkhd = next(((s, e) for t, s, e in children if t == b"tkhd"), None)
    if tkhd is None:
        return None
    position = tkhd[0]
    version = data[position]
    # After version/flags: times, track id, reserved, duration, reserved, layer, group, volume, reserved.
    matrix_at = position + 4 + (32 if version == 1 else 20) + 8 + 8
    a, b, _u, c, d = struct.unpack_from(">iiiii", data, matrix_at)
    width, height = struct.unpack_from(">II", data, matrix_at + 36)
    width, height = width >> 16, height >> 16
    if width <= 0 or height <= 0:
        return None
    if a == 0 and d == 0 and b != 0 and c != 0:  # turned a quarter: shown the other way round
        width, height = height, width
    return width, height


def _stream_sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


# --------------------------------------------------------------------------- library


def library_assets(workspace: Workspace) -> QuerySet[MediaAsset]:
    """The workspace's media, newest first, with `post_count` (posts using each)."""
    return (
        MediaAsset.objects.for_workspace(workspace)
        .annotate(post_count=Count("uses__post", distinct=True))
        .order_by("-created_at", "-pk")  # Meta.ordering does not apply to a grouped query
    )


@transaction.atomic
def update_alt_text(*, asset: MediaAsset, actor: User | None, alt_text: str) -> MediaAsset:
    """Set the description screen readers read out (and platforms that take alt text send)."""
    asset.alt_text = _clean_alt_text(alt_text)
    asset.save(update_fields=["alt_text"])
    return asset


def delete_media(*, asset: MediaAsset, actor: User | None) -> None:
    """Remove the asset and its files; refused while a post that has not been published yet uses it."""
    with transaction.atomic():
        pending = (
            Post.objects.filter(media__asset=asset)
            .exclude(status=Post.Status.PUBLISHED)
            .distinct()
            .order_by("-created_at")
        )
        titles = [str(post) for post in pending[:3]]
        if titles:
            count = pending.count()
            shown = "; ".join(f"“{title}”" for title in titles)
            more = f" and {count - len(titles)} more" if count > len(titles) else ""
            raise ValidationError(
                f"This file is attached to {count} post{'s' if count != 1 else ''} not published yet ({shown}{more}). "
                "Remove it from those posts first.",
                code="in_use",
            )
        # Published posts keep their copy on the platform; the link to our file is only history.
        PostMedia.objects.filter(asset=asset).delete()
        files = [asset.file, asset.thumbnail, *(rendition.file for rendition in asset.renditions.all())]
        try:
            asset.delete()
        except ProtectedError as exc:  # attached to a post between the check and now
            raise ValidationError(
                "This file was just attached to a post. Remove it from that post first.", code="in_use"
            ) from exc
        transaction.on_commit(lambda: _delete_files(*files))


# --------------------------------------------------------------------------- renditions and platforms


def ratio_value(ratio_key: str) -> float | None:
    """4x5 → 0.8; "original" → None. ValueError for anything else."""
    if ratio_key == ORIGINAL_RATIO:
        return None
    match = _RATIO_KEY.match(ratio_key or "")
    if not match or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise ValueError(f"Not a ratio key: {ratio_key!r}")
    return float(match.group(1)) / float(match.group(2))


def ratio_label(ratio_key: str) -> str:
    return "its own shape" if ratio_key == ORIGINAL_RATIO else ratio_key.replace("x", ":")


def rendition_for(asset: MediaAsset, ratio_key: str) -> MediaRendition:
    """A JPEG of the image center-cropped to `ratio_key` (or "original"), within the platforms' limits; cached."""
    if asset.kind != Kind.IMAGE:
        raise ValidationError("Only images get cropped copies; videos are sent as uploaded.", code="not_image")
    try:
        ratio = ratio_value(ratio_key)
    except ValueError as exc:
        raise ValidationError(f"“{ratio_key}” is not an aspect ratio like 4x5.", code="bad_ratio") from exc
    existing = MediaRendition.objects.filter(asset=asset, ratio_key=ratio_key).first()
    if existing is not None and existing.file and existing.file.storage.exists(existing.file.name):
        return existing
    content, width, height = _render(asset, ratio)
    rendition = existing or MediaRendition(asset=asset, ratio_key=ratio_key)
    old_file = existing.file.name if existing is not None else ""
    rendition.width, rendition.height, rendition.size_bytes = width, height, len(content)
    rendition.file.save(f"{ratio_key}.jpg", ContentFile(content), save=False)
    try:
        rendition.save()
    except IntegrityError:
        # Another worker made it first: use theirs.
        _delete_files(rendition.file)
        return MediaRendition.objects.get(asset=asset, ratio_key=ratio_key)
    if old_file and old_file != rendition.file.name:
        rendition.file.storage.delete(old_file)
    return rendition


def _render(asset: MediaAsset, ratio: float | None) -> tuple[bytes, int, int]:
    try:
        with asset.file.open("rb") as handle, Image.open(handle) as image:
            _check_pixels(image.width, image.height)
            image.seek(0)
            image.load()
            picture = _flatten(image)
    except ValidationError:
        raise
    except Exception as exc:
        logger.warning("Could not render media asset %s", asset.pk, exc_info=True)
        raise ValidationError("The stored image could not be read to make a cropped copy.", code="unreadable") from exc
    if ratio is not None:
        picture = _center_crop(picture, ratio)
    scale = min(1.0, RENDITION_MAX_SIDE / max(picture.width, picture.height))
    quality = 88
    for _attempt in range(10):
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        resized = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if scale < 1 else picture
        content = _jpeg_bytes(resized, quality=quality)
        if len(content) <= RENDITION_MAX_BYTES:
            break
        # Lower the quality a little first, then the size: detail matters more than pixels in a feed.
        if quality > 72:
            quality -= 8
        else:
            scale *= 0.75
    return content, size[0], size[1]


def _center_crop(image: Image.Image, ratio: float) -> Image.Image:
    width, height = image.size
    if width / height > ratio:
        new_width = max(1, round(height * ratio))
        left = (width - new_width) // 2
        return image.crop((left, 0, left + new_width, height))
    new_height = max(1, round(width / ratio))
    top = (height - new_height) // 2
    return image.crop((0, top, width, top + new_height))


@dataclass(frozen=True)
class PlatformFit:
    """How an asset goes to one platform: as it is, cropped, or re-encoded."""

    platform: str
    name: str
    action: str  # "fits", "crop", "reencode", "video"
    ratio_key: str | None  # the rendition used, when not the original
    message: str

    @property
    def ratio_css(self) -> str:
        """The preview box's height as a percentage of its width (Bootstrap's --bs-aspect-ratio)."""
        if not self.ratio_key or self.ratio_key == ORIGINAL_RATIO:
            return ""
        return f"{100 / (ratio_value(self.ratio_key) or 1):.4f}%"


def describe_fit(asset: MediaAsset, platform: str) -> PlatformFit:
    """What fit_for_platform would do, without making anything (for the asset page)."""
    rules = PLATFORM_RATIOS.get(platform)
    name = rules.name if rules else platform
    if asset.kind != Kind.IMAGE:
        return PlatformFit(platform, name, "video", None, "Videos are sent as uploaded.")
    if rules is None or not asset.width or not asset.height:
        return PlatformFit(platform, name, "fits", None, "Sent as it is.")
    ratio = asset.width / asset.height
    if (rules.min_ratio is not None and ratio < rules.min_ratio) or (
        rules.max_ratio is not None and ratio > rules.max_ratio
    ):
        key = min(rules.crops, key=lambda crop: abs(math.log((ratio_value(crop) or ratio) / ratio)))
        return PlatformFit(
            platform,
            name,
            "crop",
            key,
            f"Will be cropped to {ratio_label(key)} (from the center): {name} takes "
            f"{_ratio_text(rules.min_ratio)} to {_ratio_text(rules.max_ratio)}.",
        )
    reason = _reencode_reason(asset, rules)
    if reason:
        return PlatformFit(platform, name, "reencode", ORIGINAL_RATIO, f"Will be sent as a smaller JPEG copy: {reason}")
    return PlatformFit(platform, name, "fits", None, "Fits as it is.")


def _ratio_text(value: float | None) -> str:
    known = {0.8: "4:5", 1.0: "1:1", 1.91: "1.91:1"}
    return "any" if value is None else known.get(round(value, 2), f"{value:g}:1")


def _reencode_reason(asset: MediaAsset, rules: PlatformMediaRules) -> str:
    if rules.image_types is not None and asset.content_type not in rules.image_types:
        label = ACCEPTED_TYPES.get(asset.content_type, ("", "", asset.content_type))[2]
        return f"{rules.name} does not take {label} images."
    limit = rules.max_gif_bytes if asset.content_type == "image/gif" and rules.max_gif_bytes else rules.max_image_bytes
    if limit is not None and asset.size_bytes > limit:
        return f"{rules.name} takes images up to {human_size(limit)}."
    if rules.max_pixels is not None and (asset.width or 0) * (asset.height or 0) > rules.max_pixels:
        return f"{rules.name} takes images up to {rules.max_pixels:,} pixels."
    return ""


def fit_for_platform(asset: MediaAsset, platform: str) -> MediaAsset | MediaRendition:
    """The file to send to `platform`: the original when it is accepted as it is, else a rendition."""
    fit = describe_fit(asset, platform)
    if fit.ratio_key is None:
        return asset
    return rendition_for(asset, fit.ratio_key)


def provider_media(asset: MediaAsset, *, platform: str | None = None) -> Media:
    """The `Media` a provider takes for this asset: for `platform`, of the file fitted to it.

    `url` is absolute, public and signed (platforms fetch it); `data` is left empty.
    """
    target: MediaAsset | MediaRendition = asset
    if platform:
        try:
            target = fit_for_platform(asset, platform)
        except ValidationError:
            # The provider's own validation will explain what is wrong with the original.
            logger.warning("No rendition of media asset %s for %s; sending the original", asset.pk, platform)
            target = asset
    if isinstance(target, MediaRendition):
        return Media(
            content_type="image/jpeg",
            size=target.size_bytes,
            url=signed_media_url(target),
            alt_text=asset.alt_text,
            width=target.width,
            height=target.height,
        )
    return Media(
        content_type=asset.content_type,
        size=asset.size_bytes,
        url=signed_media_url(asset),
        alt_text=asset.alt_text,
        width=asset.width,
        height=asset.height,
    )


# --------------------------------------------------------------------------- signed public URLs


@dataclass(frozen=True)
class SignedFile:
    file: FieldFile
    content_type: str
    download_name: str
    expires_at: float  # Unix time


def _file_tag(name: str) -> str:
    # Binds the token to this exact file: a replaced or re-created file does not answer an old token.
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SIGNING_SALT)


def signed_media_path(
    item: MediaAsset | MediaRendition, *, thumbnail: bool = False, expires_in: timedelta = DEFAULT_URL_LIFETIME
) -> str:
    """The site-relative path of a signed link to the file (or its thumbnail) that works without a session."""
    if isinstance(item, MediaRendition):
        kind, field_file = "r", item.file
    elif thumbnail:
        kind, field_file = "t", item.thumbnail
    else:
        kind, field_file = "a", item.file
    expires = int(time.time() + min(expires_in, MAX_URL_LIFETIME).total_seconds())
    token = _signer().sign_object({"k": kind, "id": item.pk, "f": _file_tag(field_file.name or ""), "e": expires})
    return reverse("content_media_public:file", kwargs={"token": token})


def signed_media_url(
    item: MediaAsset | MediaRendition, *, thumbnail: bool = False, expires_in: timedelta = DEFAULT_URL_LIFETIME
) -> str:
    """An absolute signed link (the site's domain) to the file, for platforms that fetch media by URL."""
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    path = signed_media_path(item, thumbnail=thumbnail, expires_in=expires_in)
    return f"{protocol}://{Site.objects.get_current().domain}{path}"


def resolve_signed_token(token: str) -> SignedFile | None:
    """The file a token names, or None when it is forged, expired, or its file is gone."""
    try:
        payload = _signer().unsign_object(token, max_age=MAX_URL_LIFETIME)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(payload, dict):
        return None
    kind, pk, tag, expires = payload.get("k"), payload.get("id"), payload.get("f"), payload.get("e")
    if not isinstance(pk, int) or not isinstance(expires, int) or expires < time.time():
        return None
    if kind == "r":
        rendition = MediaRendition.objects.select_related("asset").filter(pk=pk).first()
        if rendition is None:
            return None
        field_file, content_type = rendition.file, "image/jpeg"
        stem = f"{rendition.asset.storage_name.rsplit('.', 1)[0]}-{rendition.ratio_key}.jpg"
    elif kind in ("a", "t"):
        asset = MediaAsset.objects.filter(pk=pk).first()
        if asset is None:
            return None
        if kind == "t":
            field_file, content_type = asset.thumbnail, "image/jpeg"
            stem = f"{asset.storage_name.rsplit('.', 1)[0]}-thumbnail.jpg"
        else:
            field_file, content_type, stem = asset.file, asset.content_type, asset.storage_name
    else:
        return None
    if not field_file or not field_file.name or _file_tag(field_file.name) != tag:
        return None
    return SignedFile(file=field_file, content_type=content_type, download_name=stem, expires_at=expires)


__all__ = [
    "ACCEPTED_TYPES",
    "PLATFORM_RATIOS",
    "PlatformFit",
    "PlatformMediaRules",
    "delete_media",
    "describe_fit",
    "fit_for_platform",
    "import_media_from_url",
    "library_assets",
    "provider_media",
    "rendition_for",
    "resolve_signed_token",
    "signed_media_path",
    "signed_media_url",
    "update_alt_text",
    "upload_media",
]
