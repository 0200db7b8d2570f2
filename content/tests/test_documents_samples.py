"""Sample documents built in code (no binary fixtures), shared by the document tests, and checks of the samples."""

from __future__ import annotations

import io
import zipfile

import pytest

PDF_TEXT = "Quarterly growth rose by twelve percent across the Nordic region."


def make_pdf(pages: list[str] | None = None) -> bytes:
    """A small valid PDF whose pages show `pages` in Helvetica, with a correct cross-reference table."""
    pages = pages if pages is not None else [PDF_TEXT, "Customers praised the new onboarding flow."]
    count = len(pages)
    # Objects: 1 catalog, 2 page tree, 3 font, then a page and its content stream per page.
    page_ids = [4 + 2 * i for i in range(count)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % pid for pid in page_ids) + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        stream = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_ids[index] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_encrypted_pdf(*, user_password: str = "secret", owner_password: str = "owner") -> bytes:  # noqa: S107
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf())))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Launch plan", level=1)
    document.add_paragraph("Our new espresso machine ships to cafes in March with a two year warranty.")
    document.add_paragraph("Baristas can steam milk twice as fast as with the previous model.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Price"
    table.cell(0, 1).text = "1499 euros"
    table.cell(1, 0).text = "Colour"
    table.cell(1, 1).text = "Matte black"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Roadmap for spring"
    slide.placeholders[1].text = "Open three new stores in Lisbon and Porto."
    slide.notes_slide.notes_text_frame.text = "Mention the landlord negotiations only briefly."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Budget"
    rows = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    rows.cell(0, 0).text = "Marketing"
    rows.cell(0, 1).text = "40000 euros"
    rows.cell(1, 0).text = "Fit-out"
    rows.cell(1, 1).text = "120000 euros"
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


TXT_TEXT = (
    "Our bakery opens at seven every morning.\n\n"
    "Sourdough is baked fresh daily with organic flour from local mills.\n\n"
    "Caf\u00e9 cr\u00e8me and pastries are half price after four in the afternoon."
)


def make_txt(encoding: str = "utf-8") -> bytes:
    if encoding == "utf-16":
        return TXT_TEXT.encode("utf-16")  # with a byte order mark
    return TXT_TEXT.encode(encoding)


def make_png(width: int = 40, height: int = 20) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def make_huge_dimension_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas (Pillow only reads the header on open)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def rezip(data: bytes, *, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """A copy of an Office zip with some parts replaced or added."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
        for name, body in (add or {}).items():
            target.writestr(name, body)
    return out.getvalue()


def make_zip_bomb_docx(member_bytes: int = 30 * 1024 * 1024) -> bytes:
    """A real DOCX plus one part of zeros that deflates about a thousand times."""
    return rezip(make_docx(), add={"word/media/padding.bin": b"\x00" * member_bytes})


def test_the_handmade_pdf_is_valid_and_has_the_text():
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(make_pdf()), strict=True)

    assert len(reader.pages) == 2
    assert PDF_TEXT in reader.pages[0].extract_text()


@pytest.mark.parametrize("builder", [make_docx, make_pptx])
def test_office_samples_are_zips_with_content_types(builder):
    with zipfile.ZipFile(io.BytesIO(builder())) as archive:
        assert "[Content_Types].xml" in archive.namelist()


def test_the_encrypted_pdf_needs_its_password():
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(make_encrypted_pdf()))

    assert reader.is_encrypted
    assert not reader.decrypt("")
    assert reader.decrypt("secret")
