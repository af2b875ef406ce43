"""Stored pixel values to a displayable 8-bit image, following the DICOM grayscale pipeline.

PS3.4 N.2 (Grayscale Transformations): stored values -> Modality LUT (Rescale Slope / Intercept,
or a Modality LUT Sequence) -> VOI LUT (Window Center / Width, PS3.3 C.11.2.1.2, or a VOI LUT
Sequence) -> Presentation LUT; MONOCHROME1 displays the lowest value as white, so it is inverted
last (PS3.3 C.7.6.3.1.2). Colour: RGB as stored, YBR_* converted to RGB on decode, PALETTE COLOR
through its palette (PS3.3 C.7.6.3.1.5).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

AUTO_WINDOW_PERCENTILES = (0.5, 99.5)
"""With no window in the header, the display range spans these percentiles of the values."""


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        seq = list(value) if not isinstance(value, str | bytes) else [value]
    except TypeError:
        seq = [value]
    try:
        return float(seq[0])
    except (TypeError, ValueError, IndexError):
        return None


def modality_values(ds: Dataset | None, frame: NDArray[Any]) -> NDArray[Any]:
    """Apply the Modality LUT (rescale slope/intercept) to one frame: values in output units."""
    import numpy as np

    if ds is None:
        return frame.astype(np.float64)
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels.processing import apply_modality_lut

        return np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)
    slope = _first(ds.get("RescaleSlope")) or 1.0
    intercept = _first(ds.get("RescaleIntercept")) or 0.0
    return frame.astype(np.float64) * slope + intercept


def window_linear(values: NDArray[Any], center: float, width: float) -> NDArray[Any]:
    """The LINEAR VOI function of PS3.3 C.11.2.1.2.1, mapped onto 0..255."""
    import numpy as np

    width = max(width, 1.0)
    out = ((values - (center - 0.5)) / (width - 1.0 if width > 1 else 1.0) + 0.5) * 255.0
    return np.clip(out, 0.0, 255.0)


def _scale(values: NDArray[Any], low: float, high: float) -> NDArray[Any]:
    import numpy as np

    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return np.clip((values - low) / (high - low) * 255.0, 0.0, 255.0)


def display_grey(ds: Dataset | None, frame: NDArray[Any]) -> NDArray[Any]:
    """One monochrome frame as uint8 for display: modality LUT, VOI, MONOCHROME1 inversion."""
    import numpy as np

    values = modality_values(ds, frame)
    if ds is not None and "VOILUTSequence" in ds:
        from pydicom.pixels.processing import apply_voi

        # A VOI LUT indexes by integer value (PS3.3 C.11.2.1.1); rescaled values are integral
        # for every LUT-carrying modality in practice, and pydicom expects them as integers.
        lut_in = values.round().astype(np.int64)
        lut_out = np.asarray(apply_voi(lut_in, ds), dtype=np.float64)
        out = _scale(lut_out, float(lut_out.min()), float(lut_out.max()))
    else:
        center = _first(ds.get("WindowCenter")) if ds is not None else None
        width = _first(ds.get("WindowWidth")) if ds is not None else None
        if center is not None and width is not None and width >= 1:
            out = window_linear(values, center, width)
        else:
            low, high = np.percentile(values, AUTO_WINDOW_PERCENTILES)
            out = _scale(values, float(low), float(high))
    photometric = str(ds.get("PhotometricInterpretation", "")) if ds is not None else ""
    if photometric.upper() == "MONOCHROME1":
        out = 255.0 - out
    return out.round().astype(np.uint8)


def display_colour(ds: Dataset | None, frame: NDArray[Any]) -> NDArray[Any]:
    """One colour frame (RGB after decode, or PALETTE COLOR indices) as uint8 RGB."""
    import numpy as np

    photometric = str(ds.get("PhotometricInterpretation", "")).upper() if ds is not None else ""
    if photometric == "PALETTE COLOR" and ds is not None:
        from pydicom.pixels.processing import apply_color_lut

        frame = np.asarray(apply_color_lut(frame, ds))
    if frame.dtype == np.uint8:
        return frame
    high = float(frame.max()) if frame.size else 0.0
    bits = 16 if high > 255 else 8
    return _scale(frame.astype(np.float64), 0.0, float((1 << bits) - 1)).round().astype(np.uint8)


def display_frame(ds: Dataset | None, frame: NDArray[Any]) -> NDArray[Any]:
    """One frame, grey (H, W) or colour (H, W, 3), as uint8 ready for PNG or OCR."""
    photometric = str(ds.get("PhotometricInterpretation", "")).upper() if ds is not None else ""
    if frame.ndim == 3 or photometric == "PALETTE COLOR":
        return display_colour(ds, frame)
    return display_grey(ds, frame)


def to_grey(image: NDArray[Any]) -> NDArray[Any]:
    """A display image as grey uint8 (ITU-R BT.601 luma for colour)."""
    import numpy as np

    if image.ndim == 2:
        return image
    weights = np.array([0.299, 0.587, 0.114])
    luma: NDArray[Any] = image[..., :3].astype(np.float64) @ weights
    return luma.round().astype(np.uint8)


def png_bytes(image: NDArray[Any], max_side: int | None = None) -> bytes:
    """Encode a uint8 display image as PNG, shrunk so its longer side is at most ``max_side``."""
    from PIL import Image

    img = Image.fromarray(image)
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
