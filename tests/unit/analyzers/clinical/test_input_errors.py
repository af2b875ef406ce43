"""Bad input: empty text, binary data, invalid UTF-8, another language."""

from __future__ import annotations

import pytest

from medflow.analyzers.clinical import ClinicalExtractor, decode_text
from medflow.errors import CorruptFileError, EmptyInputError, UnsupportedFileError


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_is_refused(extractor: ClinicalExtractor, text: str) -> None:
    with pytest.raises(EmptyInputError, match=r"note\.txt: the text is empty"):
        extractor.extract(text, filename="note.txt")


def test_binary_garbage_is_refused(extractor: ClinicalExtractor) -> None:
    garbage = bytes(range(256)).decode("latin-1") * 4
    with pytest.raises(UnsupportedFileError, match=r"scan\.bin"):
        extractor.extract(garbage, filename="scan.bin")


def test_bytes_with_nul_are_not_text() -> None:
    with pytest.raises(UnsupportedFileError, match="binary data"):
        decode_text(b"%PDF-1.7\x00\x01\x02", "report.pdf")


def test_invalid_utf8_is_corrupt() -> None:
    with pytest.raises(CorruptFileError, match="not valid UTF-8"):
        decode_text("Fièvre".encode("latin-1") + b" and cough", "note.txt")


def test_empty_bytes() -> None:
    with pytest.raises(EmptyInputError, match="0 bytes"):
        decode_text(b"", "note.txt")


def test_utf8_bom_is_accepted() -> None:
    assert decode_text("\ufeffNo fever.".encode(), "note.txt") == "No fever."


def test_other_language_gives_a_result_that_says_so(extractor: ClinicalExtractor) -> None:
    text = "El paciente presenta dolor torácico y fiebre desde hace tres días, sin tos."
    result = extractor.extract(text)
    assert result.language_supported is False
    assert result.entities == ()
    assert "English only" in result.warnings[0]
    assert "(es)" in result.warnings[0]


def test_terse_english_is_still_english(extractor: ClinicalExtractor) -> None:
    result = extractor.extract("Metformin 500 mg PO BID. HTN. DM2.")
    assert result.language_supported
    assert result.by_category("MEDICATION")
