"""Input checks before extraction: empty text, binary data, and a cheap English test.

The language test counts common function words (stopwords) of English against those of the
languages a European clinic most often receives (Spanish, French, German, Portuguese,
Italian). Clinical English is terse ("Metformin 500 mg PO BID") and may hold no English stopword
at all, so text is only called non-English when another language's stopwords clearly outnumber
English ones — never merely for lacking English ones.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml

from medflow.errors import CorruptFileError, EmptyInputError, UnsupportedFileError

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@cache
def _stopwords() -> dict[str, frozenset[str]]:
    raw = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "stopwords.yaml")
        .read_text("utf-8")
    )
    return {str(code): frozenset(str(w).lower() for w in words) for code, words in raw.items()}


def check_text(text: str, filename: str = "<text>") -> None:
    """Reject text that cannot be analysed.

    Args:
        text: the input.
        filename: how to name the input in error messages.

    Raises:
        EmptyInputError: no visible characters.
        UnsupportedFileError: the text holds NUL bytes or is mostly control characters
            (binary data passed as text).
    """
    if not text or not text.strip():
        raise EmptyInputError(filename, "the text is empty; there is nothing to analyse")
    sample = text[:20000]
    if "\x00" in sample:
        raise UnsupportedFileError(filename, "this is binary data, not text")
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    replacement = sample.count("\ufffd")
    if (control + replacement) / len(sample) > 0.1:
        raise UnsupportedFileError(filename, "this is mostly unreadable characters, not text")


def decode_text(data: bytes, filename: str = "<bytes>") -> str:
    """Decode bytes that should hold plain text.

    Args:
        data: the file's bytes.
        filename: the file's name for messages.

    Returns:
        The text (UTF-8, or UTF-8 with BOM).

    Raises:
        EmptyInputError: zero bytes.
        UnsupportedFileError: binary data (NUL bytes).
        CorruptFileError: not valid UTF-8 (a truncated or damaged text file).
    """
    if not data:
        raise EmptyInputError(filename, "the file is empty (0 bytes)")
    if b"\x00" in data[:4096]:
        raise UnsupportedFileError(filename, "this is binary data, not a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(
            filename, f"not valid UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from exc
    check_text(text, filename)
    return text


def looks_english(text: str) -> tuple[bool, str | None]:
    """Guess whether a text is English.

    Args:
        text: the input.

    Returns:
        ``(True, None)`` for English or too little evidence, else ``(False, code)`` with the
        ISO 639-1 code of the language that looked likelier.
    """
    words = [w.lower() for w in _WORD.findall(text[:20000])]
    lists = _stopwords()
    en = lists["en"]
    english = sum(1 for w in words if w in en)
    best, best_count = None, 0
    for code, stop in lists.items():
        if code == "en":
            continue
        # One-letter words ("o", "a", "e") are as often initials or list labels as articles.
        count = sum(1 for w in words if len(w) > 1 and w in stop and w not in en)
        if count > best_count:
            best, best_count = code, count
    # At least 3 hits, twice the English ones, and a tenth of all words: real Spanish or
    # German prose is a third or more function words; an English header with "De-ID" is not.
    if best_count >= 3 and best_count > 2 * english and best_count >= 0.1 * len(words):
        return False, best
    return True, None
