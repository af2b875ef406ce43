"""Keeping a DICOMDIR's byte offsets right after its records change length.

A DICOMDIR (PS3.10 8.6, PS3.3 F.3) links its directory records by byte offsets from the start of
the file: (0004,1200)/(0004,1202) in the root, (0004,1400) next record and (0004,1420) first lower
level record in each item. De-identification changes value lengths, so every offset moves.
The links are captured as record indexes before de-identification and written back as the new
offsets after: offsets are fixed-size UL values, so rewriting them moves nothing else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medflow.analyzers.imaging.read import quiet_pydicom

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_ROOT_OFFSETS = (0x00041200, 0x00041202)
_ITEM_OFFSETS = (0x00041400, 0x00041420)


@dataclass(frozen=True)
class RecordLinks:
    """Offsets of a DICOMDIR expressed as record indexes (None: no record, written as 0)."""

    root: dict[int, int | None]
    items: list[dict[int, int | None]]


def capture_links(ds: Dataset) -> RecordLinks | None:
    """The record links of a DICOMDIR as read (None when ``ds`` is not a DICOMDIR)."""
    records = ds.get("DirectoryRecordSequence")
    if not records:
        return None
    index = {item.seq_item_tell: i for i, item in enumerate(records)}

    def target(value: object) -> int | None:
        return index.get(value) if isinstance(value, int) and value else None

    root = {tag: target(ds[tag].value) for tag in _ROOT_OFFSETS if tag in ds}
    items = [
        {tag: target(item[tag].value) for tag in _ITEM_OFFSETS if tag in item} for item in records
    ]
    return RecordLinks(root=root, items=items)


def rewrite_offsets(data: bytes, links: RecordLinks) -> bytes:
    """The written DICOMDIR with its offsets pointing at the records' new positions."""
    import pydicom

    with quiet_pydicom():
        ds = pydicom.dcmread(io.BytesIO(data))
        records = ds.DirectoryRecordSequence
        positions = [item.seq_item_tell for item in records]
        for tag, idx in links.root.items():
            ds[tag].value = positions[idx] if idx is not None else 0
        for item, item_links in zip(records, links.items, strict=True):
            for tag, idx in item_links.items():
                item[tag].value = positions[idx] if idx is not None else 0
        buf = io.BytesIO()
        ds.save_as(buf)
    return buf.getvalue()
