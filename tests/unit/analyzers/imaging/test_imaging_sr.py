"""The findings SR: a valid Comprehensive SR that pydicom reads back with every finding."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.models import ModelRunner
from medflow.analyzers.imaging.sr import COMPREHENSIVE_SR, read_findings_sr


def test_sr_round_trips_findings(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path / "models")
    study, series = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
    paths = [
        fx.save(
            fx.ct_image(seed=i, StudyInstanceUID=study, SeriesInstanceUID=series),
            tmp_path / f"ct{i}.dcm",
        )
        for i in range(2)
    ]
    analyzer = ImagingAnalyzer(ModelRunner(tmp_path / "models"))
    batch = analyzer.analyze_many([(p.name, p) for p in paths])
    sr = batch.findings_sr(study)
    buf = io.BytesIO()
    sr.save_as(buf, enforce_file_format=True)
    back = pydicom.dcmread(io.BytesIO(buf.getvalue()))
    assert back.SOPClassUID == COMPREHENSIVE_SR
    assert back.StudyInstanceUID == study
    assert back.PatientID == "MRN-0042"  # filed under the study's patient
    found = read_findings_sr(buf.getvalue())
    assert len(found) == 4  # two labels on two images
    expected = {
        (
            f.label,
            round(f.score, 5),
            "positive" if f.positive else "negative",
            a.metadata.sop_instance_uid,
        )
        for a in batch.report.images
        for f in a.findings
    }
    got = {(d["label"], round(d["score"], 5), d["result"], d["image_uid"]) for d in found}
    assert got == expected
    assert {d["model"] for d in found} == {"brightness"}
    evidence = back.CurrentRequestedProcedureEvidenceSequence[0]
    assert len(evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence) == 2


def test_sr_uid_is_stable_for_the_same_findings(tmp_path: Path, fx: Any) -> None:
    path = fx.save(fx.ct_image(), tmp_path / "ct.dcm")
    batch = ImagingAnalyzer().analyze_many([(path.name, path)])
    study = batch.report.images[0].metadata.study_instance_uid
    assert batch.findings_sr(study).SOPInstanceUID == batch.findings_sr(study).SOPInstanceUID
    assert read_findings_sr(batch.findings_sr(study)) == []  # no model: quality only
