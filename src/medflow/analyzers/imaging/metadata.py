"""Header metadata of an image, and the study / series grouping of a set of images."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from medflow.analyzers.imaging.read import transfer_syntax
from medflow.domain.imaging import ImageMetadata, SeriesGroup, StudyGroup

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset


def _text(ds: Dataset, keyword: str) -> str:
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value: Any = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    """Row and column spacing in mm: Pixel Spacing, else Imager Pixel Spacing (PS3.3 C.8.11.4).

    Returns None when absent, malformed or not positive.
    """
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value: Any = ds.get(keyword)
        if value is None:
            continue
        try:
            row, col = (float(v) for v in list(value)[:2])
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0:
            return (row, col)
    return None


def dicom_metadata(ds: Dataset, source: str) -> ImageMetadata:
    """The :class:`ImageMetadata` of a DICOM data set (no pixel decoding)."""
    orientation: Any = ds.get("PatientOrientation") or ()
    if isinstance(orientation, str):
        orientation = (orientation,)
    return ImageMetadata(
        source=source,
        kind="dicom",
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        patient_id=_text(ds, "PatientID"),
        modality=_text(ds, "Modality").upper() or "OT",
        body_part=_text(ds, "BodyPartExamined").upper(),
        study_date=_text(ds, "StudyDate"),
        series_number=_int(ds, "SeriesNumber"),
        instance_number=_int(ds, "InstanceNumber"),
        rows=_int(ds, "Rows") or 0,
        columns=_int(ds, "Columns") or 0,
        frames=max(1, _int(ds, "NumberOfFrames") or 1),
        samples_per_pixel=max(1, _int(ds, "SamplesPerPixel") or 1),
        bits_stored=max(1, _int(ds, "BitsStored") or _int(ds, "BitsAllocated") or 8),
        photometric=_text(ds, "PhotometricInterpretation").upper() or "MONOCHROME2",
        transfer_syntax=transfer_syntax(ds),
        pixel_spacing_mm=pixel_spacing(ds),
        laterality=(_text(ds, "ImageLaterality") or _text(ds, "Laterality")).upper(),
        view_position=_text(ds, "ViewPosition").upper(),
        patient_orientation=tuple(str(v) for v in orientation),
        manufacturer=_text(ds, "Manufacturer"),
        burned_in_annotation=_text(ds, "BurnedInAnnotation").upper(),
    )


def raster_metadata(frames: NDArray[Any], source: str, kind: str) -> ImageMetadata:
    """The :class:`ImageMetadata` of a PNG/JPEG decoded by :func:`read.read_raster`."""
    colour = frames.ndim == 4
    return ImageMetadata(
        source=source,
        kind=kind,
        modality="OT",
        rows=int(frames.shape[1]),
        columns=int(frames.shape[2]),
        frames=1,
        samples_per_pixel=3 if colour else 1,
        bits_stored=16 if frames.dtype.itemsize == 2 else 8,
        photometric="RGB" if colour else "MONOCHROME2",
    )


def group_studies(images: Iterable[ImageMetadata]) -> tuple[StudyGroup, ...]:
    """Group images by Study Instance UID, then Series Instance UID.

    Images without UIDs (PNG/JPEG) form one study per source with one series, so they are
    never merged with each other by accident. Series are ordered by Series Number, images by
    Instance Number then source name.
    """
    studies: dict[str, dict[str, list[ImageMetadata]]] = defaultdict(lambda: defaultdict(list))
    for meta in images:
        study = meta.study_instance_uid or f"source:{meta.source}"
        series = meta.series_instance_uid or f"source:{meta.source}"
        studies[study][series].append(meta)
    out: list[StudyGroup] = []
    for study_uid, series_map in studies.items():
        groups: list[tuple[int, SeriesGroup]] = []
        patient = ""
        for series_uid, metas in series_map.items():
            metas.sort(key=lambda m: (m.instance_number or 0, m.source))
            patient = patient or next((m.patient_id for m in metas if m.patient_id), "")
            groups.append(
                (
                    metas[0].series_number or 0,
                    SeriesGroup(
                        series_instance_uid=series_uid,
                        modality=metas[0].modality,
                        sources=tuple(m.source for m in metas),
                    ),
                )
            )
        groups.sort(key=lambda g: (g[0], g[1].series_instance_uid))
        out.append(
            StudyGroup(
                study_instance_uid=study_uid,
                patient_id=patient,
                series=tuple(g for _, g in groups),
            )
        )
    return tuple(out)
