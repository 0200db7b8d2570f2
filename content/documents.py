"""Document context: upload PDF, DOCX, PPTX, TXT or an image; read its text; keep key points for AI generation.

The flow: `upload_document` checks the plan, the size and the real type (from the
bytes, never the name), stores the file under a random name and creates the row
in `processing`; after commit the `content.extract_document` task calls
`process_document`, which reads the text under hard limits (zip bombs, entity
tricks, page/character caps, a deadline), asks `content.ai` for key points (or
makes an offline extract) and ends `ready` or `failed` with a plain reason.
Generation reads the result through `context_for`.

Every document is untrusted input: each parser runs behind checks of its own and
any exception it raises becomes "this file is damaged", never a 500 or a crash
of the worker.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import logging
import re
import secrets
import shutil
import time
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import filetype
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from billing.limits import plan_for
from content.models import Document

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import User, Workspace

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- limits

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# DOCX and PPTX are zip archives: refuse a bomb before python-docx/pptx inflate it.
MAX_ZIP_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ZIP_MEMBERS = 5_000
MAX_ZIP_RATIO = 100
# Small parts compress well and are harmless, so the ratio is only checked above this size.
ZIP_RATIO_MIN_BYTES = 1024 * 1024
MAX_PAGES = 200  # PDF pages or PPTX slides read
MAX_CHARS = 200_000  # characters of text kept
MAX_IMAGE_PIXELS = 40_000_000  # about 7,700 x 5,200; larger images are refused before OCR
MAX_TABLE_DEPTH = 5
# What is sent to the model for key points: enough for a long report, within a month's tokens.
SUMMARY_INPUT_CHARS = 40_000
MAX_KEY_POINTS = 8
PREVIEW_CHARS = 3_000
# A document still processing after this long has probably no worker to run it.
STALE_PROCESSING_SECONDS = 10 * 60


def extract_max_seconds() -> float:
    """How long reading one document may take (setting DOCUMENT_EXTRACT_MAX_SECONDS)."""
    return float(getattr(settings, "DOCUMENT_EXTRACT_MAX_SECONDS", 60.0))


# --------------------------------------------------------------------------- kinds

PDF, DOCX, PPTX, TXT, IMAGE = "pdf", "docx", "pptx", "txt", "image"
KIND_LABELS: dict[str, str] = {PDF: "PDF", DOCX: "DOCX", PPTX: "PPTX", TXT: "text", IMAGE: "image"}
ACCEPTED_TYPES = "PDF, DOCX, PPTX, TXT, or a PNG, JPEG or WebP image"

_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_PPTX_MAINS = (
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# OOXML never uses a DTD; one in a part can only be an entity-expansion or external-entity trick.
_DTD_MARKERS = tuple(
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)

OCR_MISSING = (
    "Text in images needs OCR, which is not installed on this server (tesseract). Upload a PDF or DOCX instead."
)
ENCRYPTED_PDF = "This PDF is password-protected; remove the password and upload it again."
TOO_SLOW = "Reading this file took too long, so LetsGrow stopped. Upload a shorter or simpler version of it."
INTERRUPTED = (
    "Reading this file was interrupted (it took too long or needed too much memory). "
    "Upload a shorter or simpler version of it."
)


def damaged(kind: str) -> str:
    return f"This file is damaged or not a real {KIND_LABELS.get(kind, kind)} file."


def ocr_available() -> bool:
    """Whether images can be read: the tesseract program is on this server."""
    return shutil.which("tesseract") is not None


class DocumentError(Exception):
    """A document cannot be read; the message says why in plain words."""


@dataclass(frozen=True)
class Detected:
    kind: str
    extension: str


@dataclass
class Extraction:
    text: str
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- upload


@transaction.atomic
def upload_document(*, workspace: Workspace, actor: User | None, uploaded_file: UploadedFile) -> Document:
    """Store an uploaded document and queue it for reading; return it in `processing`.

    Raises ValidationError (code plan, size, empty, type, ocr, damaged) with a
    message to show next to the form. The type comes from the bytes: a .docx
    that is really a PDF is read as a PDF.
    """
    plan = plan_for(workspace)
    if not plan.document_context:
        raise ValidationError(
            f"Documents as AI context are part of the Pro plan; the {plan.name} plan does not include them. "
            "Upgrade to Pro to upload documents.",
            code="plan",
        )
    size = uploaded_file.size or 0
    if size > MAX_UPLOAD_BYTES:
        raise ValidationError(_too_large_message(size), code="size")
    uploaded_file.seek(0)
    # Read one byte past the limit: the size a client declares is not proof.
    data = uploaded_file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(_too_large_message(len(data)), code="size")
    if not data:
        raise ValidationError("The file is empty.", code="empty")
    detected = detect_kind(data)
    if detected.kind == IMAGE and not ocr_available():
        raise ValidationError(OCR_MISSING, code="ocr")

    storage_name = f"{secrets.token_hex(16)}.{detected.extension}"
    document = Document(
        workspace=workspace,
        uploaded_by=actor,
        storage_name=storage_name,
        original_name=display_name(uploaded_file.name or ""),
        kind=detected.kind,
        size_bytes=len(data),
        status=Document.Status.PROCESSING,
    )
    document.file.save(storage_name, ContentFile(data), save=False)
    try:
        document.save()
    except BaseException:
        document.file.delete(save=False)
        raise
    document_id = document.pk
    transaction.on_commit(lambda: _enqueue_extraction(document_id), robust=True)
    return document


def _enqueue_extraction(document_id: int) -> None:
    # Imported here: the task module imports this one.
    from content.tasks import extract_document_task

    extract_document_task.delay(document_id)


def _too_large_message(size: int) -> str:
    return (
        f"This file is {size / (1024 * 1024):.1f} MB; documents can be at most "
        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Upload a shorter version, or a PDF of the pages that matter."
    )


def display_name(name: str) -> str:
    """The uploaded name to show: no folders, no control characters, at most 255 characters."""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "document")[:255]


def detect_kind(data: bytes) -> Detected:
    """What the bytes really are, whatever the name says; ValidationError when it is nothing we can read."""
    head = data[:1024]
    if b"%PDF-" in head:
        return Detected(PDF, "pdf")
    if data.startswith(b"PK\x03\x04") or zipfile.is_zipfile(io.BytesIO(data)):
        return _detect_office(data)
    if data.startswith(_OLE2_MAGIC):
        raise ValidationError(
            "This is an old-style Office file (.doc, .ppt) or a password-protected Office document, which "
            "LetsGrow cannot read. Save it as DOCX, PPTX or PDF (without a password) and upload it again.",
            code="type",
        )
    guess = filetype.guess(head)
    if guess is not None and guess.mime in _IMAGE_EXTENSIONS:
        return Detected(IMAGE, _IMAGE_EXTENSIONS[guess.mime])
    if decode_text(data) is not None:
        return Detected(TXT, "txt")
    looks_like = f" (it looks like a .{guess.extension} file)" if guess is not None else ""
    raise ValidationError(
        f"This file is not a document LetsGrow can read{looks_like}. Upload a {ACCEPTED_TYPES}.", code="type"
    )


def _detect_office(data: bytes) -> Detected:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip(archive, kind_label="Office")
            names = set(archive.namelist())
            content_types = b""
            if "[Content_Types].xml" in names:
                content_types = archive.read("[Content_Types].xml")
    except DocumentError as error:
        raise ValidationError(str(error), code="damaged") from error
    except Exception as error:
        # BadZipFile, zlib.error, EOFError, NotImplementedError...: a broken archive raises many things.
        # Part names are stored in the clear, so a truncated archive still says what it was meant to be.
        for marker, kind in ((b"word/", DOCX), (b"ppt/", PPTX)):
            if marker in data:
                raise ValidationError(damaged(kind), code="damaged") from error
        raise ValidationError(
            "This file is a damaged ZIP archive; if it is a DOCX or PPTX, save it again and upload the new copy.",
            code="damaged",
        ) from error
    if _DOCX_MAIN.encode() in content_types:
        return Detected(DOCX, "docx")
    if any(main.encode() in content_types for main in _PPTX_MAINS):
        return Detected(PPTX, "pptx")
    if "word/document.xml" in names or "ppt/presentation.xml" in names:
        raise ValidationError(
            "This Word or PowerPoint file is of a kind LetsGrow cannot read (a template or macro-enabled file, "
            "or a damaged one). Save it as a normal DOCX or PPTX and upload it again.",
            code="type",
        )
    raise ValidationError(
        f"This is a ZIP archive (for example a spreadsheet), not a DOCX or PPTX. Upload a {ACCEPTED_TYPES}.",
        code="type",
    )


_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def decode_text(data: bytes) -> str | None:
    """The text of a plain-text file (UTF-8, or UTF-16 with a byte order mark), or None when it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        if b"\x00" in data:
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    if "\x00" in text:
        return None
    # Binary data that happens to decode is full of control characters; real text has almost none.
    controls = len(_BINARY_CONTROLS.findall(text))
    if controls > max(8, len(text) // 100):
        return None
    return text


def check_zip(archive: zipfile.ZipFile, *, kind_label: str) -> None:
    """Refuse a zip bomb or an XML entity trick from its directory and parts, before a parser opens it."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise DocumentError(
            f"This {kind_label} file holds {len(infos):,} parts, more than the {MAX_ZIP_MEMBERS:,} LetsGrow reads; "
            "it may be a zip bomb."
        )
    total = 0
    for info in infos:
        total += info.file_size
        if info.flag_bits & 0x1:
            raise DocumentError(f"This {kind_label} file is encrypted; remove the password and upload it again.")
        if info.file_size > ZIP_RATIO_MIN_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise DocumentError(
                f"This {kind_label} file unpacks to far more than its size (a part compressed over "
                f"{MAX_ZIP_RATIO} times); it looks like a zip bomb, so LetsGrow does not open it."
            )
    if total > MAX_ZIP_UNCOMPRESSED_BYTES:
        raise DocumentError(
            f"This {kind_label} file unpacks to {total / (1024 * 1024):,.0f} MB, more than the "
            f"{MAX_ZIP_UNCOMPRESSED_BYTES // (1024 * 1024)} MB LetsGrow opens; it may be a zip bomb."
        )
    for info in infos:
        if info.filename.endswith((".xml", ".rels")):
            # zipfile stops at the declared size, which the total above bounds.
            part = archive.read(info)
            if any(marker in part for marker in _DTD_MARKERS):
                raise DocumentError(
                    f"This {kind_label} file contains XML declarations (a DTD) that real Office files never have; "
                    "LetsGrow does not open it."
                )


# --------------------------------------------------------------------------- processing


def process_document(*, document_id: int) -> Document | None:
    """Read a processing document's text and key points; end `ready`, or `failed` with a plain reason.

    Never raises for anything the file does. Idempotent: a document that is no
    longer processing is returned unchanged; None when it was deleted. A run that
    began and never finished (the worker was killed on this file) fails it
    rather than trying the same file again.
    """
    document = _claim(document_id)
    if document is None or document.status != Document.Status.PROCESSING:
        return document
    try:
        data = _read_stored(document)
        extraction = extract_text(data, kind=document.kind)
    except DocumentError as error:
        return _fail(document, str(error))
    except SoftTimeLimitExceeded:
        return _fail(document, TOO_SLOW)
    except Exception:
        # A parser bug on a hostile file must not surface as a crash; the log keeps the trace.
        logger.exception("Unexpected error reading document %s (%s)", document.pk, document.kind)
        return _fail(document, damaged(document.kind))
    points, note = key_points_for(workspace=document.workspace, text=extraction.text)
    summary_note = " ".join([note, *extraction.notes]).strip()
    return _finish(document, text=extraction.text, key_points=points, summary_note=summary_note)


def _claim(document_id: int) -> Document | None:
    with transaction.atomic():
        document = Document.objects.select_for_update().select_related("workspace").filter(pk=document_id).first()
        if document is None or document.status != Document.Status.PROCESSING:
            return document
        if document.error:
            # The marker below survived: an earlier run on this file never finished.
            document.status = Document.Status.FAILED
            document.save(update_fields=["status", "updated_at"])
            return document
        # Written first, so a worker killed on this file leaves the right reason behind.
        document.error = INTERRUPTED
        document.save(update_fields=["error", "updated_at"])
    return document


def _read_stored(document: Document) -> bytes:
    try:
        with document.file.open("rb") as handle:
            data = handle.read(MAX_UPLOAD_BYTES + 1)
    except (OSError, ValueError) as error:
        raise DocumentError("The uploaded file is missing on the server; upload it again.") from error
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentError(_too_large_message(len(data)))
    return data


def _fail(document: Document, message: str) -> Document | None:
    Document.objects.filter(pk=document.pk, status=Document.Status.PROCESSING).update(
        status=Document.Status.FAILED,
        error=message,
        extracted_text="",
        key_points=[],
        summary_note="",
        updated_at=timezone.now(),
    )
    logger.info("Document %s failed: %s", document.pk, message)
    return _reload(document)


def _finish(document: Document, *, text: str, key_points: list[str], summary_note: str) -> Document | None:
    Document.objects.filter(pk=document.pk, status=Document.Status.PROCESSING).update(
        status=Document.Status.READY,
        error="",
        extracted_text=text,
        key_points=key_points,
        summary_note=summary_note[:200],
        updated_at=timezone.now(),
    )
    return _reload(document)


def _reload(document: Document) -> Document | None:
    """The document as stored now; None when it was deleted while being read."""
    return Document.objects.select_related("workspace").filter(pk=document.pk).first()


def extract_text(data: bytes, *, kind: str, max_seconds: float | None = None) -> Extraction:
    """The text of a document of `kind`, within the page, character and time limits; DocumentError if unreadable.

    Pure (no database), so it can be fuzzed quickly. Notes say what was left out.
    """
    deadline = time.monotonic() + (extract_max_seconds() if max_seconds is None else max_seconds)
    collector = _Collector(deadline=deadline)
    extractors = {PDF: _extract_pdf, DOCX: _extract_docx, PPTX: _extract_pptx, TXT: _extract_txt, IMAGE: _extract_image}
    extractor = extractors.get(kind)
    if extractor is None:
        raise DocumentError(f"LetsGrow cannot read this kind of file. Upload a {ACCEPTED_TYPES}.")
    try:
        extractor(data, collector)
    except (DocumentError, SoftTimeLimitExceeded):
        raise
    except Exception as error:
        # Parsers raise anything at all on hostile input (KeyError, RecursionError, ...): all mean "damaged".
        logger.info("Unreadable %s: %r", kind, error)
        raise DocumentError(damaged(kind)) from error
    return collector.result(kind)


class _OutOfTime(Exception):
    pass


class _Full(Exception):
    pass


class _Collector:
    """Gathers text up to MAX_CHARS and watches the deadline."""

    def __init__(self, *, deadline: float) -> None:
        self.deadline = deadline
        self.parts: list[str] = []
        self.chars = 0
        self.notes: list[str] = []
        self.timed_out = False

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OutOfTime

    def add(self, text: str) -> None:
        """Keep `text`; raises _Full once MAX_CHARS are kept."""
        text = clean_text(text).strip()
        if not text:
            return
        room = MAX_CHARS - self.chars
        if len(text) >= room:
            self.parts.append(text[:room])
            self.chars = MAX_CHARS
            self.notes.append(f"Text cut at {MAX_CHARS:,} characters.")
            raise _Full
        self.parts.append(text)
        self.chars += len(text) + 2

    def result(self, kind: str) -> Extraction:
        text = "\n\n".join(self.parts).strip()
        if not text:
            if self.timed_out:
                raise DocumentError(TOO_SLOW)
            if kind == PDF:
                raise DocumentError(
                    "No text found in this PDF: its pages are probably scanned images. Upload the original "
                    "document (for example the DOCX) or a PDF with selectable text."
                )
            if kind == IMAGE:
                raise DocumentError("No text found in this image.")
            raise DocumentError("No text found in this file.")
        return Extraction(text=text, notes=self.notes)

    def run(self, blocks: Iterable[str], *, what: str = "") -> None:
        """Add each block, stopping at the character cap or the deadline (keeping what was read)."""
        try:
            for block in blocks:
                self.check_time()
                self.add(block)
        except _Full:
            return
        except _OutOfTime:
            self.timed_out = True
            self.notes.append(f"Stopped early{f' ({what})' if what else ''}: reading took too long.")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean_text(text: str) -> str:
    # NUL and other control characters come out of broken PDFs; PostgreSQL text cannot even store NUL.
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Lone surrogates (from broken UTF-16 in PDFs) cannot be encoded for the database.
    return text.encode("utf-8", "replace").decode("utf-8")


def _extract_txt(data: bytes, collector: _Collector) -> None:
    text = decode_text(data)
    if text is None:
        raise DocumentError(damaged(TXT))
    collector.run(text.split("\n\n"))


def _extract_pdf(data: bytes, collector: _Collector) -> None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to restrict printing: they open.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as error:
                raise DocumentError(
                    "This PDF uses an encryption LetsGrow cannot open; save it without a password and upload it again."
                ) from error
            if not opened:
                raise DocumentError(ENCRYPTED_PDF)
        total = len(reader.pages)
    except DocumentError:
        raise
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        raise DocumentError(damaged(PDF)) from error
    if total == 0:
        raise DocumentError(damaged(PDF))
    if total > MAX_PAGES:
        collector.notes.append(f"Read the first {MAX_PAGES} of {total} pages.")
    unreadable = 0

    def pages() -> Iterator[str]:
        nonlocal unreadable
        for index in range(min(total, MAX_PAGES)):
            try:
                yield reader.pages[index].extract_text() or ""
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                unreadable += 1

    collector.run(pages(), what="PDF pages")
    if unreadable and unreadable >= min(total, MAX_PAGES) and not collector.parts:
        raise DocumentError(damaged(PDF))
    if unreadable:
        collector.notes.append(f"{unreadable} damaged page{'s' if unreadable != 1 else ''} skipped.")


def _open_zip_checked(data: bytes, kind: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip(archive, kind_label=KIND_LABELS[kind])
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(damaged(kind)) from error


def _extract_docx(data: bytes, collector: _Collector) -> None:
    _open_zip_checked(data, DOCX)
    from docx import Document as open_docx

    try:
        word = open_docx(io.BytesIO(data))
        blocks = list(word.iter_inner_content())
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        raise DocumentError(damaged(DOCX)) from error
    collector.run(_docx_blocks(blocks), what="DOCX")


def _docx_blocks(blocks: list[Any]) -> Iterator[str]:
    from docx.table import Table

    for block in blocks:
        # One malformed table or paragraph is skipped; the rest of the document is still worth reading.
        try:
            text = "\n".join(_table_lines(block, 0)) if isinstance(block, Table) else block.text
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.debug("Skipped an unreadable DOCX block", exc_info=True)
            continue
        yield text


def _table_lines(table: Any, depth: int) -> Iterator[str]:
    """Each row as 'cell | cell'; merged cells once; nested tables below their row."""
    if depth >= MAX_TABLE_DEPTH:
        return
    for row in table.rows:
        cells: list[str] = []
        nested: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
            if text:
                cells.append(text)
            for inner in cell.tables:
                nested.extend(_table_lines(inner, depth + 1))
        if cells:
            yield " | ".join(cells)
        yield from nested


def _extract_pptx(data: bytes, collector: _Collector) -> None:
    _open_zip_checked(data, PPTX)
    from pptx import Presentation

    try:
        presentation = Presentation(io.BytesIO(data))
        slides = list(presentation.slides)
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        raise DocumentError(damaged(PPTX)) from error
    if len(slides) > MAX_PAGES:
        collector.notes.append(f"Read the first {MAX_PAGES} of {len(slides)} slides.")
    unreadable = 0

    def blocks() -> Iterator[str]:
        nonlocal unreadable
        for number, slide in enumerate(slides[:MAX_PAGES], start=1):
            try:
                lines = [line for shape in slide.shapes for line in _shape_lines(shape, 0)]
                if slide.has_notes_slide:
                    frame = slide.notes_slide.notes_text_frame
                    if frame is not None and frame.text.strip():
                        lines.append(f"Notes: {frame.text.strip()}")
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                unreadable += 1
                continue
            lines = [line.strip() for line in lines if line and line.strip()]
            if lines:
                yield f"Slide {number}\n" + "\n".join(lines)

    collector.run(blocks(), what="PPTX slides")
    if unreadable:
        if not collector.parts:
            raise DocumentError(damaged(PPTX))
        collector.notes.append(f"{unreadable} damaged slide{'s' if unreadable != 1 else ''} skipped.")


def _shape_lines(shape: Any, depth: int) -> Iterator[str]:
    if depth > 10:
        return
    sub_shapes = getattr(shape, "shapes", None)
    if sub_shapes is not None:  # a group
        for inner in sub_shapes:
            yield from _shape_lines(inner, depth + 1)
        return
    if getattr(shape, "has_text_frame", False):
        yield shape.text_frame.text
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                yield " | ".join(cells)


def _extract_image(data: bytes, collector: _Collector) -> None:
    if not ocr_available():
        raise DocumentError(OCR_MISSING)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            # Only the header is read so far: refuse huge dimensions before decoding a single pixel.
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise DocumentError(_too_many_pixels(f"{width:,} x {height:,} pixels"))
            image.load()
            text = _ocr(image, seconds=max(1.0, collector.deadline - time.monotonic()))
    except DocumentError:
        raise
    except SoftTimeLimitExceeded:
        raise
    except Image.DecompressionBombError as error:
        # Pillow refuses the most extreme sizes itself, already on open.
        raise DocumentError(_too_many_pixels("far too many pixels")) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DocumentError(damaged(IMAGE)) from error
    collector.run([text], what="image")


def _too_many_pixels(size: str) -> str:
    return (
        f"This image is {size}, too large to read; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels. "
        "Scale it down and upload it again."
    )


def _ocr(image: Any, *, seconds: float) -> str:
    import pytesseract

    try:
        return pytesseract.image_to_string(image, timeout=seconds)
    except RuntimeError as error:  # pytesseract's timeout
        raise DocumentError(TOO_SLOW) from error
    except pytesseract.TesseractNotFoundError as error:
        raise DocumentError(OCR_MISSING) from error
    except pytesseract.TesseractError as error:
        raise DocumentError(damaged(IMAGE)) from error


# --------------------------------------------------------------------------- key points

_AI_GENERATION = "content.ai.generation"
_AI_CLIENT = "content.ai.client"


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ModuleNotFoundError, ValueError):  # the parent package does not exist (yet), or has no spec
        return False


def _ai_summariser() -> tuple[Callable[..., Any] | None, type[Exception] | None]:
    """content.ai's summarise_key_points and its AIUnavailable, or None while that layer does not exist."""
    if not _module_exists(_AI_GENERATION):
        return None, None
    summarise = getattr(importlib.import_module(_AI_GENERATION), "summarise_key_points", None)
    unavailable = None
    if _module_exists(_AI_CLIENT):
        unavailable = getattr(importlib.import_module(_AI_CLIENT), "AIUnavailable", None)
    return summarise, unavailable


def key_points_for(*, workspace: Workspace, text: str) -> tuple[list[str], str]:
    """Key points of `text` and a note on how they were made: the AI layer when present, else an offline extract.

    Never raises: the text is already read, and a document without AI key points
    is still useful context.
    """
    source = text[:SUMMARY_INPUT_CHARS]
    cut = f" (from the first {SUMMARY_INPUT_CHARS:,} characters)" if len(text) > SUMMARY_INPUT_CHARS else ""
    summarise, unavailable = _ai_summariser()
    if summarise is None:
        points = _offline_key_points(source, MAX_KEY_POINTS)
        return points, f"Offline extract: key sentences picked from the document{cut}."
    reason = ""
    try:
        points, note = summarise(workspace=workspace, text=source, max_points=MAX_KEY_POINTS)
        if not isinstance(points, list | tuple):
            raise TypeError(f"summarise_key_points returned {type(points).__name__} points")
    except Exception as error:
        if unavailable is not None and isinstance(error, unavailable):
            reason = "the AI model was unavailable"
        else:
            # A bug in the AI layer must not lose a document whose text is read; the log keeps the trace.
            logger.exception("Key points for a document failed; using the offline extract")
            reason = "the AI summary failed"
    else:
        points = [clean_text(str(point)).strip() for point in points if str(point).strip()][:MAX_KEY_POINTS]
        if points:
            return points, f"{clean_text(str(note or '')).strip()}{cut}".strip()
        reason = "the AI summary was empty"
    points = _offline_key_points(source, MAX_KEY_POINTS)
    return points, f"Offline extract ({reason}): key sentences picked from the document{cut}."


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_BULLETS = " \t-*#>|\u2022\u00b7"
# The markers _extract_pptx writes around slide text are not points of their own.
_SLIDE_MARKER = re.compile(r"^Slide \d+$")
_NOTES_PREFIX = re.compile(r"^Notes: ")
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just let me more most my myself
    no nor not now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours yourself
    yourselves slide notes page
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _offline_key_points(text: str, max_points: int) -> list[str]:
    """Pick the document's most representative sentences, in their original order (no model needed).

    A sentence scores by how frequent its content words are across the whole
    text, damped by its length so long sentences do not win by size alone.
    """
    sentences: list[str] = []
    seen: set[str] = set()
    for raw in _SENTENCE_SPLIT.split(text):
        sentence = _NOTES_PREFIX.sub("", " ".join(raw.strip(_BULLETS).split()))
        key = sentence.lower()
        if len(sentence) < 3 or key in seen or not _WORD.search(sentence) or _SLIDE_MARKER.match(sentence):
            continue
        seen.add(key)
        sentences.append(sentence)
    if not sentences:
        return []
    counts = Counter(
        word for sentence in sentences for word in _words(sentence) if word not in _STOPWORDS and len(word) > 2
    )

    def score(item: tuple[int, str]) -> float:
        words = _words(item[1])
        content = {word for word in words if word in counts}
        if len(words) < 4:
            return 0.0  # headings and fragments only when nothing better exists
        return sum(counts[word] for word in content) / (len(words) ** 0.5)

    ranked = sorted(enumerate(sentences), key=lambda item: (-score(item), item[0]))[:max_points]
    return [_shorten(sentence) for _, sentence in sorted(ranked)]


def _words(sentence: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(sentence)]


def _shorten(sentence: str, limit: int = 280) -> str:
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


# --------------------------------------------------------------------------- delete and read


@transaction.atomic
def delete_document(*, workspace: Workspace, actor: User | None, document: Document) -> None:
    """Delete a document and, once that is committed, its file."""
    if document.workspace_id != workspace.pk:
        raise ValidationError("This document belongs to another workspace.", code="workspace")
    name = document.file.name
    storage = document.file.storage
    document.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name), robust=True)
    logger.info("Document %s deleted by %s", name, getattr(actor, "pk", None))


def ready_documents(*, workspace: Workspace) -> list[Document]:
    """The workspace's documents that may be used as context (for a generation form's choices)."""
    if not plan_for(workspace).document_context:
        return []
    return list(
        Document.objects.for_workspace(workspace)
        .filter(status=Document.Status.READY)
        .only("pk", "original_name", "kind", "key_points", "created_at")
        .order_by("-created_at", "-pk")
    )


def context_for(*, workspace: Workspace, document_ids: Iterable[object]) -> list[dict[str, Any]]:
    """Name and key points of the requested documents, for AI generation, in the order asked.

    Only ready documents of `workspace` count; other ids (another workspace's,
    failed, unknown, not numbers) are skipped. Empty when the plan does not
    include document context.
    """
    ids: list[int] = []
    for value in document_ids:
        try:
            ids.append(int(str(value)))
        except ValueError:
            continue
    if not ids or not plan_for(workspace).document_context:
        return []
    found = {
        document.pk: document
        for document in Document.objects.for_workspace(workspace)
        .filter(pk__in=ids, status=Document.Status.READY)
        .only("pk", "original_name", "key_points")
    }
    return [
        {"name": found[pk].original_name, "key_points": list(found[pk].key_points)}
        for pk in dict.fromkeys(ids)
        if pk in found
    ]


def is_stale(document: Document) -> bool:
    """A document processing for so long that its task has probably not run (no worker)."""
    age = (timezone.now() - document.created_at).total_seconds()
    return document.status == Document.Status.PROCESSING and age > STALE_PROCESSING_SECONDS
