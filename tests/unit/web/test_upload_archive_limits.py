"""Zip-based uploads (DOCX) are checked from their central directory before they are stored or
unpacked: a DOCX compressed ~100:1 or more is refused with 400 naming the ratio limit, one that
would unpack past the size limit with 413; ordinary and dense documents are stored."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.web.conftest import Portal, api_token, make_portal

from medflow.analyzers.archive import ArchiveLimits
from medflow.pipelines.documents import build_pipeline as documents_pipeline
from medflow.pipelines.labs import build_pipeline as labs_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "documents"))
from docx_fixtures import note_docx, padded_docx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with make_portal(tmp_path, [labs_pipeline(), documents_pipeline()]) as made:
        yield made


def _put(portal: Portal, data: bytes, name: str = "note.docx") -> tuple[int, str]:
    body = {
        "filename": name,
        "content_type": DOCX,
        "size": len(data),
        "patient_id": "P1",
        "pipeline": "documents",
    }
    r = portal.client.post("/api/v1/uploads", json=body, headers=api_token(portal, "staff"))
    assert r.status_code == 201, r.text
    ticket = r.json()
    put = portal.client.put(ticket["upload_url"], content=data, headers=ticket["headers"])
    detail = put.json().get("detail", "") if put.status_code >= 400 else ""
    return put.status_code, str(detail)


def _stored(portal: Portal) -> int:
    return len(portal.platform.services.store.list("raw"))


def test_a_docx_compressed_over_100_to_1_is_refused_at_upload(portal: Portal) -> None:
    status, detail = _put(portal, padded_docx(110, 2_000_000), "bomb.docx")
    assert status == 400
    assert detail.startswith("bomb.docx: ") and "100:1 limit on compression ratio" in detail
    assert _stored(portal) == 0
    assert portal.platform.services.db.documents.list() == []


def test_a_docx_that_would_unpack_past_the_limit_is_413(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medflow.web import uploads

    monkeypatch.setattr(uploads, "ARCHIVE_LIMITS", ArchiveLimits(max_unpacked_bytes=500_000))
    status, detail = _put(portal, padded_docx(40, 1_000_000), "long.docx")
    assert status == 413
    assert "over the 0.5 MB limit on unpacked size" in detail
    assert _stored(portal) == 0


def test_ordinary_and_dense_docx_files_are_stored(portal: Portal) -> None:
    assert _put(portal, note_docx()) == (201, "")
    assert _put(portal, padded_docx(60, 2_000_000), "dense.docx") == (201, "")
    assert _stored(portal) == 2


def test_a_damaged_zip_is_refused_as_bad_input(portal: Portal) -> None:
    status, detail = _put(portal, note_docx()[:-40], "cut.docx")
    assert status == 400
    assert detail.startswith("cut.docx: not a readable ZIP archive")
    assert _stored(portal) == 0
