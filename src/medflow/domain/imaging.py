"""Typed results of the imaging pipeline: metadata, quality checks, model findings, reports.

Every model is frozen: an analysis result is a fact about one input and is never edited in place.
Images travel as base64 PNG strings so that a result survives ``model_dump_json`` unchanged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ImageMetadata(BaseModel):
    """What the header says about one image (DICOM instance or PNG/JPEG file).

    Attributes:
        source: the file name as given; never a path with patient data in it.
        kind: ``"dicom"`` or the raster format (``"png"``, ``"jpeg"``).
        sop_instance_uid, series_instance_uid, study_instance_uid: DICOM identity ("" for rasters).
        sop_class_uid: the DICOM SOP class ("" for rasters).
        patient_id: the hospital identifier as stored (may already be a pseudonym).
        modality: DICOM Modality (0008,0060), e.g. ``"CR"``, ``"CT"``; ``"OT"`` for rasters.
        body_part: Body Part Examined (0018,0015), upper case, "" when absent.
        study_date: Study Date (0008,0020) as ``YYYYMMDD`` or "".
        series_number, instance_number: ordering within the study / series, when present.
        rows, columns, frames, samples_per_pixel, bits_stored: pixel matrix description.
        photometric: Photometric Interpretation (0028,0004), e.g. ``"MONOCHROME2"``.
        transfer_syntax: the transfer syntax UID ("" for rasters).
        pixel_spacing_mm: row and column spacing from Pixel Spacing or Imager Pixel Spacing.
        laterality: Image Laterality (0020,0062) or Laterality (0020,0060), "" when absent.
        view_position: View Position (0018,5101), e.g. ``"PA"``.
        patient_orientation: Patient Orientation (0020,0020) values.
        manufacturer: Manufacturer (0008,0070).
        burned_in_annotation: Burned In Annotation (0028,0301): ``"YES"``, ``"NO"`` or "".
    """

    model_config = ConfigDict(frozen=True)

    source: str
    kind: str = "dicom"
    sop_instance_uid: str = ""
    series_instance_uid: str = ""
    study_instance_uid: str = ""
    sop_class_uid: str = ""
    patient_id: str = ""
    modality: str = "OT"
    body_part: str = ""
    study_date: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    rows: int = Field(ge=0)
    columns: int = Field(ge=0)
    frames: int = Field(default=1, ge=1)
    samples_per_pixel: int = Field(default=1, ge=1)
    bits_stored: int = Field(default=8, ge=1)
    photometric: str = "MONOCHROME2"
    transfer_syntax: str = ""
    pixel_spacing_mm: tuple[float, float] | None = None
    laterality: str = ""
    view_position: str = ""
    patient_orientation: tuple[str, ...] = ()
    manufacturer: str = ""
    burned_in_annotation: str = ""


class QualityStatus(StrEnum):
    """Outcome of one quality check, in the order a technologist cares about."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"


class QualityCheck(BaseModel):
    """One quality check on one image.

    Attributes:
        name: the check (``"exposure_clipping"``, ``"blur"``...).
        status: pass / warn / fail / n/a.
        value: the measured figure, when the check measures one.
        message: one sentence a technologist can act on.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    status: QualityStatus
    value: float | None = None
    message: str = ""


class QualityReport(BaseModel):
    """All quality checks of one image, plus the pixel hash used to find duplicates.

    Attributes:
        checks: one entry per check, in a fixed order.
        pixel_sha256: SHA-256 of the decoded pixel values (not of the file), so two files that
            carry the same image under different headers are recognised as duplicates.
        histogram: 32-bin histogram of the displayed (windowed, 8-bit) first frame.
    """

    model_config = ConfigDict(frozen=True)

    checks: tuple[QualityCheck, ...]
    pixel_sha256: str
    histogram: tuple[int, ...] = ()

    @property
    def worst(self) -> QualityStatus:
        """The worst status among the checks (fail > warn > pass; n/a counts as pass)."""
        statuses = {c.status for c in self.checks}
        for status in (QualityStatus.FAIL, QualityStatus.WARN):
            if status in statuses:
                return status
        return QualityStatus.PASS


class ModelValidation(BaseModel):
    """The validation figures a model's publisher reported, copied from its manifest."""

    model_config = ConfigDict(frozen=True)

    dataset: str = ""
    n_cases: int | None = None
    auc: float | None = Field(default=None, ge=0, le=1)
    sensitivity: float | None = Field(default=None, ge=0, le=1)
    specificity: float | None = Field(default=None, ge=0, le=1)
    notes: str = ""


class ImagingFinding(BaseModel):
    """One label a diagnostic model scored on one image.

    Attributes:
        label: the model's label (``"pneumothorax"``).
        score: the model's output for the label, in [0, 1] after the manifest's activation.
        threshold: the manifest's operating point for the label.
        positive: ``score >= threshold``.
        model: the model's name; ``model_version`` its version.
        heatmap_png_b64: an overlay of the model's heat map on the image, base64 PNG, when the
            model gives one.
    """

    model_config = ConfigDict(frozen=True)

    label: str
    score: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    positive: bool
    model: str
    model_version: str
    heatmap_png_b64: str | None = None


class ModelRun(BaseModel):
    """Which model ran on an image, with what it is and how it was validated."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    source: str
    validation: ModelValidation
    seconds: float = Field(ge=0)


class ImageAnalysis(BaseModel):
    """Everything medflow learned about one image.

    Attributes:
        metadata: what the header says.
        quality: the quality checks.
        findings: model findings (empty when no model applies).
        models_run: the models that ran.
        thumbnail_png_b64: a small display rendering, base64 PNG.
        duplicate_of: the source name of an earlier image with the same pixels, if any.
    """

    model_config = ConfigDict(frozen=True)

    metadata: ImageMetadata
    quality: QualityReport
    findings: tuple[ImagingFinding, ...] = ()
    models_run: tuple[ModelRun, ...] = ()
    thumbnail_png_b64: str = ""
    duplicate_of: str | None = None


class SeriesGroup(BaseModel):
    """The images of one series, ordered by instance number then source name."""

    model_config = ConfigDict(frozen=True)

    series_instance_uid: str
    modality: str
    sources: tuple[str, ...]


class StudyGroup(BaseModel):
    """The series of one study."""

    model_config = ConfigDict(frozen=True)

    study_instance_uid: str
    patient_id: str
    series: tuple[SeriesGroup, ...]


class ImagingReport(BaseModel):
    """The result of analysing a set of images: grouped by study, with every per-image result.

    Attributes:
        generated_at: when the report was made (UTC).
        studies: the study / series grouping of the images.
        images: one analysis per readable image.
        rejected: ``{source: reason}`` for inputs that could not be analysed.
    """

    model_config = ConfigDict(frozen=True)

    generated_at: datetime
    studies: tuple[StudyGroup, ...]
    images: tuple[ImageAnalysis, ...]
    rejected: dict[str, str] = Field(default_factory=dict)


BurnedInMode = Literal["off", "flagged", "all"]


class DeidOptions(BaseModel):
    """The options of DICOM PS3.15 Annex E a site chooses for its de-identified copies.

    Attributes:
        retain_device_identity: Retain Device Identity Option (serial numbers, station names).
        retain_patient_characteristics: Retain Patient Characteristics Option (age, sex, size,
            weight, ethnic group, smoking and pregnancy status).
        retain_dates: Retain Longitudinal Temporal Information with Full Dates Option.
        shift_dates: Retain Longitudinal Temporal Information with Modified Dates Option: dates
            are moved by a per-patient offset derived from the site secret, so intervals within
            a patient survive. Ignored when ``retain_dates`` is set.
        max_shift_days: the offset lies in ``[-max_shift_days, -1]``: always into the past.
        retain_uids: Retain UIDs Option (UIDs kept instead of remapped).
        retain_institution_identity: Retain Institution Identity Option.
        pseudonymize_patient: replace Patient ID and Patient's Name with a pseudonym derived from
            the site secret (a Z action with a dummy value) instead of blanking them, so a
            patient's studies stay linkable in the de-identified set.
        burned_in_text: ``"off"``; ``"flagged"``: OCR images whose Burned In Annotation is YES
            or whose modality usually carries burned-in text; ``"all"``: OCR every image.
    """

    model_config = ConfigDict(frozen=True)

    retain_device_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_dates: bool = False
    shift_dates: bool = False
    max_shift_days: int = Field(default=365, ge=1, le=36500)
    retain_uids: bool = False
    retain_institution_identity: bool = False
    pseudonymize_patient: bool = True
    burned_in_text: BurnedInMode = "flagged"


class PixelRegion(BaseModel):
    """A rectangle of pixels (frame, left, top, width, height) blanked for burned-in text.

    ``reason`` says why: ``"outside-image-regions"`` (outside the declared ultrasound regions or
    the active area), ``"text-strip"`` (a known annotation strip of the rules table), ``"ocr"``
    (a word OCR read inside a text strip), ``"text-shaped"`` (a small, text-shaped word box
    elsewhere) or ``"text-line"`` (a row of character-like strokes found without OCR, or a
    word of it, under the same size caps) or ``"text-line-at-region-edge"`` (a text line cut
    by the edge of the declared ultrasound regions, blanked whole past the edge).
    """

    model_config = ConfigDict(frozen=True)

    frame: int = Field(ge=0)
    left: int = Field(ge=0)
    top: int = Field(ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    reason: str = "ocr"


class DeidSummary(BaseModel):
    """What de-identification did to one file (tags only, never values).

    Attributes:
        source: the input's file name.
        removed, blanked, replaced, uids_remapped, dates_shifted: counts of elements per action.
        private_removed: private elements removed.
        date_shift_days: the offset applied to dates, when dates were shifted.
        masked_regions: burned-in text regions blanked in the pixels, each with its reason.
        ocr_ran: whether OCR looked at the pixels.
        burned_in_annotation: what the copy's Burned In Annotation says (``"YES"``/``"NO"``),
            None when the pixels were not checked.
        needs_review: True when text may remain in the pixels (OCR read something it was not
            sure of, or a text-like box too large to mask without hiding anatomy): a person
            should look before the copy leaves the site.
        review_reasons: why, one line each (positions and confidences, never the text).
        repairs: bad attributes removed or replaced so the rest could be de-identified
            (tag and name, never the value).
    """

    model_config = ConfigDict(frozen=True)

    source: str
    removed: int = 0
    blanked: int = 0
    replaced: int = 0
    uids_remapped: int = 0
    dates_shifted: int = 0
    private_removed: int = 0
    date_shift_days: int | None = None
    masked_regions: tuple[PixelRegion, ...] = ()
    ocr_ran: bool = False
    burned_in_annotation: str | None = None
    needs_review: bool = False
    review_reasons: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
