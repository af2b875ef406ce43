"""Checks on uploads, done before any byte is stored: the pipeline accepts the declared type
and the file name's extension, the size is within the pipeline's limit, the bytes start like the
declared type (or are text, for text types), the name is safe.

What each pipeline accepts is data (``upload_types.yaml``), read once.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from medflow.analyzers.archive import ArchiveLimits, check_archive, is_zip
from medflow.errors import EmptyInputError, FileTooLargeError, InputError, UnsupportedFileError
from medflow.platform.config import TriggerRule

_TYPES_FILE = Path(__file__).with_name("upload_types.yaml")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KIND_KEYS = frozenset({"label", "max_bytes", "types"})
_TYPE_KEYS = frozenset({"extensions", "magic", "text", "alias_of"})
_TEXT_CONTROL = frozenset(b"\t\n\r\f\v\x1a")
ANY_EXTENSION = "*"
HEAD_BYTES = 64 * 1024
"""How much of an upload :func:`check_content` looks at."""
ARCHIVE_LIMITS = ArchiveLimits()
"""Zip-bomb limits for every ZIP-based upload (DOCX and any other ZIP container)."""

Signature = tuple[tuple[int, bytes], ...]
"""(offset, bytes) parts that must all match."""


@dataclass(frozen=True)
class TypeRule:
    """One content type a pipeline accepts.

    Attributes:
        content_type: the MIME type, lower case, without parameters.
        extensions: accepted name endings (``.pdf``); ``*`` accepts any name.
        signatures: the bytes must match one of these (none: no magic to check).
        text: the bytes must be text.
        alias_of: the canonical name when this is another browser's name for a type.
    """

    content_type: str
    extensions: tuple[str, ...]
    signatures: tuple[Signature, ...] = ()
    text: bool = False
    alias_of: str | None = None

    def accepts_name(self, filename: str) -> bool:
        """Whether ``filename``'s extension is one of this type's."""
        return ANY_EXTENSION in self.extensions or extension(filename) in self.extensions

    def matches(self, head: bytes) -> bool:
        """Whether ``head`` (the file's first bytes) matches one of the signatures."""
        return any(
            all(head[at : at + len(part)] == part for at, part in sig) for sig in self.signatures
        )


@dataclass(frozen=True)
class UploadKind:
    """What one pipeline accepts.

    Attributes:
        pipeline: the pipeline's name.
        label: what the portal calls this kind of file.
        max_bytes: the pipeline's own size limit.
        types: content type -> rule.
    """

    pipeline: str
    label: str
    max_bytes: int
    types: Mapping[str, TypeRule]


def extension(filename: str) -> str:
    """``filename``'s last suffix, lower case (``""`` when it has none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def _signature(text: str, where: str) -> Signature:
    parts = []
    for piece in str(text).split():
        offset, _, hexed = piece.partition(":")
        if not offset.isdigit() or not hexed:
            raise ValueError(f"{where}: magic {text!r} is not 'offset:hex ...'")
        parts.append((int(offset), bytes.fromhex(hexed)))
    if not parts:
        raise ValueError(f"{where}: empty magic")
    return tuple(parts)


def _rule(content_type: str, raw: Mapping[str, Any], where: str) -> TypeRule:
    unknown = set(raw) - _TYPE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    extensions = tuple(str(e).lower() for e in raw.get("extensions", ()))
    bad = [e for e in extensions if e != ANY_EXTENSION and not re.fullmatch(r"\.[a-z0-9]+", e)]
    if not extensions or bad:
        raise ValueError(f"{where}: extensions must be '.ext' or '*' (got {list(extensions)})")
    return TypeRule(
        content_type=content_type,
        extensions=extensions,
        signatures=tuple(_signature(m, where) for m in raw.get("magic", ())),
        text=bool(raw.get("text", False)),
        alias_of=str(raw["alias_of"]).lower() if raw.get("alias_of") else None,
    )


def parse_kinds(raw: Mapping[str, Any]) -> dict[str, UploadKind]:
    """The kinds declared in ``raw`` (the YAML document), in declaration order.

    Raises:
        ValueError: an unknown key, a bad extension or magic, a missing label or limit.
    """
    kinds: dict[str, UploadKind] = {}
    for pipeline, body in raw.items():
        where = f"upload_types.yaml: {pipeline}"
        if not isinstance(body, Mapping) or set(body) - _KIND_KEYS:
            raise ValueError(f"{where}: expected only {sorted(_KIND_KEYS)}")
        limit = body.get("max_bytes")
        if not isinstance(limit, int) or limit <= 0 or not body.get("label"):
            raise ValueError(f"{where}: needs a label and a positive max_bytes")
        types = {
            str(ct).lower(): _rule(str(ct).lower(), rule or {}, f"{where}: {ct}")
            for ct, rule in (body.get("types") or {}).items()
        }
        kinds[str(pipeline)] = UploadKind(str(pipeline), str(body["label"]), limit, types)
    return kinds


@lru_cache(maxsize=1)
def upload_kinds() -> dict[str, UploadKind]:
    """pipeline -> what it accepts, from ``upload_types.yaml`` (read once)."""
    return parse_kinds(yaml.safe_load(_TYPES_FILE.read_text(encoding="utf-8")))


def _base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def kinds_for(filename: str, content_type: str, registered: Iterable[str]) -> list[str]:
    """The registered pipelines that accept this file's type and extension, in preference
    order (the first is the one chosen when the uploader does not say)."""
    names = set(registered)
    base = _base(content_type)
    return [
        kind.pipeline
        for kind in upload_kinds().values()
        if kind.pipeline in names and base in kind.types and kind.types[base].accepts_name(filename)
    ]


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


def upload_limit(pipeline: str, setting: int) -> int:
    """The largest upload ``pipeline`` takes: its own limit, capped by the site's setting."""
    kind = upload_kinds().get(pipeline)
    return min(setting, kind.max_bytes) if kind else setting


def _refusal(filename: str, pipeline: str, base: str, what: str) -> UnsupportedFileError:
    kinds = upload_kinds()
    kind = kinds.get(pipeline)
    label = f"{pipeline} ({kind.label.lower()})" if kind else pipeline
    fits = [k.pipeline for k in kinds.values() if k.pipeline != pipeline and base in k.types]
    fits = [p for p in fits if kinds[p].types[base].accepts_name(filename)]
    if fits:
        hint = f"it looks like {kinds[fits[0]].label.lower()}: send pipeline {fits[0]!r}"
    else:
        allowed = ", ".join(sorted(t for t, r in (kind.types if kind else {}).items()))
        hint = f"send {allowed or 'nothing'}"
    return UnsupportedFileError(filename, f"{what} is not accepted by {label}; {hint}")


def check_declared(filename: str, pipeline: str, content_type: str, size: int, limit: int) -> None:
    """Refuse an upload by what the client declares.

    Args:
        filename: the (safe) file name.
        pipeline: the pipeline that is to run.
        content_type: the declared MIME type.
        size: the declared size in bytes.
        limit: the site's upload limit (``storage.max_upload_bytes``); the pipeline's own
            limit applies too.

    Raises:
        UnsupportedFileError: the pipeline does not take this type or extension.
        FileTooLargeError: over the limit.
        EmptyInputError: zero bytes.
    """
    kind = upload_kinds().get(pipeline)
    base = _base(content_type)
    rule = kind.types.get(base) if kind else None
    if rule is None:
        raise _refusal(filename, pipeline, base, base or "no type")
    if not rule.accepts_name(filename):
        ext = extension(filename)
        what = f"a {ext} file" if ext else "a file without an extension"
        raise _refusal(filename, pipeline, base, f"{what} ({base})")
    limit = upload_limit(pipeline, limit)
    if size > limit:
        raise FileTooLargeError(
            filename, f"{size} bytes is over the {limit}-byte upload limit for {pipeline}"
        )
    if size <= 0:
        raise EmptyInputError(filename, "the file is empty (0 bytes)")


def _distinctive(sig: Signature) -> bool:
    printable = all(32 <= b < 127 for _, part in sig for b in part)
    return not printable or sum(len(part) for _, part in sig) >= 5


def _text_problem(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for kind in upload_kinds().values():
        for ct, rule in kind.types.items():
            # Only signatures no plain text starts with: not short printable ones ("ID3" or
            # "OggS" could begin a note), but "%PDF-" and "RIFF....WAVE" do count.
            binary = [s for s in rule.signatures if _distinctive(s)]
            if any(all(head[at : at + len(p)] == p for at, p in s) for s in binary):
                return f"the bytes are a {ct} file, not text"
    if b"\x00" in head:
        return "the bytes hold NUL bytes: binary data, not text"
    control = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROL)
    if control > max(8, len(head) // 100):
        return "the bytes hold control characters: binary data, not text"
    return None


def check_content(filename: str, pipeline: str, content_type: str, head: bytes) -> None:
    """Refuse bytes that do not look like their declared type.

    Args:
        head: the file's first bytes (:data:`HEAD_BYTES` or all of a smaller file).

    Raises:
        UnsupportedFileError: the leading bytes match none of the type's signatures, or a
            text type's bytes are binary.
    """
    kind = upload_kinds().get(pipeline)
    base = _base(content_type)
    rule = kind.types.get(base) if kind else None
    if rule is None:
        raise _refusal(filename, pipeline, base, base or "no type")
    if rule.signatures and not rule.matches(head):
        raise UnsupportedFileError(filename, f"the bytes are not a {base} file")
    if rule.text:
        problem = _text_problem(head)
        if problem:
            raise UnsupportedFileError(filename, f"{problem} (declared {base})")


def check_archive_upload(filename: str, head: bytes, body: Path) -> None:
    """Refuse a ZIP-based upload (whatever its declared type) whose central directory is over
    :data:`ARCHIVE_LIMITS`, before it is stored or any entry unpacked; other files pass.

    Raises:
        FileTooLargeError: it would unpack to more than the limit (the web answers 413).
        InputError: compressed past the ratio limit, too many entries, or a damaged archive
            (the web answers 400).
    """
    if is_zip(head):
        check_archive(body, filename, ARCHIVE_LIMITS)


def pipeline_of_key(triggers: Iterable[TriggerRule], bucket: str, key: str) -> str:
    """The pipeline an object at ``bucket``/``key`` starts (the first matching trigger rule),
    else the key's first segment."""
    return next(
        (r.pipeline for r in triggers if r.bucket == bucket and key.startswith(r.prefix)),
        key.split("/", 1)[0],
    )


def portal_kinds(registered: Iterable[str], setting: int) -> list[dict[str, Any]]:
    """What the upload page's script needs to choose a kind and a content type per file:
    per registered pipeline (in preference order) its label, limit and ``{extension: content
    type}`` (canonical types, not aliases)."""
    names = set(registered)
    out = []
    for kind in upload_kinds().values():
        if kind.pipeline not in names:
            continue
        by_ext: dict[str, str] = {}
        for ct, rule in kind.types.items():
            if rule.alias_of is None:
                for ext in rule.extensions:
                    if ext != ANY_EXTENSION:
                        by_ext.setdefault(ext, ct)
        aliases = {ct: rule.alias_of or ct for ct, rule in kind.types.items()}
        out.append(
            {
                "pipeline": kind.pipeline,
                "label": kind.label,
                "max_bytes": upload_limit(kind.pipeline, setting),
                "extensions": by_ext,
                "types": aliases,
            }
        )
    return out
