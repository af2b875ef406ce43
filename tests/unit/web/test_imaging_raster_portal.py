"""PNG and JPEG uploaded to the portal as medical images: accepted by type and bytes, processed
at once as one-image studies, their report linked on the report page; a DICOM file the browser
cannot type still goes through as application/octet-stream, checked by its bytes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.web.conftest import Portal, api_token, every_pipeline, login, make_portal, upload

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imaging"
sys.path.insert(0, str(FIXTURES))
import imaging_fixtures  # noqa: E402
import raster_fixtures as rf  # noqa: E402


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with make_portal(tmp_path_factory.mktemp("raster"), every_pipeline()) as made:
        yield made


def _run(portal: Portal, doc_id: str) -> dict[str, object]:
    portal.platform.runner.run_pending()
    r = portal.client.get(f"/api/v1/documents/{doc_id}", headers=api_token(portal, "staff"))
    assert r.status_code == 200
    execution = r.json()["execution"]
    assert isinstance(execution, dict)
    return execution


@pytest.mark.parametrize(
    ("fixture", "content_type"),
    [(rf.PNG_FIXTURE, "image/png"), (rf.JPEG_FIXTURE, "image/jpeg")],
)
def test_a_png_or_jpeg_upload_is_reported_at_once(
    portal: Portal, fixture: Path, content_type: str
) -> None:
    data = fixture.read_bytes()
    doc_id = upload(
        portal, data, filename=fixture.name, content_type=content_type, pipeline="imaging"
    )
    execution = _run(portal, doc_id)
    assert execution["pipeline"] == "imaging"
    assert execution["status"] == "succeeded", execution.get("error")
    login(portal.client, "doc@example.org")
    page = portal.client.get(f"/reports/{doc_id}")
    assert page.status_code == 200
    assert 'id="waiting"' not in page.text and 'id="html-report"' in page.text
    assert "Images analysed" in page.text
    for name in ("report.html", "report.json", "findings.sr.dcm"):
        assert f"/reports/{doc_id}/download/{name}" in page.text
    report = portal.client.get(f"/reports/{doc_id}/download/report.json")
    assert report.status_code == 200
    [image] = json.loads(report.content)["images"]
    assert image["metadata"]["kind"] == ("png" if content_type == "image/png" else "jpeg")


def _put(portal: Portal, data: bytes, filename: str, content_type: str) -> tuple[int, str]:
    body = {
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "patient_id": "P1",
        "pipeline": "imaging",
    }
    ticket = portal.client.post("/api/v1/uploads", json=body, headers=api_token(portal, "staff"))
    assert ticket.status_code == 201, ticket.text
    put = portal.client.put(
        ticket.json()["upload_url"], content=data, headers=ticket.json()["headers"]
    )
    return put.status_code, str(put.json().get("detail", "")) if put.status_code >= 400 else ""


def test_a_jpeg_declared_as_png_is_refused_before_storage(portal: Portal) -> None:
    code, detail = _put(portal, rf.JPEG_FIXTURE.read_bytes(), "scan.png", "image/png")
    assert code == 415 and detail.startswith("scan.png: ")
    stored = portal.platform.services.store.list("raw", "imaging/")
    assert not [o for o in stored if o.key.endswith("/scan.png")]


def test_an_untyped_dicom_named_by_its_uid_is_accepted_by_its_bytes(
    portal: Portal, tmp_path: Path
) -> None:
    ds = imaging_fixtures.ct_image(seed=9)
    path = imaging_fixtures.save(ds, tmp_path / str(ds.SOPInstanceUID))
    doc_id = upload(
        portal,
        path.read_bytes(),
        filename=path.name,
        content_type="application/octet-stream",
        pipeline="imaging",
    )
    execution = _run(portal, doc_id)
    assert execution["status"] == "succeeded", execution.get("error")
    # The same declared type with bytes that are not DICOM is refused at the PUT.
    code, detail = _put(portal, b"\x00" * 300, "1.2.3.4", "application/octet-stream")
    assert code == 415 and detail.startswith("1.2.3.4: ")


@pytest.mark.slow
def test_an_image_whose_text_may_remain_is_flagged_for_review_in_the_api(
    portal: Portal,
) -> None:
    import io

    from PIL import Image, ImageDraw, ImageFont

    # A word too large to blank without hiding what is under it (over the box cap): the copy
    # is not stamped clean, the API says a person must look at it.
    img = Image.new("L", (1000, 1000), 30)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 300, 1000, 800), fill=60)
    draw.text((150, 450), "HARTWELL", fill=250, font=ImageFont.load_default(size=80))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    doc_id = upload(
        portal, buf.getvalue(), filename="screen.png", content_type="image/png", pipeline="imaging"
    )
    execution = _run(portal, doc_id)
    assert execution["status"] == "succeeded", execution.get("error")
    review = execution["pixel_review"]
    assert isinstance(review, list) and len(review) == 1
    assert "larger than the cap" in review[0]
    assert "HARTWELL" not in review[0]


@pytest.mark.slow
def test_a_text_free_upload_has_no_pixel_review(portal: Portal) -> None:
    import burned_in_set

    case = burned_in_set.free_case(0)  # a generated text-free chest-like PNG
    doc_id = upload(
        portal, case.data, filename="chest.png", content_type="image/png", pipeline="imaging"
    )
    execution = _run(portal, doc_id)
    assert execution["status"] == "succeeded", execution.get("error")
    assert execution["pixel_review"] == []
