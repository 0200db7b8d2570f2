"""Document context services: upload checks, reading each kind, the defences, key points, context, delete, task."""

from __future__ import annotations

import io
import os
import random
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Subscription
from content import documents, tasks
from content.models import Document
from content.tests.test_documents_samples import (
    PDF_TEXT,
    TXT_TEXT,
    make_docx,
    make_encrypted_pdf,
    make_huge_dimension_png,
    make_pdf,
    make_png,
    make_pptx,
    make_txt,
    make_zip_bomb_docx,
    rezip,
)
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture(autouse=True)
def offline_ai(monkeypatch):
    """The offline extract, whatever content.ai looks like today; tests of the AI path patch this again."""
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (None, None))


@pytest.fixture(autouse=True)
def no_tesseract(monkeypatch):
    monkeypatch.setattr(documents.shutil, "which", lambda name: None)


@pytest.fixture
def workspace():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    return workspace


@pytest.fixture
def enqueued(monkeypatch) -> mock.Mock:
    sent = mock.Mock()
    monkeypatch.setattr(tasks.extract_document_task, "delay", sent)
    return sent


def upload(workspace, data: bytes, name: str = "file.bin", actor=None) -> Document:
    return documents.upload_document(
        workspace=workspace, actor=actor, uploaded_file=SimpleUploadedFile(name, data, content_type="x/y")
    )


def upload_and_process(workspace, data: bytes, name: str = "file.bin") -> Document:
    document = upload(workspace, data, name)
    return documents.process_document(document_id=document.pk)


def stored_document(workspace, data: bytes, kind: str) -> Document:
    """A processing document made directly (skipping the upload checks), to test the processing defences."""
    document = Document(
        workspace=workspace,
        storage_name=f"direct.{kind}",
        original_name=f"direct.{kind}",
        kind=kind,
        size_bytes=len(data),
    )
    document.file.save(document.storage_name, ContentFile(data), save=False)
    document.save()
    return document


# --------------------------------------------------------------------------- good files


@pytest.mark.parametrize(
    ("builder", "name", "kind", "words"),
    [
        (make_pdf, "report.pdf", "pdf", [PDF_TEXT, "onboarding flow"]),
        (make_docx, "plan.docx", "docx", ["espresso machine", "Price | 1499 euros", "Matte black"]),
        (
            make_pptx,
            "deck.pptx",
            "pptx",
            ["Slide 1", "Lisbon and Porto", "Notes: Mention the landlord", "Marketing | 40000 euros"],
        ),
        (lambda: make_txt("utf-8"), "notes.txt", "txt", ["Sourdough is baked", "Caf\u00e9 cr\u00e8me"]),
        (lambda: make_txt("utf-16"), "notes16.txt", "txt", ["Sourdough is baked", "Caf\u00e9 cr\u00e8me"]),
    ],
)
def test_a_good_file_is_read_and_gets_key_points(workspace, enqueued, media_root, builder, name, kind, words):
    user = UserFactory()
    data = builder()

    document = upload(workspace, data, name, actor=user)
    stored = media_root / document.file.name
    processed = documents.process_document(document_id=document.pk)

    assert document.kind == kind
    assert document.original_name == name
    assert document.uploaded_by == user
    assert document.size_bytes == len(data)
    assert document.storage_name.endswith(f".{'txt' if kind == 'txt' else kind}")
    assert name not in document.file.name
    assert document.file.name.startswith(f"documents/{workspace.pk}/")
    assert stored.read_bytes() == data
    assert processed.status == Document.Status.READY
    assert processed.error == ""
    for word in words:
        assert word in processed.extracted_text
    assert 1 <= len(processed.key_points) <= documents.MAX_KEY_POINTS
    assert processed.summary_note.startswith("Offline extract")


def test_the_name_is_not_trusted_a_pdf_named_docx_is_read_as_a_pdf(workspace, enqueued):
    document = upload_and_process(workspace, make_pdf(), "slides.docx")

    assert document.kind == "pdf"
    assert document.storage_name.endswith(".pdf")
    assert document.status == Document.Status.READY
    assert PDF_TEXT in document.extracted_text


def test_upload_stores_processing_and_enqueues_the_task_after_commit(
    workspace, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload(workspace, make_txt(), "a.txt")

    assert document.status == Document.Status.PROCESSING
    enqueued.assert_called_once_with(document.pk)


def test_the_task_runs_process_document(workspace, enqueued):
    document = upload(workspace, make_docx(), "plan.docx")

    outcome = tasks.extract_document_task(document.pk)

    document.refresh_from_db()
    assert outcome == "ready"
    assert document.status == Document.Status.READY
    assert "espresso machine" in document.extracted_text


def test_the_task_on_a_deleted_document_does_nothing(workspace):
    assert tasks.extract_document_task(987654) == "deleted"


# --------------------------------------------------------------------------- upload refusals


def _refused(workspace, data: bytes, name: str = "file.bin") -> ValidationError:
    before = Document.objects.count()
    with pytest.raises(ValidationError) as caught:
        upload(workspace, data, name)
    assert Document.objects.count() == before
    return caught.value


def test_the_free_plan_is_refused_naming_the_pro_plan(enqueued, media_root):
    free = WorkspaceFactory()

    error = _refused(free, make_txt(), "a.txt")

    assert error.code == "plan"
    assert "Pro plan" in error.messages[0]
    assert not any(media_root.rglob("*.txt"))


def test_a_file_over_20_mb_is_refused(workspace, enqueued):
    error = _refused(workspace, b"a" * (documents.MAX_UPLOAD_BYTES + 1), "big.txt")

    assert error.code == "size"
    assert "at most 20 MB" in error.messages[0]


def test_a_file_of_exactly_20_mb_is_accepted(workspace, enqueued):
    document = upload(workspace, b"word " * (documents.MAX_UPLOAD_BYTES // 5), "big.txt")

    assert document.size_bytes == documents.MAX_UPLOAD_BYTES


def test_a_declared_size_that_lies_is_caught_by_reading(workspace, enqueued):
    uploaded = SimpleUploadedFile("lie.txt", b"a" * (documents.MAX_UPLOAD_BYTES + 10))
    uploaded.size = 10

    with pytest.raises(ValidationError) as caught:
        documents.upload_document(workspace=workspace, actor=None, uploaded_file=uploaded)

    assert caught.value.code == "size"


def test_an_empty_file_is_refused(workspace, enqueued):
    assert _refused(workspace, b"", "empty.txt").messages == ["The file is empty."]


def test_an_image_without_tesseract_is_refused_with_the_ocr_message(workspace, enqueued):
    error = _refused(workspace, make_png(), "scan.pdf")

    assert error.messages == [documents.OCR_MISSING]


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(200),  # a Windows program
        random.Random(7).randbytes(4096),
        b"\x7fELF\x02\x01\x01" + bytes(100),
    ],
    ids=["exe", "random", "elf"],
)
def test_binary_junk_is_refused_by_its_content(workspace, enqueued, data):
    error = _refused(workspace, data, "report.pdf")

    assert error.code == "type"
    assert "Upload a PDF, DOCX, PPTX, TXT" in error.messages[0]


def test_an_old_office_file_is_refused_with_advice(workspace, enqueued):
    error = _refused(workspace, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.doc")

    assert "old-style Office file" in error.messages[0]


def test_another_zip_is_not_taken_for_a_docx(workspace, enqueued):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<Types><Override ContentType="spreadsheetml.sheet.main+xml"/></Types>')
        archive.writestr("xl/workbook.xml", "<workbook/>")

    error = _refused(workspace, out.getvalue(), "numbers.docx")

    assert "not a DOCX or PPTX" in error.messages[0]


@pytest.mark.parametrize(("builder", "kind"), [(make_docx, "DOCX"), (make_pptx, "PPTX")])
@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.95])
def test_a_truncated_office_file_is_refused_as_damaged(workspace, enqueued, builder, kind, fraction):
    data = builder()

    error = _refused(workspace, data[: int(len(data) * fraction)], f"cut.{kind.lower()}")

    assert error.messages == [f"This file is damaged or not a real {kind} file."]


def test_a_zip_bomb_docx_is_refused_quickly_before_it_is_unpacked(workspace, enqueued, media_root):
    bomb = make_zip_bomb_docx()
    started = time.monotonic()

    error = _refused(workspace, bomb, "bomb.docx")

    assert time.monotonic() - started < 2
    assert "zip bomb" in error.messages[0]
    assert not any(media_root.rglob("*.docx"))


def test_a_zip_bomb_reaching_processing_fails_there_too(workspace):
    document = stored_document(workspace, make_zip_bomb_docx(), "docx")

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert "zip bomb" in document.error


def test_too_much_unpacked_data_in_total_is_refused(workspace, enqueued, monkeypatch):
    monkeypatch.setattr(documents, "MAX_ZIP_UNCOMPRESSED_BYTES", 200_000)
    # Incompressible parts: no ratio alarm, only the total.
    noise = random.Random(1).randbytes(120_000)
    data = rezip(make_docx(), add={"word/media/a.bin": noise, "word/media/b.bin": noise[::-1]})

    error = _refused(workspace, data, "heavy.docx")

    assert "unpacks to" in error.messages[0]


def test_too_many_parts_are_refused(workspace, enqueued, monkeypatch):
    monkeypatch.setattr(documents, "MAX_ZIP_MEMBERS", 20)
    data = rezip(make_docx(), add={f"word/media/{n}.txt": b"x" for n in range(25)})

    error = _refused(workspace, data, "parts.docx")

    assert "parts" in error.messages[0]


DOCTYPE_PAYLOADS = {
    "billion_laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    ),
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
}


@pytest.mark.parametrize("payload", DOCTYPE_PAYLOADS.values(), ids=DOCTYPE_PAYLOADS.keys())
def test_a_docx_with_a_doctype_or_entities_is_refused(workspace, enqueued, payload):
    original = make_docx()
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        body = archive.read("word/document.xml")
    body = body.split(b"?>", 1)[1]  # drop the XML declaration; the payload brings its own
    data = rezip(original, replace={"word/document.xml": payload + body})

    error = _refused(workspace, data, "evil.docx")

    assert "DTD" in error.messages[0]


def test_a_doctype_in_utf16_is_caught_too(workspace, enqueued):
    part = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'.encode("utf-16")
    data = rezip(make_pptx(), add={"ppt/extra.xml": part})

    assert "DTD" in _refused(workspace, data, "evil.pptx").messages[0]


# --------------------------------------------------------------------------- processing failures


def test_a_password_protected_pdf_fails_with_a_clear_message(workspace, enqueued):
    document = upload_and_process(workspace, make_encrypted_pdf(), "secret.pdf")

    assert document.status == Document.Status.FAILED
    assert document.error == "This PDF is password-protected; remove the password and upload it again."
    assert document.extracted_text == ""
    assert document.key_points == []


def test_a_pdf_encrypted_with_an_empty_user_password_is_read(workspace, enqueued):
    document = upload_and_process(workspace, make_encrypted_pdf(user_password=""), "restricted.pdf")

    assert document.status == Document.Status.READY
    assert PDF_TEXT in document.extracted_text


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_truncated_pdf_fails_as_damaged(workspace, enqueued, fraction):
    data = make_pdf()

    document = upload_and_process(workspace, data[: int(len(data) * fraction)], "cut.pdf")

    assert document.status == Document.Status.FAILED
    assert document.error == "This file is damaged or not a real PDF file."


def test_a_pdf_without_text_says_it_is_probably_scanned(workspace, enqueued):
    document = upload_and_process(workspace, make_pdf(["", ""]), "scan.pdf")

    assert document.status == Document.Status.FAILED
    assert "scanned" in document.error


def test_an_image_without_tesseract_fails_with_the_ocr_message(workspace):
    document = stored_document(workspace, make_png(), "image")

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert document.error == documents.OCR_MISSING


def test_an_image_is_read_with_ocr_when_tesseract_is_installed(workspace, enqueued, monkeypatch):
    monkeypatch.setattr(documents.shutil, "which", lambda name: "/usr/bin/tesseract")
    ocr = mock.Mock(return_value="Opening hours: nine to five on weekdays.")
    monkeypatch.setattr("pytesseract.image_to_string", ocr)

    document = upload_and_process(workspace, make_png(), "sign.png")

    assert document.kind == "image"
    assert document.status == Document.Status.READY
    assert document.extracted_text == "Opening hours: nine to five on weekdays."
    assert ocr.call_args.args[0].size == (40, 20)


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(9_000, 5_000, "9,000 x 5,000 pixels"), (60_000, 60_000, "far too many pixels")],
)
def test_an_image_with_huge_dimensions_is_refused_before_ocr(workspace, enqueued, monkeypatch, width, height, size):
    monkeypatch.setattr(documents.shutil, "which", lambda name: "/usr/bin/tesseract")
    ocr = mock.Mock(return_value="never")
    monkeypatch.setattr("pytesseract.image_to_string", ocr)

    document = upload_and_process(workspace, make_huge_dimension_png(width, height), "poster.png")

    assert document.status == Document.Status.FAILED
    assert document.error == (
        f"This image is {size}, too large to read; the limit is 40 megapixels. Scale it down and upload it again."
    )
    ocr.assert_not_called()


def test_reading_that_runs_out_of_time_fails_with_a_plain_message(workspace, enqueued, settings):
    settings.DOCUMENT_EXTRACT_MAX_SECONDS = 0

    document = upload_and_process(workspace, make_pdf(), "slow.pdf")

    assert document.status == Document.Status.FAILED
    assert document.error == documents.TOO_SLOW


def test_reading_stops_at_the_deadline_and_keeps_the_pages_read(monkeypatch):
    clock = iter(range(1000))
    monkeypatch.setattr(documents, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))

    # Time starts at 0, the deadline is 2.5: pages are read at t=1 and t=2, then t=3 is too late.
    extraction = documents.extract_text(
        make_pdf(["One page.", "Two pages.", "Three pages."]), kind="pdf", max_seconds=2.5
    )

    assert extraction.text == "One page.\n\nTwo pages."
    assert extraction.notes == ["Stopped early (PDF pages): reading took too long."]


def test_only_the_first_pages_are_read(monkeypatch):
    monkeypatch.setattr(documents, "MAX_PAGES", 2)

    extraction = documents.extract_text(make_pdf(["Alpha page.", "Beta page.", "Gamma page."]), kind="pdf")

    assert "Gamma" not in extraction.text
    assert extraction.notes == ["Read the first 2 of 3 pages."]


def test_text_is_cut_at_the_character_cap(monkeypatch):
    monkeypatch.setattr(documents, "MAX_CHARS", 50)

    extraction = documents.extract_text(("A sentence of words. " * 20).encode(), kind="txt")

    assert len(extraction.text) == 50
    assert extraction.notes == ["Text cut at 50 characters."]


def test_the_celery_soft_time_limit_fails_the_document(workspace, enqueued, monkeypatch):
    document = upload(workspace, make_txt(), "a.txt")
    monkeypatch.setattr(documents, "extract_text", mock.Mock(side_effect=SoftTimeLimitExceeded()))

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert document.error == documents.TOO_SLOW


def test_an_unexpected_parser_error_fails_the_document_instead_of_raising(workspace, enqueued, monkeypatch):
    document = upload(workspace, make_txt(), "a.txt")
    monkeypatch.setattr(documents, "extract_text", mock.Mock(side_effect=RecursionError("deep")))

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert document.error == "This file is damaged or not a real text file."


def test_a_missing_stored_file_fails_the_document(workspace, enqueued):
    document = upload(workspace, make_txt(), "a.txt")
    os.remove(document.file.path)

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert "missing" in document.error


def test_processing_twice_changes_nothing(workspace, enqueued):
    document = upload(workspace, make_txt(), "a.txt")
    first = documents.process_document(document_id=document.pk)

    second = documents.process_document(document_id=document.pk)

    assert second.status == Document.Status.READY
    assert second.updated_at == first.updated_at


@pytest.mark.parametrize("outcome", ["read", "failed"])
def test_a_document_deleted_while_it_is_read_is_left_alone(workspace, enqueued, monkeypatch, outcome):
    document = upload(workspace, make_txt(), "a.txt")

    def read_then_lose_the_row(data, *, kind):
        Document.objects.filter(pk=document.pk).delete()
        if outcome == "failed":
            raise documents.DocumentError("Broken.")
        return documents.Extraction(text="Some text here.")

    monkeypatch.setattr(documents, "extract_text", read_then_lose_the_row)

    assert documents.process_document(document_id=document.pk) is None
    assert not Document.objects.exists()


def test_a_run_that_never_finished_is_not_retried_forever(workspace, enqueued, monkeypatch):
    document = upload(workspace, make_txt(), "a.txt")
    # The first run wrote its start marker, then the worker was killed inside a parser.
    Document.objects.filter(pk=document.pk).update(error=documents.INTERRUPTED)
    reader = mock.Mock()
    monkeypatch.setattr(documents, "extract_text", reader)

    document = documents.process_document(document_id=document.pk)

    assert document.status == Document.Status.FAILED
    assert document.error == documents.INTERRUPTED
    reader.assert_not_called()


def test_control_characters_and_nul_are_removed_from_text():
    assert documents.clean_text("a\x00b\x07c\r\nd\ud800e") == "abc\nd?e"


def test_display_name_drops_folders_and_control_characters():
    assert documents.display_name("C:\\Users\\me\\..\\brief\x00.pdf") == "brief.pdf"
    assert documents.display_name("../../etc/passwd") == "passwd"
    assert documents.display_name("") == "document"


# --------------------------------------------------------------------------- key points


LONG_TEXT = (
    "Our coffee roastery sources beans directly from farmers in Colombia and Ethiopia. "
    "Every batch of coffee beans is roasted in small lots to bring out the flavour. "
    "The weather was nice. "
    "Farmers receive a fair price for their coffee beans, well above the market rate. "
    "We ship fresh coffee to cafes across Europe within two days of roasting. "
    "Ok."
)


def test_the_offline_extract_picks_representative_sentences_in_order():
    points = documents._offline_key_points(LONG_TEXT, 3)

    assert points == [
        "Our coffee roastery sources beans directly from farmers in Colombia and Ethiopia.",
        "Every batch of coffee beans is roasted in small lots to bring out the flavour.",
        "Farmers receive a fair price for their coffee beans, well above the market rate.",
    ]


def test_the_offline_extract_of_nothing_is_nothing():
    assert documents._offline_key_points("  \n 123 \n", 8) == []


def test_key_points_come_from_the_ai_layer_when_it_exists(workspace, monkeypatch):
    summarise = mock.Mock(return_value=(["Beans from Colombia.", "Fair prices."], "Summarised by test-model."))
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (summarise, None))

    points, note = documents.key_points_for(workspace=workspace, text=LONG_TEXT)

    assert points == ["Beans from Colombia.", "Fair prices."]
    assert note == "Summarised by test-model."
    summarise.assert_called_once_with(workspace=workspace, text=LONG_TEXT, max_points=8)


def test_an_unavailable_model_falls_back_to_the_offline_extract(workspace, monkeypatch):
    class AIUnavailable(Exception):
        pass

    summarise = mock.Mock(side_effect=AIUnavailable("No model answered."))
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (summarise, AIUnavailable))

    points, note = documents.key_points_for(workspace=workspace, text=LONG_TEXT)

    assert points == documents._offline_key_points(LONG_TEXT, 8)
    assert note.startswith("Offline extract (the AI model was unavailable)")


def test_a_broken_ai_layer_does_not_lose_the_document(workspace, enqueued, monkeypatch):
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (mock.Mock(side_effect=KeyError("bug")), None))

    document = upload_and_process(workspace, make_docx(), "plan.docx")

    assert document.status == Document.Status.READY
    assert document.key_points
    assert document.summary_note.startswith("Offline extract (the AI summary failed)")


def test_only_the_start_of_a_long_text_is_summarised_and_the_note_says_so(workspace, monkeypatch):
    summarise = mock.Mock(return_value=(["Point."], "Summarised."))
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (summarise, None))
    text = "Words and more words. " * 5000

    _points, note = documents.key_points_for(workspace=workspace, text=text)

    assert len(summarise.call_args.kwargs["text"]) == documents.SUMMARY_INPUT_CHARS
    assert note == "Summarised. (from the first 40,000 characters)"


# --------------------------------------------------------------------------- context and delete


def _ready(workspace, name: str, points: list[str]) -> Document:
    return Document.objects.create(
        workspace=workspace,
        storage_name=f"{name}.txt",
        file=f"documents/{workspace.pk}/{name}.txt",
        original_name=name,
        kind="txt",
        size_bytes=1,
        status=Document.Status.READY,
        key_points=points,
    )


def test_context_for_gives_ready_documents_of_the_workspace_in_the_order_asked(workspace):
    first = _ready(workspace, "first.txt", ["One."])
    second = _ready(workspace, "second.txt", ["Two.", "Three."])
    failed = _ready(workspace, "failed.txt", [])
    Document.objects.filter(pk=failed.pk).update(status=Document.Status.FAILED)
    other = WorkspaceFactory()
    Subscription.objects.create(workspace=other, plan="pro")
    foreign = _ready(other, "foreign.txt", ["Secret."])

    context = documents.context_for(
        workspace=workspace, document_ids=[second.pk, str(first.pk), failed.pk, foreign.pk, "junk", None, second.pk]
    )

    assert context == [
        {"name": "second.txt", "key_points": ["Two.", "Three."]},
        {"name": "first.txt", "key_points": ["One."]},
    ]


def test_context_for_is_empty_on_a_plan_without_documents(workspace):
    document = _ready(workspace, "a.txt", ["One."])
    Subscription.objects.filter(workspace=workspace).update(plan="free")

    assert documents.context_for(workspace=workspace, document_ids=[document.pk]) == []
    assert documents.ready_documents(workspace=workspace) == []


def test_ready_documents_lists_only_ready_ones(workspace):
    ready = _ready(workspace, "a.txt", ["One."])
    Document.objects.filter(pk=_ready(workspace, "b.txt", []).pk).update(status=Document.Status.PROCESSING)

    assert documents.ready_documents(workspace=workspace) == [ready]


def test_delete_removes_the_row_and_then_the_file(workspace, enqueued, django_capture_on_commit_callbacks):
    document = upload(workspace, make_txt(), "a.txt")
    path = Path(document.file.path)

    with django_capture_on_commit_callbacks(execute=True):
        documents.delete_document(workspace=workspace, actor=None, document=document)

    assert not Document.objects.filter(pk=document.pk).exists()
    assert not path.exists()


def test_delete_refuses_another_workspaces_document(workspace, enqueued):
    document = upload(workspace, make_txt(), "a.txt")

    with pytest.raises(ValidationError):
        documents.delete_document(workspace=WorkspaceFactory(), actor=None, document=document)

    assert Document.objects.filter(pk=document.pk).exists()


def test_text_detection_accepts_text_and_refuses_binary():
    assert documents.decode_text(TXT_TEXT.encode("utf-8-sig")) == TXT_TEXT
    assert documents.decode_text(TXT_TEXT.encode("utf-16-be")) is None  # no byte order mark: not recognised
    assert documents.decode_text(b"abc\x00def") is None
    assert documents.decode_text(bytes(range(1, 32)) * 10) is None
