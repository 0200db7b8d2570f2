"""Fuzz the document readers with broken files: every one ends in a clear message or in text, never a crash or a hang.

Each valid sample (PDF, DOCX, PPTX, TXT, PNG) is mutated ~150 times (truncated,
bytes flipped, chunks cut, duplicated or zeroed, and for the zip kinds the XML
inside damaged and re-zipped). Seeds are fixed so a failure can be replayed.
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Callable, Iterator
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Subscription
from content import documents, tasks
from content.models import Document
from content.tests.test_documents_samples import make_docx, make_pdf, make_png, make_pptx, make_txt, rezip
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

MUTATIONS_PER_SAMPLE = 150
# No single broken file may take longer than this to be judged.
MAX_SECONDS_PER_FILE = 3.0


@pytest.fixture(autouse=True)
def _tesseract_stand_in(monkeypatch):
    # No tesseract here: fuzz Pillow's decoding of broken images with the OCR engine stubbed out.
    monkeypatch.setattr(documents.shutil, "which", lambda name: "/usr/bin/tesseract")
    monkeypatch.setattr("pytesseract.image_to_string", lambda image, timeout=None: "Text seen in the image.")
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (None, None))


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    strategies: list[Callable[[bytes], bytes]] = [
        lambda d: d[: rng.randrange(0, len(d))],
        lambda d: _flip(d, rng, rng.randint(1, 4)),
        lambda d: _flip(d, rng, rng.randint(5, 60)),
        lambda d: _cut(d, rng),
        lambda d: _duplicate(d, rng),
        lambda d: _zero(d, rng),
        lambda d: d[rng.randrange(1, max(2, len(d) // 4)) :],
    ]
    for _ in range(count):
        yield rng.choice(strategies)(data)


def _flip(data: bytes, rng: random.Random, times: int) -> bytes:
    out = bytearray(data)
    for _ in range(times):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _cut(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 200) :]


def _duplicate(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 300)]
    at = rng.randrange(len(data))
    return data[:at] + chunk * rng.randint(1, 5) + data[at:]


def _zero(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    length = rng.randint(1, 100)
    return data[:start] + bytes(min(length, len(data) - start)) + data[start + length :]


def _inner_xml_mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Valid zips whose XML parts are damaged: the Office parsers themselves get the broken input."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist() if name.endswith((".xml", ".rels"))}
    names = sorted(parts)
    for _ in range(count):
        name = rng.choice(names)
        body = parts[name]
        broken = rng.choice(
            [
                body[: rng.randrange(0, len(body))],
                _flip(body, rng, rng.randint(1, 10)),
                body.replace(b"<", b"", rng.randint(1, 5)),
                body.replace(b">", b"", 1),
            ]
        )
        yield rezip(data, replace={name: broken})


SAMPLES: dict[str, Callable[[], bytes]] = {
    "pdf": lambda: make_pdf(["Fuzzing page one has words.", "Page two too.", "And page three."]),
    "docx": make_docx,
    "pptx": make_pptx,
    "txt": lambda: make_txt("utf-8"),
    "png": lambda: make_png(64, 32),
}


def _judge(blob: bytes) -> str:
    """Detect and read one blob as the upload and the task would. Returns the outcome; raises on anything else."""
    try:
        detected = documents.detect_kind(blob)
    except ValidationError as error:
        assert error.messages, "a refusal without a message"
        assert all(message.strip() for message in error.messages)
        return "refused"
    try:
        extraction = documents.extract_text(blob, kind=detected.kind, max_seconds=MAX_SECONDS_PER_FILE)
    except documents.DocumentError as error:
        assert str(error).strip(), "a failure without a message"
        return "failed"
    assert extraction.text.strip()
    assert "\x00" not in extraction.text
    return "read"


@pytest.mark.parametrize("kind", SAMPLES)
def test_broken_files_always_end_in_a_message_or_text(kind):
    rng = random.Random(f"fuzz-{kind}")
    original = SAMPLES[kind]()
    blobs = list(_mutations(original, rng, MUTATIONS_PER_SAMPLE))
    if kind in ("docx", "pptx"):
        blobs += list(_inner_xml_mutations(original, rng, MUTATIONS_PER_SAMPLE // 3))
    outcomes: dict[str, int] = {}
    slowest = 0.0

    for blob in blobs:
        started = time.monotonic()
        outcome = _judge(blob)
        slowest = max(slowest, time.monotonic() - started)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    assert sum(outcomes.values()) == len(blobs)
    assert slowest < MAX_SECONDS_PER_FILE, f"one {kind} file took {slowest:.1f}s"
    # The mutations really were broken files: not all of them can have been read as if nothing happened.
    assert outcomes.get("refused", 0) + outcomes.get("failed", 0) > 0, outcomes


@pytest.fixture
def workspace():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    return workspace


def test_process_document_never_raises_on_broken_uploads(workspace, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(tasks.extract_document_task, "delay", mock.Mock())
    rng = random.Random("fuzz-end-to-end")
    statuses: dict[str, int] = {}

    for kind, builder in SAMPLES.items():
        for blob in _mutations(builder(), rng, 12):
            try:
                document = documents.upload_document(
                    workspace=workspace, actor=None, uploaded_file=SimpleUploadedFile(f"fuzz.{kind}", blob)
                )
            except ValidationError as error:
                assert error.messages[0].strip()
                statuses["refused"] = statuses.get("refused", 0) + 1
                continue
            document = documents.process_document(document_id=document.pk)
            assert document.status in (Document.Status.READY, Document.Status.FAILED)
            if document.status == Document.Status.FAILED:
                assert document.error.strip()
                assert document.error != documents.INTERRUPTED
            else:
                assert document.error == ""
                assert document.extracted_text.strip()
            statuses[document.status] = statuses.get(document.status, 0) + 1

    assert sum(statuses.values()) == 12 * len(SAMPLES)
    assert not Document.objects.filter(status=Document.Status.PROCESSING).exists()
