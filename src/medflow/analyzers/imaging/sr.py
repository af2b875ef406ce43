"""Findings as a DICOM Comprehensive SR (PS3.3 A.35.3) that any PACS can store and pydicom reads.

Tree: a CONTAINER titled "Diagnostic imaging study" holding, for each finding, a TEXT "Finding"
(the label) with NUM "Model score", TEXT "Result", TEXT "Algorithm Name" / "Algorithm Version"
and an IMAGE reference to the analysed instance; then one TEXT "Image quality" per image.
Concept codes are in ``data/sr_codes.yaml`` with their sources. UIDs are derived from the study
and the content, so writing the same findings twice gives the same SR instance (idempotent).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from medflow.analyzers.imaging.read import Source, quiet_pydicom
from medflow.domain.imaging import ImageAnalysis

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
_PATIENT_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
_STUDY_KEYWORDS = ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID")


@lru_cache(maxsize=1)
def _codes() -> dict[str, dict[str, str]]:
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath("data/sr_codes.yaml")
        .read_text(encoding="utf-8")
    )
    data: dict[str, dict[str, str]] = yaml.safe_load(text)
    return data


def _code(key: str) -> Dataset:
    from pydicom.dataset import Dataset

    c = _codes()[key]
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = (
        c["value"],
        c["scheme"],
        c["meaning"],
    )
    return item


def _item(rel: str, value_type: str, concept: str | None, **values: Any) -> Dataset:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.RelationshipType = rel
    item.ValueType = value_type
    if concept is not None:
        item.ConceptNameCodeSequence = Sequence([_code(concept)])
    for key, value in values.items():
        setattr(item, key, value)
    return item


def _text(rel: str, concept: str, text: str) -> Dataset:
    return _item(rel, "TEXT", concept, TextValue=text[:1024])


def _num(rel: str, concept: str, value: float) -> Dataset:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    measured = Dataset()
    measured.NumericValue = f"{value:.6f}"[:16]
    measured.MeasurementUnitsCodeSequence = Sequence([_code("unit")])
    return _item(rel, "NUM", concept, MeasuredValueSequence=Sequence([measured]))


def _image_ref(analysis: ImageAnalysis) -> Dataset:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ref = Dataset()
    ref.ReferencedSOPClassUID = analysis.metadata.sop_class_uid
    ref.ReferencedSOPInstanceUID = analysis.metadata.sop_instance_uid
    return _item("INFERRED FROM", "IMAGE", None, ReferencedSOPSequence=Sequence([ref]))


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def build_findings_sr(
    analyses: list[ImageAnalysis], header: Dataset | None = None, when: datetime | None = None
) -> Dataset:
    """A Comprehensive SR with the findings and quality results of one study's images.

    Args:
        analyses: the images of one study (DICOM images keep their UIDs as references).
        header: a data set of the study (its patient and study attributes are copied so the SR
            files under the right patient and study); None leaves them empty.
        when: the content date/time (default: now, UTC).

    Returns:
        The SR data set with file meta, ready for ``save_as``.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, ExplicitVRLittleEndian

    when = when or datetime.now(UTC)
    study_uid = next(
        (a.metadata.study_instance_uid for a in analyses if a.metadata.study_instance_uid),
        _uid("study", *(a.metadata.source for a in analyses)),
    )
    content: list[Dataset] = []
    for analysis in analyses:
        for f in analysis.findings:
            finding = _text("CONTAINS", "finding", f.label)
            children = [
                _num("HAS PROPERTIES", "score", f.score),
                _text("HAS PROPERTIES", "result", "positive" if f.positive else "negative"),
                _text("HAS PROPERTIES", "algorithm_name", f.model),
                _text("HAS PROPERTIES", "algorithm_version", f.model_version),
            ]
            if analysis.metadata.sop_instance_uid:
                children.append(_image_ref(analysis))
            finding.ContentSequence = Sequence(children)
            content.append(finding)
        failing = [c.name for c in analysis.quality.checks if c.status.value in ("warn", "fail")]
        summary = f"{analysis.metadata.source}: {analysis.quality.worst.value}"
        content.append(
            _text("CONTAINS", "quality", summary + (f" ({', '.join(failing)})" if failing else ""))
        )

    fingerprint = "|".join(
        f"{a.metadata.sop_instance_uid or a.metadata.source}:{f.model}:{f.label}:{f.score:.6f}"
        for a in analyses
        for f in a.findings
    )
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(COMPREHENSIVE_SR)
    ds.SOPClassUID = COMPREHENSIVE_SR
    ds.SOPInstanceUID = _uid("sr", study_uid, fingerprint)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = _uid("sr-series", study_uid)
    ds.Modality = "SR"
    ds.SeriesNumber, ds.InstanceNumber = 9001, 1
    ds.Manufacturer = "medflow"
    for keyword in _PATIENT_KEYWORDS + _STUDY_KEYWORDS:
        value = header.get(keyword, "") if header is not None else ""
        setattr(ds, keyword, value if value is not None else "")
    ds.ContentDate, ds.ContentTime = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("title")])
    ds.CompletionFlag, ds.VerificationFlag = "PARTIAL", "UNVERIFIED"
    ds.ContentSequence = Sequence(content)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence(_evidence(analyses, study_uid))
    return ds


def _evidence(analyses: list[ImageAnalysis], study_uid: str) -> list[Dataset]:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    by_series: dict[str, list[Dataset]] = {}
    for a in analyses:
        if not a.metadata.sop_instance_uid:
            continue
        ref = Dataset()
        ref.ReferencedSOPClassUID = a.metadata.sop_class_uid
        ref.ReferencedSOPInstanceUID = a.metadata.sop_instance_uid
        by_series.setdefault(a.metadata.series_instance_uid, []).append(ref)
    if not by_series:
        return []
    study = Dataset()
    study.StudyInstanceUID = study_uid
    series_items = []
    for series_uid, refs in by_series.items():
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.ReferencedSOPSequence = Sequence(refs)
        series_items.append(series)
    study.ReferencedSeriesSequence = Sequence(series_items)
    return [study]


def read_findings_sr(src: Source | Dataset) -> list[dict[str, Any]]:
    """The findings of an SR written by :func:`build_findings_sr`, read back with pydicom.

    Returns:
        One dict per finding: ``label``, ``score``, ``result``, ``model``, ``model_version``,
        ``image_uid`` (or None).
    """
    import io

    import pydicom
    from pydicom.dataset import Dataset

    if isinstance(src, Dataset):
        ds = src
    else:
        with quiet_pydicom():
            ds = pydicom.dcmread(io.BytesIO(src) if isinstance(src, bytes) else src)
    meanings = {key: c["meaning"] for key, c in _codes().items()}
    out: list[dict[str, Any]] = []
    for item in ds.get("ContentSequence", []):
        if item.ConceptNameCodeSequence[0].CodeMeaning != meanings["finding"]:
            continue
        found: dict[str, Any] = {"label": str(item.TextValue), "image_uid": None}
        for child in item.get("ContentSequence", []):
            if child.ValueType == "IMAGE":
                found["image_uid"] = str(child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
                continue
            meaning = child.ConceptNameCodeSequence[0].CodeMeaning
            if meaning == meanings["score"]:
                found["score"] = float(child.MeasuredValueSequence[0].NumericValue)
            elif meaning == meanings["result"]:
                found["result"] = str(child.TextValue)
            elif meaning == meanings["algorithm_name"]:
                found["model"] = str(child.TextValue)
            elif meaning == meanings["algorithm_version"]:
                found["model_version"] = str(child.TextValue)
        out.append(found)
    return out
