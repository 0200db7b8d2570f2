"""Test files for the media library, made in code: images with Pillow, MP4s box by box, broken ones by hand."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image


def jpeg_bytes(
    width: int = 64,
    height: int = 48,
    *,
    gps: bool = False,
    orientation: int | None = None,
    color=(200, 30, 30),
    comment: bytes | None = None,
    xmp: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    image = Image.new("RGB", (width, height), color)
    # A second colour in the top-left corner, so turning the image shows.
    image.paste((20, 200, 20), (0, 0, max(1, width // 4), max(1, height // 4)))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 22.0, 7.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (4.0, 53.0, 30.0),
        }
    out = io.BytesIO()
    params = {"exif": exif.tobytes(), "quality": 90}
    if comment is not None:
        params["comment"] = comment
    if xmp is not None:
        params["xmp"] = xmp
    if icc_profile is not None:
        params["icc_profile"] = icc_profile
    image.save(out, format="JPEG", **params)
    return out.getvalue()


def png_bytes(width: int = 40, height: int = 30, *, mode: str = "RGBA", text: str | None = None) -> bytes:
    color = (10, 120, 240, 128) if mode == "RGBA" else (10, 120, 240)
    image = Image.new(mode, (width, height), color)
    out = io.BytesIO()
    params = {}
    if text is not None:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text)
        params["pnginfo"] = info
    image.save(out, format="PNG", **params)
    return out.getvalue()


def gif_bytes(width: int = 32, height: int = 32, *, frames: int = 3) -> bytes:
    pictures = [Image.new("P", (width, height), index * 40) for index in range(frames)]
    for index, picture in enumerate(pictures):
        picture.putpalette([value for i in range(256) for value in ((i * 7) % 256, (i * 3) % 256, i)])
        picture.paste(index * 40 + 5, (index, index, index + 8, index + 8))
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=frames > 1, append_images=pictures[1:], duration=80, loop=0)
    return out.getvalue()


def webp_bytes(width: int = 50, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 200, 90)).save(out, format="WEBP", quality=80)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels but carries almost no data (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(
    width: int = 1280,
    height: int = 720,
    *,
    seconds: float = 12.5,
    brand: bytes = b"isom",
    rotate: bool = False,
    moov_first: bool = True,
) -> bytes:
    """A minimal, structurally valid MP4: ftyp, moov (mvhd, one video trak) and an mdat."""
    timescale = 1000
    compatible = brand if brand == b"qt  " else brand + b"mp41"
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + compatible)
    mvhd = box(
        b"mvhd",
        b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale)) + b"\x00" * 80,
    )
    if rotate:  # a phone held upright: a quarter turn in the matrix
        matrix = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    else:
        matrix = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = box(
        b"tkhd",
        b"\x00\x00\x00\x07"
        + struct.pack(">IIII", 0, 0, 1, 0)  # created, modified, track id, reserved
        + struct.pack(">I", int(seconds * timescale))
        + b"\x00" * 8  # reserved
        + struct.pack(">hhhh", 0, 0, 0, 0)  # layer, group, volume, reserved
        + matrix
        + struct.pack(">II", width << 16, height << 16),
    )
    hdlr = box(b"hdlr", b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00" + b"vide" + b"\x00" * 12 + b"VideoHandler\x00")
    mdia = box(b"mdia", hdlr)
    trak = box(b"trak", tkhd + mdia)
    moov = box(b"moov", mvhd + trak)
    mdat = box(b"mdat", b"\x00\x11\x22\x33" * 256)
    return ftyp + (moov + mdat if moov_first else mdat + moov)


def mov_bytes() -> bytes:
    return mp4_bytes(brand=b"qt  ")


PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML_BYTES = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
TEXT_BYTES = b"Just some notes, not a picture at all.\n" * 10


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
