"""Burned-in text: find it with OCR (Tesseract), and blank those pixels (PS3.15 E.3.1).

Settings and the modalities that usually carry burned-in annotation live in
``data/burned_in.yaml`` with their sources.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from medflow.errors import DependencyMissingError

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True)
class OcrSettings:
    """Tesseract settings for burned-in text (see ``data/burned_in.yaml``)."""

    config: str
    min_confidence: float
    min_chars: int
    min_side_px: int
    pad_px: int


@dataclass(frozen=True)
class BurnedInRules:
    """Which images "flagged" mode OCRs, and how."""

    modalities: frozenset[str]
    ocr: OcrSettings


@lru_cache(maxsize=1)
def load_rules() -> BurnedInRules:
    """Load ``data/burned_in.yaml`` once."""
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath("data/burned_in.yaml")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return BurnedInRules(
        modalities=frozenset(str(m).upper() for m in data["modalities_with_burned_in_text"]),
        ocr=OcrSettings(**data["ocr"]),
    )


Box = tuple[int, int, int, int]
"""(left, top, width, height) in pixels of the original image."""


class TextFinder:
    """Finds words in an image with Tesseract; constructed once, used for many images.

    Raises:
        DependencyMissingError: at construction, when pytesseract or the tesseract binary is
            missing (``pip install 'medflow[ocr]'`` and the Debian package ``tesseract-ocr``).
    """

    def __init__(self, settings: OcrSettings | None = None) -> None:
        try:
            import pytesseract
        except ImportError as exc:
            raise DependencyMissingError("burned-in text detection", "ocr", "pytesseract") from exc
        if shutil.which("tesseract") is None:
            raise DependencyMissingError(
                "burned-in text detection",
                "ocr",
                "the tesseract binary (apt install tesseract-ocr)",
            )
        self._tess = pytesseract
        self.settings = settings or load_rules().ocr

    def find(self, image: NDArray[Any]) -> list[Box]:
        """Boxes of the words Tesseract reads in a uint8 grey or RGB image."""
        import numpy as np
        from PIL import Image

        s = self.settings
        height, width = image.shape[:2]
        scale = max(1.0, s.min_side_px / max(1, max(height, width)))
        img = Image.fromarray(np.ascontiguousarray(image))
        if scale > 1.0:
            img = img.resize(
                (round(width * scale), round(height * scale)), Image.Resampling.BICUBIC
            )
        data = self._tess.image_to_data(img, config=s.config, output_type=self._tess.Output.DICT)
        boxes: list[Box] = []
        for i, text in enumerate(data["text"]):
            word = str(text).strip()
            if sum(ch.isalnum() for ch in word) < s.min_chars:
                continue
            if float(data["conf"][i]) < s.min_confidence:
                continue
            left = max(0, int(data["left"][i] / scale) - s.pad_px)
            top = max(0, int(data["top"][i] / scale) - s.pad_px)
            right = min(width, int((data["left"][i] + data["width"][i]) / scale) + s.pad_px + 1)
            bottom = min(height, int((data["top"][i] + data["height"][i]) / scale) + s.pad_px + 1)
            if right > left and bottom > top:
                boxes.append((left, top, right - left, bottom - top))
        return boxes


def mask_boxes(frame: NDArray[Any], boxes: list[Box], fill: int | float = 0) -> NDArray[Any]:
    """A copy of one stored frame with every box set to ``fill`` (all samples)."""
    out = frame.copy()
    for left, top, width, height in boxes:
        out[top : top + height, left : left + width, ...] = fill
    return out
