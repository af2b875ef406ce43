"""Bad input: each kind gets its own InputError naming the file, before anything is rendered."""

from __future__ import annotations

import io

import pytest

from medflow.analyzers.labs.inputcheck import PageTooLargeError, PdfLimits, TooManyPagesError
from medflow.analyzers.labs.parser import read_lab_pdf
from medflow.errors import (
    CorruptFileError,
    EmptyInputError,
    EncryptedFileError,
    FileTooLargeError,
    InputError,
    UnsupportedFileError,
)


def _text_pdf() -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "Sodium 140 mmol/L 136-145")
    canvas.drawString(72, 700, "Potassium 4.1 mmol/L 3.5-5.1")
    canvas.save()
    return buf.getvalue()


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from numbered object bodies (1 = catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_text_pdf_passes_the_checks() -> None:
    rows, info = read_lab_pdf(_text_pdf(), "ok.pdf")
    assert [r.name for r in rows] == ["Sodium", "Potassium"]
    assert info.text_pages == 1


def test_empty_file() -> None:
    with pytest.raises(EmptyInputError, match=r"^empty\.pdf: the file is empty"):
        read_lab_pdf(b"", "empty.pdf")


def test_not_a_pdf() -> None:
    with pytest.raises(UnsupportedFileError, match=r"^scan\.png: not a PDF"):
        read_lab_pdf(b"\x89PNG\r\n\x1a\n" + bytes(200), "scan.png")


def test_truncated_pdf() -> None:
    data = _text_pdf()
    with pytest.raises(CorruptFileError, match=r"^cut\.pdf: the PDF is truncated"):
        read_lab_pdf(data[: len(data) // 2], "cut.pdf")


def test_garbage_after_a_pdf_header_is_corrupt() -> None:
    with pytest.raises(CorruptFileError, match=r"^junk\.pdf: the PDF cannot be read"):
        read_lab_pdf(b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n", "junk.pdf")


def test_encrypted_pdf() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_text_pdf())))
    writer.encrypt(user_password="secret", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(EncryptedFileError, match=r"^locked\.pdf: the PDF is password-protected"):
        read_lab_pdf(buf.getvalue(), "locked.pdf")


def test_file_over_the_size_limit() -> None:
    with pytest.raises(FileTooLargeError, match=r"^big\.pdf: the file is .* over the"):
        read_lab_pdf(_text_pdf(), "big.pdf", limits=PdfLimits(max_bytes=500))


def test_thousands_of_pages_are_refused_before_reading() -> None:
    pages = 5000
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages
    with pytest.raises(TooManyPagesError, match=r"^bomb\.pdf: the PDF has 5000 pages"):
        read_lab_pdf(_raw_pdf(objects), "bomb.pdf")


def test_huge_mediabox_is_refused_before_rendering() -> None:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
    ]
    with pytest.raises(PageTooLargeError, match=r"^wide\.pdf: page 1 is 14400x14400 pt"):
        read_lab_pdf(_raw_pdf(objects), "wide.pdf")


def test_huge_declared_image_is_refused_before_decoding() -> None:
    content = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace "
        b"/DeviceGray /BitsPerComponent 8 /Length 4 >>\nstream\n\x00\x00\x00\x00\nendstream",
    ]
    with pytest.raises(PageTooLargeError, match=r"100000x100000 image"):
        read_lab_pdf(_raw_pdf(objects), "bomb-image.pdf")


def test_every_error_is_one_line_naming_the_file() -> None:
    bad = {"a.pdf": b"", "b.pdf": b"hello", "c.pdf": _text_pdf()[:300]}
    for name, data in bad.items():
        with pytest.raises(InputError) as caught:
            read_lab_pdf(data, name)
        assert str(caught.value).startswith(f"{name}: ")
        assert "\n" not in str(caught.value)
