"""Checks on uploads, done before any byte is stored: the pipeline accepts the declared type,
the size is within the limit, the bytes start like the declared type, the name is safe."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from medflow.errors import EmptyInputError, FileTooLargeError, InputError, UnsupportedFileError

_TYPES_FILE = Path(__file__).with_name("upload_types.yaml")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@lru_cache(maxsize=1)
def accepted_types() -> dict[str, dict[str, tuple[bytes, ...]]]:
    """pipeline -> content type -> accepted leading bytes (empty: no magic to check)."""
    raw = yaml.safe_load(_TYPES_FILE.read_text(encoding="utf-8"))
    return {
        str(pipeline): {
            str(ctype): tuple(bytes.fromhex(m) for m in magics) for ctype, magics in types.items()
        }
        for pipeline, types in raw.items()
    }


def safe_filename(filename: str) -> str:
    """``filename`` reduced to a safe object-key segment (letters, digits, ``._-``).

    Raises:
        InputError: nothing usable is left.
    """
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[-120:]
    if not cleaned.strip("_"):
        raise InputError(filename[:80] or "upload", "the file name has no usable characters")
    return cleaned


def check_declared(filename: str, pipeline: str, content_type: str, size: int, limit: int) -> None:
    """Refuse an upload by what the client declares.

    Raises:
        UnsupportedFileError: the pipeline does not take this type.
        FileTooLargeError: over ``limit`` bytes.
        EmptyInputError: zero bytes.
    """
    types = accepted_types().get(pipeline, {})
    base_type = content_type.split(";", 1)[0].strip().lower()
    if base_type not in types:
        allowed = ", ".join(sorted(types)) or "nothing"
        raise UnsupportedFileError(
            filename, f"{base_type or 'no type'} is not accepted by {pipeline}; send {allowed}"
        )
    if size > limit:
        raise FileTooLargeError(filename, f"{size} bytes is over the {limit}-byte upload limit")
    if size <= 0:
        raise EmptyInputError(filename, "the file is empty (0 bytes)")


def check_content(filename: str, pipeline: str, content_type: str, head: bytes) -> None:
    """Refuse bytes that do not start like their declared type.

    Raises:
        UnsupportedFileError: the leading bytes match none of the type's signatures.
    """
    base_type = content_type.split(";", 1)[0].strip().lower()
    magics = accepted_types().get(pipeline, {}).get(base_type, ())
    if magics and not any(head.startswith(m) for m in magics):
        raise UnsupportedFileError(filename, f"the bytes are not a {base_type} file")
