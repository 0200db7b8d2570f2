"""Fuzz the ingest path with broken files: every result is a stored asset or a ValidationError, quickly."""

from __future__ import annotations

import random
import struct
import time

import pytest
from django.core.exceptions import ValidationError

from content.media import upload_media
from content.models import MediaAsset
from content.tests.fixtures_media import gif_bytes, jpeg_bytes, mp4_bytes, png_bytes, upload, webp_bytes
from tests.factories import WorkspaceFactory

pytestmark = [
    pytest.mark.django_db,
    # Pillow warns about the corrupt EXIF blocks the mutations make; it is the point here.
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _mutate(data: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(5)
    buffer = bytearray(data)
    if choice == 0:  # truncate anywhere
        return bytes(buffer[: rng.randrange(len(buffer))])
    if choice == 1:  # flip a few bytes
        for _ in range(rng.randint(1, 12)):
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
        return bytes(buffer)
    if choice == 2:  # splice in random bytes
        at = rng.randrange(len(buffer))
        return bytes(buffer[:at] + bytearray(rng.randbytes(rng.randint(1, 64))) + buffer[at:])
    if choice == 3:  # write huge or zero numbers where headers keep sizes
        at = rng.randrange(max(1, min(len(buffer) - 4, 64)))
        buffer[at : at + 4] = struct.pack(">I", rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
        return bytes(buffer)
    # keep the magic number, randomise the rest of the first part
    keep = 8
    return bytes(buffer[:keep]) + rng.randbytes(rng.randint(0, 200)) + bytes(buffer[keep + 200 :])


@pytest.mark.parametrize(
    ("name", "seed_file", "rounds"),
    [
        ("fuzz.jpg", jpeg_bytes(64, 48, gps=True), 200),
        ("fuzz.png", png_bytes(48, 32, mode="RGB"), 200),
        ("fuzz.gif", gif_bytes(24, 24, frames=3), 60),
        ("fuzz.webp", webp_bytes(40, 20), 60),
        ("fuzz.mp4", mp4_bytes(), 100),
    ],
)
def test_mutated_files_are_either_stored_or_refused_in_plain_words(name, seed_file, rounds):
    workspace = WorkspaceFactory()
    rng = random.Random(f"{name}-20261122")
    outcomes = {"stored": 0, "refused": 0}
    started = time.monotonic()

    for _ in range(rounds):
        data = _mutate(seed_file, rng)
        try:
            asset = upload_media(workspace=workspace, actor=None, uploaded_file=upload(name, data))
        except ValidationError as exc:
            assert exc.messages and all(message.strip() for message in exc.messages)
            assert all("Traceback" not in message and "Error" not in message for message in exc.messages)
            outcomes["refused"] += 1
        else:
            assert asset.pk is not None and asset.size_bytes > 0
            assert asset.file.storage.exists(asset.file.name)
            outcomes["stored"] += 1

    assert outcomes["refused"] > 0  # the mutations really break files
    assert sum(outcomes.values()) == rounds
    assert MediaAsset.objects.filter(workspace=workspace).count() <= outcomes["stored"]
    assert time.monotonic() - started < 30  # no hang: a few seconds on an idle machine
