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


@dataclass(frozen=True)
class Word:
    """One word Tesseract read: its box in the original image, its text and confidence."""

    box: Box
    text: str
    confidence: float


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

    def read(self, image: NDArray[Any], config: str | None = None) -> list[Word]:
        """Every word Tesseract reads in a uint8 grey or RGB image, whatever its confidence,
        with its box in the image's pixels (unpadded); ``config`` overrides the settings'
        Tesseract options (``"--psm 6"`` reads a strip as one block of text)."""
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
        data = self._tess.image_to_data(
            img, config=config or s.config, output_type=self._tess.Output.DICT
        )
        words: list[Word] = []
        for i, text in enumerate(data["text"]):
            word = str(text).strip()
            if not word or float(data["conf"][i]) < 0:
                continue
            left = max(0, int(data["left"][i] / scale))
            top = max(0, int(data["top"][i] / scale))
            right = min(width, int((data["left"][i] + data["width"][i]) / scale) + 1)
            bottom = min(height, int((data["top"][i] + data["height"][i]) / scale) + 1)
            if right > left and bottom > top:
                box = (left, top, right - left, bottom - top)
                words.append(Word(box, word, float(data["conf"][i])))
        return words

    def find(self, image: NDArray[Any]) -> list[Box]:
        """Padded boxes of the words read with at least ``min_confidence`` and ``min_chars``
        letters or digits (the OCR-confidence approach; :mod:`pixel_clean` decides by region
        and shape instead)."""
        s = self.settings
        height, width = image.shape[:2]
        boxes: list[Box] = []
        for word in self.read(image):
            if sum(ch.isalnum() for ch in word.text) < s.min_chars:
                continue
            if word.confidence < s.min_confidence:
                continue
            left, top, w, h = word.box
            x0, y0 = max(0, left - s.pad_px), max(0, top - s.pad_px)
            x1, y1 = min(width, left + w + s.pad_px), min(height, top + h + s.pad_px)
            boxes.append((x0, y0, x1 - x0, y1 - y0))
        return boxes


def mask_boxes(frame: NDArray[Any], boxes: list[Box], fill: int | float = 0) -> NDArray[Any]:
    """A copy of one stored frame with every box set to ``fill`` (all samples)."""
    out = frame.copy()
    for left, top, width, height in boxes:
        out[top : top + height, left : left + width, ...] = fill
    return out
