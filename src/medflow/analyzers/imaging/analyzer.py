"""The imaging analyzer: one image or a set in, metadata + quality + findings + report out.

Pure: bytes or paths in, typed results out; no storage, no database, no network. The model
runner (and its ONNX sessions) is built once and passed in.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from medflow.analyzers.imaging.errors import NotDicomError
from medflow.analyzers.imaging.metadata import dicom_metadata, group_studies, raster_metadata
from medflow.analyzers.imaging.models import ModelRunner
from medflow.analyzers.imaging.quality import assess
from medflow.analyzers.imaging.read import (
    ReadLimits,
    Source,
    decode_frames,
    quiet_pydicom,
    read_dicom,
    read_raster,
    sniff_kind,
)
from medflow.analyzers.imaging.render import display_frame, png_bytes
from medflow.analyzers.imaging.sr import build_findings_sr
from medflow.domain.imaging import (
    ImageAnalysis,
    ImagingReport,
    QualityCheck,
    QualityStatus,
)
from medflow.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

_HEADER_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
)


@dataclass(frozen=True)
class BatchResult:
    """The analysis of a set of images, with what is needed to write one SR per study.

    Attributes:
        report: the typed report (images, study grouping, rejected inputs with reasons).
        study_headers: per Study Instance UID, the patient and study attributes of its first
            image (for the SR header).
    """

    report: ImagingReport
    study_headers: dict[str, Dataset] = field(default_factory=dict)

    def findings_sr(self, study_uid: str, when: datetime | None = None) -> Dataset:
        """The Comprehensive SR of one study's findings and quality results."""
        images = [
            a
            for a in self.report.images
            if (a.metadata.study_instance_uid or f"source:{a.metadata.source}") == study_uid
        ]
        return build_findings_sr(images, self.study_headers.get(study_uid), when)


class ImagingAnalyzer:
    """Reads, checks and runs models on images.

    Args:
        models: the model runner (None: no models, findings stay empty).
        limits: the read limits (file size, declared pixel data).
        thumbnail_px: the longer side of report thumbnails.
    """

    def __init__(
        self,
        models: ModelRunner | None = None,
        limits: ReadLimits | None = None,
        thumbnail_px: int = 256,
    ) -> None:
        self.models = models or ModelRunner(None)
        self.limits = limits or ReadLimits()
        self.thumbnail_px = thumbnail_px

    def _load(self, src: Source, name: str) -> tuple[Any, Dataset | None, NDArray[Any], int]:
        kind = sniff_kind(src)
        if kind in ("png", "jpeg"):
            frames = read_raster(src, name, self.limits)
            return raster_metadata(frames, name, kind), None, frames, 0
        ds = read_dicom(src, name, self.limits)
        frames = decode_frames(ds, name)
        with quiet_pydicom():
            meta = dicom_metadata(ds, name)
        return meta, ds, frames, len(frames) // 2

    def analyze(self, src: Source, name: str) -> ImageAnalysis:
        """Analyse one DICOM, PNG or JPEG image.

        Args:
            src: the file's bytes or path.
            name: the file name, used in results and error messages.

        Raises:
            InputError subclasses: not an image, no pixel data, no codec, truncated, too large.
        """
        return self._analyze(src, name)[0]

    def _analyze(self, src: Source, name: str) -> tuple[ImageAnalysis, Dataset | None]:
        meta, ds, frames, index = self._load(src, name)
        with quiet_pydicom():
            display = display_frame(ds, frames[index])
            quality = assess(meta, ds, frames, display, index)
        findings, runs = self.models.run(meta, display)
        thumb = base64.b64encode(png_bytes(display, self.thumbnail_px)).decode("ascii")
        analysis = ImageAnalysis(
            metadata=meta,
            quality=quality,
            findings=findings,
            models_run=runs,
            thumbnail_png_b64=thumb,
        )
        return analysis, ds

    def analyze_image_study(self, src: Source, name: str, study_uid: str) -> BatchResult:
        """Analyse one PNG or JPEG as a study of its own, identified by ``study_uid``.

        A raster carries no DICOM identity, so the caller gives the study one (see
        :func:`image_study_uid`); it is written into the image's metadata, so the report's
        study grouping and :meth:`BatchResult.findings_sr` use it. No patient header is known.

        Raises:
            InputError subclasses: not a PNG/JPEG, truncated, too large (raised, not listed:
            a one-image study has nothing else to report).
        """
        if sniff_kind(src) not in ("png", "jpeg"):
            raise NotDicomError(name, "not a PNG or JPEG image")
        analysis, _ = self._analyze(src, name)
        meta = analysis.metadata.model_copy(update={"study_instance_uid": study_uid})
        analysis = _with_duplicate_check(analysis.model_copy(update={"metadata": meta}), None)
        report = ImagingReport(
            generated_at=datetime.now(UTC),
            studies=group_studies([meta]),
            images=(analysis,),
        )
        return BatchResult(report=report)

    def analyze_many(
        self,
        inputs: Iterable[tuple[str, Source]],
        progress: Callable[[str], None] | None = None,
    ) -> BatchResult:
        """Analyse a set of images; bad inputs are listed with their reason, not raised.

        Duplicates (same decoded pixels) are marked on the later image with a failing
        ``duplicate`` check and ``duplicate_of``.

        Args:
            inputs: ``(name, source)`` pairs.
            progress: called with each name once it is done.
        """
        from pydicom.dataset import Dataset

        images: list[ImageAnalysis] = []
        rejected: dict[str, str] = {}
        seen: dict[str, str] = {}
        headers: dict[str, Dataset] = {}
        for name, src in inputs:
            try:
                analysis, ds = self._analyze(src, name)
            except InputError as exc:
                rejected[name] = exc.reason
                if progress:
                    progress(name)
                continue
            first = seen.setdefault(analysis.quality.pixel_sha256, name)
            analysis = _with_duplicate_check(analysis, None if first == name else first)
            study = analysis.metadata.study_instance_uid or f"source:{name}"
            if ds is not None and study not in headers:
                header = Dataset()
                with quiet_pydicom():
                    for keyword in _HEADER_KEYWORDS:
                        if keyword in ds:
                            setattr(header, keyword, ds.get(keyword))
                headers[study] = header
            images.append(analysis)
            if progress:
                progress(name)
        report = ImagingReport(
            generated_at=datetime.now(UTC),
            studies=group_studies(a.metadata for a in images),
            images=tuple(images),
            rejected=rejected,
        )
        return BatchResult(report=report, study_headers=headers)


def image_study_uid(content_sha256: str) -> str:
    """The Study Instance UID of a one-image PNG/JPEG study: ``2.25.`` and 128 bits of a hash of
    the file's content (PS3.5 B.2 form), so the same bytes always make the same study and
    nothing about the patient or the uploader is in it."""
    digest = hashlib.sha256(b"medflow-image-study\x00" + content_sha256.encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _with_duplicate_check(analysis: ImageAnalysis, duplicate_of: str | None) -> ImageAnalysis:
    if duplicate_of is None:
        check = QualityCheck(name="duplicate", status=QualityStatus.PASS, message="unique pixels")
    else:
        check = QualityCheck(
            name="duplicate",
            status=QualityStatus.FAIL,
            message=f"same pixels as {duplicate_of}",
        )
    quality = analysis.quality.model_copy(update={"checks": (*analysis.quality.checks, check)})
    return analysis.model_copy(update={"quality": quality, "duplicate_of": duplicate_of})
