"""Quality checks a technologist wants before an image is read or fed to a model.

Exposure (clipping at the ends of the stored range), histogram use, contrast, noise (Immerkaer
1996), blur (variance of the Laplacian), orientation / laterality tags present and consistent,
pixel spacing present, image size sane, and the pixel hash that finds duplicates. Thresholds and
per-modality requirements are in ``data/quality.yaml`` with their sources.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from medflow.domain.imaging import ImageMetadata, QualityCheck, QualityReport, QualityStatus

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

PASS, WARN, FAIL, NA = (
    QualityStatus.PASS,
    QualityStatus.WARN,
    QualityStatus.FAIL,
    QualityStatus.NOT_APPLICABLE,
)


@dataclass(frozen=True)
class QualityRules:
    """The contents of ``data/quality.yaml``."""

    data: dict[str, Any]

    def size_limits(self, modality: str) -> tuple[int, int]:
        """(min, max) rows/columns accepted for a modality."""
        size = self.data["size"]
        limits = size["by_modality"].get(modality, size["default"])
        return int(limits["min"]), int(limits["max"])


@lru_cache(maxsize=1)
def load_rules() -> QualityRules:
    """Load ``data/quality.yaml`` once."""
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath("data/quality.yaml")
        .read_text(encoding="utf-8")
    )
    return QualityRules(yaml.safe_load(text))


def pixel_hash(frames: NDArray[Any]) -> str:
    """SHA-256 of the decoded pixel values with their shape and type (not of the file)."""
    import numpy as np

    digest = hashlib.sha256(f"{frames.shape}{frames.dtype.str}".encode())
    digest.update(np.ascontiguousarray(frames).tobytes())
    return digest.hexdigest()


def noise_sigma(grey: NDArray[Any]) -> float:
    """Immerkaer's fast noise estimate: sigma of additive Gaussian noise on a grey image."""
    import numpy as np

    img = grey.astype(np.float64)
    if img.shape[0] < 3 or img.shape[1] < 3:
        return 0.0
    # Convolution with [[1,-2,1],[-2,4,-2],[1,-2,1]] (the difference of two Laplacians).
    conv = (
        img[:-2, :-2]
        - 2 * img[:-2, 1:-1]
        + img[:-2, 2:]
        - 2 * img[1:-1, :-2]
        + 4 * img[1:-1, 1:-1]
        - 2 * img[1:-1, 2:]
        + img[2:, :-2]
        - 2 * img[2:, 1:-1]
        + img[2:, 2:]
    )
    h, w = img.shape
    return float(np.sqrt(np.pi / 2) * np.abs(conv).sum() / (6 * (w - 2) * (h - 2)))


BLUR_SIDE_PX = 512
"""Blur is measured at this longer side, so one threshold holds for every detector size."""


def laplacian_variance(grey: NDArray[Any]) -> float:
    """Variance of the 4-neighbour Laplacian: low on blurred images (Pech-Pacheco 2000).

    Images larger than :data:`BLUR_SIDE_PX` are first reduced (box filter) to that size: the
    measure depends on resolution, and a reader judges sharpness at viewing size.
    """
    import numpy as np
    from PIL import Image

    if max(grey.shape) > BLUR_SIDE_PX:
        img_small = Image.fromarray(grey)
        img_small.thumbnail((BLUR_SIDE_PX, BLUR_SIDE_PX), Image.Resampling.BOX)
        grey = np.asarray(img_small)
    img = grey.astype(np.float64)
    if img.shape[0] < 3 or img.shape[1] < 3:
        return 0.0
    lap = img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:] - 4 * img[1:-1, 1:-1]
    return float(lap.var())


def _stored_range(ds: Dataset | None, frame: NDArray[Any]) -> tuple[float, float]:
    if ds is None or "BitsStored" not in ds:
        return (0.0, 255.0) if frame.dtype.itemsize == 1 else (0.0, 65535.0)
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        return float(-(1 << (bits - 1))), float((1 << (bits - 1)) - 1)
    return 0.0, float((1 << bits) - 1)


def _exposure(
    rules: QualityRules, ds: Dataset | None, frame: NDArray[Any], modality: str
) -> QualityCheck:
    cfg = rules.data["exposure"]
    photometric = str(ds.get("PhotometricInterpretation", "")) if ds is not None else ""
    if frame.ndim == 3 or photometric.startswith(("RGB", "YBR", "PALETTE")) or modality == "SEG":
        # Detector saturation is a property of grey-scale acquisitions; colour captures and
        # segmentation masks have no detector range to clip.
        return QualityCheck(
            name="exposure_clipping", status=NA, message="not a grey-scale acquisition"
        )
    low, high = _stored_range(ds, frame)
    values = frame if frame.ndim == 2 else frame.max(axis=-1)
    clipped = float((values >= high).mean())
    if modality in cfg["both_ends_modalities"]:
        clipped += float((values <= low).mean())
    status = (
        FAIL if clipped >= cfg["clipped_fail"] else WARN if clipped >= cfg["clipped_warn"] else PASS
    )
    message = (
        f"{clipped:.1%} of pixels sit at the end of the detector range (saturated)"
        if status is not PASS
        else "no clipping"
    )
    return QualityCheck(name="exposure_clipping", status=status, value=clipped, message=message)


def _histogram(rules: QualityRules, grey: NDArray[Any]) -> tuple[QualityCheck, tuple[int, ...]]:
    import numpy as np

    cfg = rules.data["histogram"]
    counts, _ = np.histogram(grey, bins=int(cfg["bins"]), range=(0, 256))
    used = float((counts > cfg["min_bin_share"] * grey.size).mean())
    status = WARN if used < cfg["occupied_warn"] else PASS
    message = (
        f"only {used:.0%} of the display range is used (narrow histogram)"
        if status is WARN
        else f"{used:.0%} of the display range used"
    )
    check = QualityCheck(name="histogram", status=status, value=used, message=message)
    return check, tuple(int(c) for c in counts)


def _measure(name: str, value: float, warn_if: bool, message: str) -> QualityCheck:
    return QualityCheck(name=name, status=WARN if warn_if else PASS, value=value, message=message)


def _orientation(rules: QualityRules, ds: Dataset | None, meta: ImageMetadata) -> QualityCheck:
    import numpy as np

    d = rules.data
    if meta.modality in d["patient_orientation_required"]:
        if len(meta.patient_orientation) == 2 and all(meta.patient_orientation):
            return QualityCheck(name="orientation", status=PASS, message="Patient Orientation set")
        return QualityCheck(
            name="orientation", status=WARN, message="Patient Orientation (0020,0020) missing"
        )
    if meta.modality in d["image_orientation_required"]:
        raw: Any = ds.get("ImageOrientationPatient") if ds is not None else None
        try:
            iop = np.array([float(v) for v in raw], dtype=np.float64) if raw else None
        except (TypeError, ValueError):
            iop = None
        if iop is None or iop.size != 6:
            return QualityCheck(
                name="orientation",
                status=WARN,
                message="Image Orientation (Patient) (0020,0037) missing",
            )
        row, col = iop[:3], iop[3:]
        off = abs(float(row @ col)) + abs(float(row @ row) - 1) + abs(float(col @ col) - 1)
        if off > 1e-3:
            return QualityCheck(
                name="orientation",
                status=FAIL,
                value=off,
                message="Image Orientation (Patient) is not two orthogonal unit vectors",
            )
        return QualityCheck(name="orientation", status=PASS, message="Image Orientation valid")
    return QualityCheck(name="orientation", status=NA, message="not required for this modality")


def _laterality(rules: QualityRules, ds: Dataset | None, meta: ImageMetadata) -> QualityCheck:
    d = rules.data
    image_lat = str(ds.get("ImageLaterality", "") or "").upper() if ds is not None else ""
    series_lat = str(ds.get("Laterality", "") or "").upper() if ds is not None else ""
    if image_lat and series_lat and image_lat != series_lat and "B" not in (image_lat, series_lat):
        return QualityCheck(
            name="laterality",
            status=FAIL,
            message=f"Image Laterality {image_lat} contradicts Laterality {series_lat}",
        )
    lat = image_lat or series_lat
    words = ""
    if ds is not None:
        words = " ".join(
            str(ds.get(k, "") or "") for k in ("SeriesDescription", "StudyDescription")
        ).upper()
    said = {"L"} if "LEFT" in words.split() else set()
    said |= {"R"} if "RIGHT" in words.split() else set()
    if lat in ("L", "R") and len(said) == 1 and lat not in said:
        return QualityCheck(
            name="laterality",
            status=FAIL,
            message=f"laterality tag {lat} contradicts the description ({next(iter(said))})",
        )
    needed = meta.modality in d["laterality_required_modalities"] or (
        meta.body_part in d["paired_body_parts"]
    )
    if not needed:
        return QualityCheck(name="laterality", status=NA, message="unpaired body part")
    if lat:
        return QualityCheck(name="laterality", status=PASS, message=f"laterality {lat}")
    return QualityCheck(
        name="laterality", status=WARN, message="paired body part without a laterality tag"
    )


def _spacing(rules: QualityRules, meta: ImageMetadata) -> QualityCheck:
    if meta.pixel_spacing_mm is not None:
        row, col = meta.pixel_spacing_mm
        return QualityCheck(
            name="pixel_spacing", status=PASS, value=row, message=f"{row:g} x {col:g} mm"
        )
    if meta.modality in rules.data["spacing_required"]:
        return QualityCheck(
            name="pixel_spacing",
            status=WARN,
            message="no Pixel Spacing / Imager Pixel Spacing: measurements impossible",
        )
    return QualityCheck(name="pixel_spacing", status=NA, message="not required for this modality")


def _size(rules: QualityRules, meta: ImageMetadata) -> QualityCheck:
    low, high = rules.size_limits(meta.modality)
    small, large = min(meta.rows, meta.columns), max(meta.rows, meta.columns)
    if small < low or large > high:
        return QualityCheck(
            name="image_size",
            status=WARN,
            value=float(small),
            message=f"{meta.columns}x{meta.rows} is outside {low}..{high} for {meta.modality}",
        )
    return QualityCheck(
        name="image_size", status=PASS, value=float(small), message=f"{meta.columns}x{meta.rows}"
    )


def assess(
    meta: ImageMetadata,
    ds: Dataset | None,
    frames: NDArray[Any],
    display: NDArray[Any],
    frame_index: int = 0,
) -> QualityReport:
    """Run every check on one image.

    Args:
        meta: the image's metadata.
        ds: its DICOM data set (None for PNG/JPEG).
        frames: the decoded stored values, shaped (frames, rows, columns[, samples]).
        display: the displayed frame ``frame_index`` as uint8 (grey or RGB), from ``render``.
        frame_index: the frame ``display`` shows (the middle one of a multi-frame image).

    Returns:
        The checks, the displayed frame's histogram and the hash of all frames.
    """
    from medflow.analyzers.imaging.render import to_grey

    rules = load_rules()
    cfg = rules.data
    grey = to_grey(display)
    histogram, counts = _histogram(rules, grey)
    contrast = float(grey.std() / 255.0)
    sigma = noise_sigma(grey)
    sharpness = laplacian_variance(grey)
    checks = (
        _exposure(rules, ds, frames[frame_index], meta.modality),
        histogram,
        _measure(
            "contrast",
            contrast,
            contrast < cfg["contrast"]["rms_warn"],
            f"RMS contrast {contrast:.3f}",
        ),
        _measure(
            "noise", sigma, sigma > cfg["noise"]["sigma_warn"], f"noise sigma {sigma:.1f} / 255"
        ),
        _measure(
            "blur",
            sharpness,
            sharpness < cfg["blur"]["laplacian_var_warn"],
            f"variance of Laplacian {sharpness:.1f}",
        ),
        _orientation(rules, ds, meta),
        _laterality(rules, ds, meta),
        _spacing(rules, meta),
        _size(rules, meta),
    )
    return QualityReport(checks=checks, pixel_sha256=pixel_hash(frames), histogram=counts)
