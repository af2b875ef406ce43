"""PNG and JPEG uploads through the imaging pipeline on the platform: a one-image study each,
processed at once; the de-identified copy holds no metadata; the report, JSON and SR are where
the portal reads them; bad rasters are quarantined with their reason and kept."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

from medflow.analyzers.imaging.analyzer import image_study_uid
from medflow.analyzers.imaging.deid import UIDMapper
from medflow.analyzers.imaging.raster import PNG_CRITICAL_CHUNKS, jpeg_markers, png_chunks
from medflow.analyzers.imaging.sr import read_findings_sr
from medflow.pipelines.imaging import DEID_BUCKET, RESULTS_BUCKET, StudySweeper
from medflow.platform.services import Platform
from medflow.platform.storage.base import sha256_hex
from medflow.platform.storage.memory import MemoryObjectStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "imaging"))
import imaging_fixtures as fx
import raster_fixtures as rf

SECRET = b"raster-pipeline-secret-0123456789"
PROVIDER = "radiology@example.org"
IDENTIFYING = (*rf.IDENTIFYING, b"2024:03:15")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    from medflow.pipelines.imaging import ImagingConfig, imaging_pipelines
    from medflow.platform.config import Settings
    from medflow.platform.db import Database
    from medflow.platform.notify import MemoryNotifier
    from medflow.platform.runner import Services

    # A test instrument (not a diagnostic model) for images of modality OT, what a raster is.
    fx.write_model(tmp_path / "models", modalities=("OT",), body_parts=("*",))
    db = Database(f"sqlite:///{tmp_path / 'medflow.sqlite'}")
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        store=MemoryObjectStore(),
        db=db,
        notifier=MemoryNotifier(db, settings.notify),
    )
    config = ImagingConfig(
        deid_secret=SECRET, provider_email=PROVIDER, quiet_s=0.0, models_dir=tmp_path / "models"
    )
    with Platform(services=services, pipelines=imaging_pipelines(config)) as p:
        yield p


def _run(platform: Platform, data: bytes, name: str, **meta: str) -> Any:
    return platform.runner.wait(platform.ingest(data, name, "imaging", meta), timeout=120)


def _no_metadata(data: bytes, kind: str) -> None:
    if kind == "png":
        assert set(png_chunks(data)) <= PNG_CRITICAL_CHUNKS
    else:
        markers = jpeg_markers(data)
        assert not [m for m in markers if 0xE0 <= m <= 0xEF or m == 0xFE], markers
    for needle in IDENTIFYING:
        assert needle not in data, needle
    img = Image.open(io.BytesIO(data))
    img.load()
    assert not {"exif", "comment", "xmp", "icc_profile", "photoshop", "jfif"} & set(img.info)
    assert not getattr(img, "text", {})


@pytest.mark.parametrize(
    ("fixture", "kind", "suffix"),
    [(rf.PNG_FIXTURE, "png", ".png"), (rf.JPEG_FIXTURE, "jpeg", ".jpg")],
)
def test_a_raster_is_one_study_deidentified_reported_and_notified_at_once(
    platform: Platform, fixture: Path, kind: str, suffix: str
) -> None:
    store, runner = platform.services.store, platform.runner
    original = fixture.read_bytes()
    assert all(needle in original for needle in rf.IDENTIFYING)  # the fixture does carry PHI
    rec = _run(platform, original, f"chest{suffix}")
    assert rec.status == "succeeded", rec.error
    assert [s.step for s in rec.steps] == ["register"]
    study = image_study_uid(sha256_hex(original))
    assert rec.state["study_uid"] == study and rec.state["kind"] == kind
    assert rec.state["images"] == 1

    # The de-identified copy: same format, pixels only, under the remapped study UID.
    deid_key = f"imaging/{UIDMapper(SECRET).map(study)}/image{suffix}"
    assert rec.state["deidentified_keys"] == [deid_key]
    assert [o.key for o in store.list(DEID_BUCKET)] == [deid_key]
    copy = store.get(DEID_BUCKET, deid_key)
    _no_metadata(copy, kind)
    before = np.asarray(Image.open(io.BytesIO(original)).convert("L"), dtype=np.int16)
    after = np.asarray(Image.open(io.BytesIO(copy)).convert("L"), dtype=np.int16)
    assert after.shape == before.shape
    if kind == "png":  # lossless: the pixels are the original's (no text to mask)
        assert rec.state["masked_regions"] == 0
        assert np.array_equal(before, after)
    else:  # one more JPEG generation at quality 95
        assert np.abs(before - after).mean() < 3.0

    # The report, its JSON and an SR that references no source UID, where the portal reads.
    names = sorted(k.rsplit("/", 1)[-1] for k in rec.state["result_keys"])
    assert names == ["findings.sr.dcm", "report.html", "report.json"]
    report = json.loads(store.get(RESULTS_BUCKET, f"imaging/{study}/report.json"))
    [image] = report["images"]
    assert image["metadata"]["kind"] == kind
    assert image["metadata"]["study_instance_uid"] == study
    assert {f["label"] for f in image["findings"]} == {"bright", "dark"}
    assert "<html" in store.get(RESULTS_BUCKET, f"imaging/{study}/report.html").decode().lower()
    sr_bytes = store.get(RESULTS_BUCKET, f"imaging/{study}/findings.sr.dcm")
    sr = pydicom.dcmread(io.BytesIO(sr_bytes))
    assert sr.StudyInstanceUID == study and sr.PatientName == ""
    assert "CurrentRequestedProcedureEvidenceSequence" not in sr or not len(
        sr.CurrentRequestedProcedureEvidenceSequence
    )
    found = read_findings_sr(sr)
    assert {f["label"] for f in found} == {"bright", "dark"}
    assert all(f["image_uid"] is None for f in found)
    for needle in IDENTIFYING:
        assert needle not in sr_bytes

    # The original is kept as it came; the provider is told once; the sweep leaves it alone.
    [raw] = store.list("raw")
    assert store.get("raw", raw.key) == original
    sent = platform.services.notifier.sent  # type: ignore[attr-defined]
    assert [m[1]["To"] for m in sent] == [PROVIDER]
    assert "1 image(s)" in sent[0][1]["Subject"]
    assert "Jane" not in sent[0][1]["Subject"]
    assert StudySweeper(store, runner, quiet_s=0.0).sweep_once() == []


def test_the_uploader_named_provider_is_told_and_a_reupload_is_the_same_study(
    platform: Platform,
) -> None:
    data = rf.PNG_FIXTURE.read_bytes()
    first = _run(platform, data, "a.png", provider_email="dr.who@example.org")
    second = _run(platform, data, "again.png")  # same bytes, another name: another object
    assert first.status == second.status == "succeeded"
    assert first.state["study_uid"] == second.state["study_uid"]
    sent = platform.services.notifier.sent  # type: ignore[attr-defined]
    assert [m[1]["To"] for m in sent] == ["dr.who@example.org"]  # one study, one message
    assert len(platform.services.store.list(DEID_BUCKET)) == 1


def test_different_images_are_different_studies(platform: Platform) -> None:
    a = _run(platform, rf.png_with_metadata(rf.phantom(256)), "a.png")
    b = _run(platform, rf.png_with_metadata(rf.phantom(192)), "b.png")
    assert a.state["study_uid"] != b.state["study_uid"]
    assert len(platform.services.notifier.sent) == 2  # type: ignore[attr-defined]


@pytest.mark.slow
def test_burned_in_text_of_a_raster_is_found_and_blanked(platform: Platform) -> None:
    pixels = rf.phantom(512, text="DOE JANE")
    rows, cols = np.nonzero(pixels == 255)  # where the text was drawn
    text_area = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    rec = _run(platform, rf.png_with_metadata(pixels), "annotated.png")
    assert rec.status == "succeeded", rec.error
    assert rec.state["masked_regions"] >= 2  # one box per word
    [key] = rec.state["deidentified_keys"]
    copy = np.asarray(Image.open(io.BytesIO(platform.services.store.get(DEID_BUCKET, key))))
    assert copy[text_area].max() < 200  # every letter is blanked in the copy
    assert np.array_equal(copy[300:], pixels[300:])  # and the image below is untouched


def _quarantined(platform: Platform, data: bytes, name: str) -> str:
    rec = _run(platform, data, name)
    assert rec.status == "quarantined"
    store = platform.services.store
    keys = [o.key for o in store.list("quarantine")]
    [kept] = [k for k in keys if k.endswith("/" + name)]
    assert store.get("quarantine", kept) == data  # nothing lost, byte for byte
    assert not store.list("raw") and not store.list(DEID_BUCKET) and not store.list(RESULTS_BUCKET)
    assert platform.services.notifier.sent == []  # type: ignore[attr-defined]
    reason = json.loads(store.get("quarantine", kept + ".reason.json"))
    assert name in reason["message"]
    return str(reason["message"])


def test_a_truncated_png_is_quarantined_with_its_reason(platform: Platform) -> None:
    message = _quarantined(platform, rf.truncated_png(), "cut.png")
    assert "cannot be decoded" in message and "truncated" in message


def test_a_jpeg_with_a_lying_extension_is_quarantined_with_its_reason(
    platform: Platform,
) -> None:
    message = _quarantined(platform, rf.JPEG_FIXTURE.read_bytes(), "scan.png")
    assert "named .png but the bytes are a JPEG image" in message


def test_text_named_jpg_is_quarantined_as_not_a_jpeg(platform: Platform) -> None:
    message = _quarantined(platform, b"Patient Jane Doe, see attached\n", "photo.jpg")
    assert "not a JPEG image" in message


def test_a_decompression_bomb_is_quarantined_before_its_pixels_are_decoded(
    platform: Platform,
) -> None:
    bomb = rf.huge_png(100_000, 100_000)  # 10^10 pixels declared in a file of a few hundred bytes
    assert len(bomb) < 2000
    message = _quarantined(platform, bomb, "bomb.png")
    assert "refused before decoding" in message
