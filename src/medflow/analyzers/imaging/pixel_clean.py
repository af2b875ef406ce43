"""Which pixels to blank for burned-in text: regions first, OCR second (PS3.15 E.3.1).

The order follows CTP's DicomPixelAnonymizer and pydicom/deid's recipes, with OCR kept as a
second pass (the rules and their sources are in ``data/pixel_rules.yaml``):

1. **Regions** — on ultrasound, everything outside the declared Sequence of Ultrasound Regions
   is the scanner's screen (banner, annotations) and is blanked; a text line the regions' edge
   cuts (:func:`edge_lines`) is blanked whole past the edge; a device signature of the rules
   table blanks its rectangles.
2. **Text strips** — the top banner and bottom line where screens put the patient's name, ID,
   sex, date and institution. OCR reads them with a low confidence threshold and one character
   is enough; a box is blanked when it is not larger than a word can be.
3. **Elsewhere** — a word OCR reads confidently is blanked only when its box is small (a cap as
   a fraction of the image) and text-shaped (aspect ratio, stroke contrast, ink share, stroke
   edges per row): a bright rib edge or a lung apex is not a word, and a de-identified image
   that lost anatomy is clinically harmful.

4. **Lines without OCR** — on the same modalities as the strips, rows of character-like
   strokes (:mod:`text_lines`) are blanked whole, or word by word under the caps, whatever
   OCR read of them: a line OCR reads in part or not at all goes too.

Nothing is stamped clean on hope: a word-like box that was read but not blanked (too large,
not text-shaped, or read with low confidence) makes the plan ask for review.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from medflow.analyzers.imaging.burned_in import Box, TextFinder, Word
from medflow.analyzers.imaging.text_lines import LineRules, find_lines
from medflow.analyzers.imaging.text_structure import (
    StructureRules,
    looks_like_characters,
    stroke_images,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

Frac = tuple[float, float, float, float]
_TOO_BIG = ("larger than the cap for a word", "taller than a line of text")


@dataclass(frozen=True)
class DeviceRule:
    """One CTP-style signature: the fields given must match; ``blank`` in stored pixels."""

    blank: tuple[Box, ...]
    modality: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    rows: int | None = None
    columns: int | None = None

    def matches(self, header: Header) -> bool:
        """Whether every field the rule gives matches the image."""
        checks = (
            self.modality is None or self.modality.upper() == header.modality,
            self.manufacturer is None or self.manufacturer.lower() in header.manufacturer.lower(),
            self.model is None or self.model.lower() in header.model.lower(),
            self.rows is None or self.rows == header.rows,
            self.columns is None or self.columns == header.columns,
        )
        return all(checks)


@dataclass(frozen=True)
class ShapeRules:
    """When a box looks like a word (see ``data/pixel_rules.yaml``)."""

    max_height_fraction: float
    min_aspect: float
    max_aspect: float
    min_contrast: float
    min_separation: float
    ink_fraction: tuple[float, float]
    min_transitions: float


@dataclass(frozen=True)
class PixelRules:
    """The region rules, text strips and OCR thresholds of ``data/pixel_rules.yaml``."""

    region_modalities: frozenset[str]
    strip_modalities: frozenset[str]
    strips: tuple[Frac, ...]
    devices: tuple[DeviceRule, ...]
    strip_min_confidence: float
    strip_min_chars: int
    strip_max_box_fraction: float
    block_min_confidence: float
    min_confidence: float
    min_chars: int
    max_box_fraction: float
    review_confidence: float
    shape: ShapeRules
    structure: StructureRules
    strokes_min_confidence: float
    strokes_size_fraction: float
    strokes_min_size: int
    pad_fraction: float
    lines: LineRules | None = None


def _parse_rules(data: dict[str, Any]) -> PixelRules:
    ocr = data["ocr"]
    shape = ocr["shape"]
    structure = ocr["structure"]
    devices = tuple(
        DeviceRule(
            blank=tuple(tuple(int(v) for v in r) for r in d["blank"]),  # type: ignore[misc]
            modality=d.get("modality"),
            manufacturer=d.get("manufacturer"),
            model=d.get("model"),
            rows=d.get("rows"),
            columns=d.get("columns"),
        )
        for d in data.get("devices") or []
    )
    return PixelRules(
        region_modalities=frozenset(str(m).upper() for m in data["region_modalities"]),
        strip_modalities=frozenset(str(m).upper() for m in data["strip_modalities"]),
        strips=tuple(tuple(float(v) for v in s) for s in data["strips"]),  # type: ignore[misc]
        devices=devices,
        strip_min_confidence=float(ocr["strip"]["min_confidence"]),
        strip_min_chars=int(ocr["strip"]["min_chars"]),
        strip_max_box_fraction=float(ocr["strip"]["max_box_fraction"]),
        block_min_confidence=float(ocr["strip"]["block_min_confidence"]),
        min_confidence=float(ocr["elsewhere"]["min_confidence"]),
        min_chars=int(ocr["elsewhere"]["min_chars"]),
        max_box_fraction=float(ocr["elsewhere"]["max_box_fraction"]),
        review_confidence=float(ocr["elsewhere"]["review_confidence"]),
        shape=ShapeRules(
            max_height_fraction=float(shape["max_height_fraction"]),
            min_aspect=float(shape["min_aspect"]),
            max_aspect=float(shape["max_aspect"]),
            min_contrast=float(shape["min_contrast"]),
            min_separation=float(shape["min_separation"]),
            ink_fraction=(float(shape["ink_fraction"][0]), float(shape["ink_fraction"][1])),
            min_transitions=float(shape["min_transitions"]),
        ),
        structure=StructureRules(
            sure_confidence=float(structure["sure_confidence"]),
            sure_min_share=float(structure["sure_min_share"]),
            min_height_px=int(structure["min_height_px"]),
            min_share=float(structure["min_share"]),
            levels=int(structure["levels"]),
            level_min_share=float(structure["level_min_share"]),
            level_min_blobs=int(structure["level_min_blobs"]),
        ),
        strokes_min_confidence=float(ocr["strokes"]["min_confidence"]),
        strokes_size_fraction=float(ocr["strokes"]["size_fraction"]),
        strokes_min_size=int(ocr["strokes"]["min_size"]),
        pad_fraction=float(ocr["pad_fraction"]),
        lines=_parse_lines(data.get("lines")),
    )


def _parse_lines(lines: dict[str, Any] | None) -> LineRules | None:
    """The text-line detector's thresholds; None (no ``lines`` section, or ``enabled: false``)
    turns it off."""
    if not lines or not lines.get("enabled", True):
        return None
    return LineRules(
        size_fraction=float(lines["size_fraction"]),
        min_size=int(lines["min_size"]),
        min_contrast=float(lines["min_contrast"]),
        noise_factor=float(lines["noise_factor"]),
        min_height_px=int(lines["min_height_px"]),
        max_height_px=int(lines["max_height_px"]),
        max_width_ratio=float(lines["max_width_ratio"]),
        fill=(float(lines["fill"][0]), float(lines["fill"][1])),
        height_ratio=float(lines["height_ratio"]),
        max_gap=float(lines["max_gap"]),
        baseline_tolerance=float(lines["baseline_tolerance"]),
        min_chars=int(lines["min_chars"]),
        max_height_spread=float(lines["max_height_spread"]),
        max_slope=float(lines["max_slope"]),
        max_slanted_share=float(lines["max_slanted_share"]),
        ring_contrast=float(lines["ring_contrast"]),
        min_width_share=float(lines["min_width_share"]),
        word_gap=float(lines["word_gap"]),
        region_edge_widen=float(lines["region_edge_widen"]),
        region_edge_min_part=float(lines["region_edge_min_part"]),
        skip_frame_edge=bool(lines.get("skip_frame_edge", False)),
    )


@lru_cache(maxsize=1)
def load_pixel_rules() -> PixelRules:
    """The shipped ``data/pixel_rules.yaml`` (loaded once)."""
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath("data/pixel_rules.yaml")
        .read_text(encoding="utf-8")
    )
    return _parse_rules(yaml.safe_load(text))


def pixel_rules_from(path: Path) -> PixelRules:
    """A site's own rules file (same layout as the shipped one, with its device signatures)."""
    return _parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Header:
    """What the region rules read from a DICOM header (empty for PNG / JPEG)."""

    modality: str = ""
    manufacturer: str = ""
    model: str = ""
    rows: int = 0
    columns: int = 0
    regions: tuple[Box, ...] = ()

    @classmethod
    def of(cls, ds: Dataset) -> Header:
        """The fields of a data set (regions from Sequence of Ultrasound Regions)."""
        regions: list[Box] = []
        for item in ds.get("SequenceOfUltrasoundRegions", None) or []:
            try:
                x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
                x1, y1 = int(item.RegionLocationMaxX1), int(item.RegionLocationMaxY1)
            except (AttributeError, TypeError, ValueError):
                continue
            if x1 >= x0 >= 0 and y1 >= y0 >= 0:
                regions.append((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
        return cls(
            modality=str(ds.get("Modality", "") or "").upper(),
            manufacturer=str(ds.get("Manufacturer", "") or ""),
            model=str(ds.get("ManufacturerModelName", "") or ""),
            rows=int(ds.get("Rows", 0) or 0),
            columns=int(ds.get("Columns", 0) or 0),
            regions=tuple(regions),
        )


@dataclass
class MaskPlan:
    """The boxes to blank (each with its reason) and whether a person must review the result."""

    boxes: list[tuple[Box, str]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    text_found: bool = False
    ocr_ran: bool = False


def outside(regions: tuple[Box, ...], height: int, width: int) -> list[Box]:
    """The complement of a union of rectangles, as rectangles (row bands, then gaps)."""
    if not regions:
        return []
    ys = sorted({0, height, *(max(0, min(height, t)) for _, t, _, _ in regions)})
    ys = sorted({*ys, *(max(0, min(height, t + h)) for _, t, _, h in regions)})
    out: list[Box] = []
    for top, bottom in itertools.pairwise(ys):
        if bottom <= top:
            continue
        spans = sorted(
            (max(0, left), min(width, left + w))
            for left, t, w, h in regions
            if t <= top and t + h >= bottom
        )
        x = 0
        for start, end in spans:
            if start > x:
                out.append((x, top, start - x, bottom - top))
            x = max(x, end)
        if x < width:
            out.append((x, top, width - x, bottom - top))
    return out


def edge_lines(
    grey: NDArray[Any], regions: tuple[Box, ...], rules: LineRules, pad_fraction: float
) -> list[Box]:
    """Text lines cut by the edge of the declared image regions, blanked whole.

    A banner or side-panel line that runs from the screen into the image area loses its part
    outside with the region masks, and what is left inside (a name's last letters, cut
    characters at the edge) may be too short for OCR or the line detector to take for text.
    So the lines are found on the frame before any masking; a line with at least
    ``region_edge_min_part`` character squares of its box on each side of the edge is
    blanked as a whole line past the edge, widened by ``region_edge_widen`` character heights
    at each end (a character the edge cut in two), and padded above and below by
    ``pad_fraction`` of its height, as the other line boxes."""
    height, width = grey.shape[:2]
    found: list[Box] = []
    for line in find_lines(grey, rules):
        left, top, w, h = line.box
        inside = _covered(line.box, list(regions)) * w * h
        part = rules.region_edge_min_part * line.height * line.height
        if inside < part or w * h - inside < part:
            continue
        widen = round(rules.region_edge_widen * line.height)
        pad = max(2, round(pad_fraction * h))
        x0, y0 = max(0, left - widen), max(0, top - pad)
        x1, y1 = min(width, left + w + widen), min(height, top + h + pad)
        box = (x0, y0, x1 - x0, y1 - y0)
        if box not in found:
            found.append(box)
    return found


def strip_boxes(rules: PixelRules, height: int, width: int) -> list[Box]:
    """The text strips of the rules in an image's pixels."""
    return [
        (round(fl * width), round(ft * height), round(fw * width), round(fh * height))
        for fl, ft, fw, fh in rules.strips
    ]


def _overlap(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def text_shape(
    grey: NDArray[Any], box: Box, shape: ShapeRules, any_size: bool = False, sure: bool = False
) -> str | None:
    """None when the box looks like a line of text; else why not (for the review list).

    ``any_size`` skips the height limit (to tell large text from large non-text); ``sure``
    (a word OCR read confidently) skips the two-tone test, which text over striped anatomy
    (three tones: background, rib, strokes) fails.
    """
    import numpy as np

    left, top, width, height = box
    if not any_size and height > max(shape.max_height_fraction * grey.shape[0], 40):
        return "taller than a line of text"
    aspect = width / max(1, height)
    if not shape.min_aspect <= aspect <= shape.max_aspect:
        return "not shaped like a word"
    patch = grey[top : top + height, left : left + width].astype(np.float64)
    if patch.size < 4:
        return "too small to judge"
    lo, hi = np.percentile(patch, [5, 95])
    if hi - lo < shape.min_contrast:
        return "no stroke contrast"
    if not sure and _separation(patch) < shape.min_separation:
        return "not two-toned like strokes on a background"
    ink = patch > (lo + hi) / 2
    if ink.mean() > 0.5:
        ink = ~ink
    share = float(ink.mean())
    if not shape.ink_fraction[0] <= share <= shape.ink_fraction[1]:
        return "no strokes"
    edges = float(np.abs(np.diff(ink.astype(np.int8), axis=1)).sum(axis=1).mean())
    if edges < shape.min_transitions:
        return "no strokes"
    return None


def _separation(patch: NDArray[Any]) -> float:
    """Otsu's separability (between-class over total variance at the best threshold).

    Strokes on a background are two-toned and score near 1; a unimodal patch (noise, a smooth
    gradient, soft tissue) cannot exceed 2/pi = 0.64 for a normal distribution.
    """
    import numpy as np

    values = patch.ravel()
    total = float(values.var())
    if total <= 0:
        return 0.0
    hist, edges = np.histogram(values, bins=64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist) / values.size
    mean = np.cumsum(hist * centres) / values.size
    overall = mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (overall * weight - mean) ** 2 / (weight * (1 - weight))
    best = float(np.nanmax(between[:-1])) if len(between) > 1 else 0.0
    return best / total


_BLOCK = "--psm 6"
"""Tesseract page segmentation 6: a single uniform block of text; it reads some banners the
sparse-text mode (11) misses, and the other way round."""


def _iou(a: Box, b: Box) -> float:
    inter = _overlap(a, b)
    return inter / max(1, a[2] * a[3] + b[2] * b[3] - inter)


def read_bands(
    finder: TextFinder, image: NDArray[Any], strips: list[Box], block_confidence: float = 60.0
) -> list[Word]:
    """Words of the whole frame (sparse text, then one block) and of each text strip read on
    its own (Tesseract's page layout can drop a banner next to a large bright shape; cut out,
    it reads), boxes in frame
    pixels; a word read twice (IoU over 0.5) is kept once, at its best confidence.

    Bands across the image body are not read separately: cut out of context, rib-like
    texture reads as large letters."""
    height, width = image.shape[:2]
    # the whole frame as sparse text and as one block of text lines (psm 6); each strip alone
    crops: list[tuple[int, int, int, int, str | None]] = [(0, 0, width, height, None)]
    crops += [(0, 0, width, height, _BLOCK), *((*s, None) for s in strips)]
    words: list[Word] = []
    for left, top, w, h, config in crops:
        if w < 8 or h < 8:
            continue
        whole = (left, top, w, h) == (0, 0, width, height)
        for word in finder.read(image[top : top + h, left : left + w], config):
            x, y, bw, bh = word.box
            if not whole and bh > 0.75 * h:
                continue  # a "word" as tall as the strip is its texture, not a line in it
            if config == _BLOCK and (
                word.confidence < block_confidence
                or not any(_overlap(word.box, s) * 2 >= bw * bh for s in strips)
            ):
                continue  # read as one block, striped anatomy turns into words: strips only
            moved = Word((x + left, y + top, bw, bh), word.text, word.confidence)
            same = next((i for i, o in enumerate(words) if _iou(o.box, moved.box) > 0.5), None)
            if same is None:
                words.append(moved)
            elif words[same].confidence < moved.confidence:
                words[same] = moved
    return words


def _pad(box: Box, fraction: float, height: int, width: int) -> Box:
    left, top, w, h = box
    p = max(2, round(h * fraction))
    x0, y0 = max(0, left - p), max(0, top - p)
    x1, y1 = min(width, left + w + p), min(height, top + h + p)
    return (x0, y0, x1 - x0, y1 - y0)


_PASSES = 3
"""OCR passes at most per frame (the first, and re-reads while new words surface)."""


def _judge(
    words: list[Word],
    strips: list[Box],
    shown: NDArray[Any],
    rules: PixelRules,
    result: MaskPlan,
    reviewed: set[str],
) -> list[Box]:
    """Add the words to blank to ``result`` (and the review lines); return the new boxes."""
    height, width = shown.shape[:2]
    area = height * width
    new: list[Box] = []
    for word in words:
        box = word.box
        chars = sum(ch.isalnum() for ch in word.text)
        in_strip = any(_overlap(box, s) * 2 >= box[2] * box[3] for s in strips)
        if in_strip:
            if word.confidence < rules.strip_min_confidence or chars < rules.strip_min_chars:
                continue
            cap = rules.strip_max_box_fraction
        else:
            if word.confidence < rules.min_confidence or chars < rules.min_chars:
                continue
            cap = rules.max_box_fraction
        if looks_like_characters(shown, box, rules.structure, word.confidence):
            continue  # built like texture (a stripe, a rib edge, speckle), not characters
        why_not = (
            "larger than the cap for a word"
            if box[2] * box[3] > cap * area
            else text_shape(
                shown, box, rules.shape, sure=word.confidence >= rules.review_confidence
            )
        )
        if why_not is None:
            padded = _pad(box, rules.pad_fraction, height, width)
            if any(b == padded for b, _ in result.boxes):
                continue
            result.boxes.append((padded, "text-strip" if in_strip else "text-shaped"))
            result.text_found = True
            new.append(padded)
        elif (
            word.confidence >= rules.review_confidence
            and why_not in _TOO_BIG
            and chars >= 3
            and text_shape(shown, box, rules.shape, any_size=True) is None
        ):
            # text-like but too large to blank without hiding anatomy: a person decides
            where = f"at ({box[0]},{box[1]}) {box[2]}x{box[3]} px, confidence {word.confidence:.0f}"
            line = f"a word-like box {where} was not blanked: {why_not}"
            if line not in reviewed:
                reviewed.add(line)
                result.review.append(line)
    return new


def plan(
    image: NDArray[Any],
    header: Header | None,
    rules: PixelRules,
    finder: TextFinder | None,
) -> MaskPlan:
    """Decide what to blank in one display frame (uint8 grey or RGB).

    Args:
        image: the frame as shown (``render.display_frame``).
        header: the DICOM fields the region rules read; None for PNG / JPEG.
        rules: the pixel rules.
        finder: the OCR; None skips the OCR pass (regions only).
    """
    import numpy as np

    from medflow.analyzers.imaging.burned_in import mask_boxes
    from medflow.analyzers.imaging.render import to_grey

    height, width = image.shape[:2]
    result = MaskPlan()
    modality = header.modality if header is not None else ""
    grey = to_grey(image)
    if header is not None and modality in rules.region_modalities and header.regions:
        blank = outside(header.regions, height, width)
        result.boxes += [(b, "outside-image-regions") for b in blank]
        if rules.lines is not None:
            cut = edge_lines(grey, header.regions, rules.lines, rules.pad_fraction)
            result.boxes += [(b, "text-line-at-region-edge") for b in cut]
            result.text_found = result.text_found or bool(cut)
    if header is not None:
        for device in rules.devices:
            if device.matches(header):
                result.boxes += [(b, "device-rule") for b in device.blank]
                break
    if finder is None:
        return result
    # OCR the frame as it will be after the region masks, so a blanked banner is not re-read.
    shown = mask_boxes(grey, [b for b, _ in result.boxes], 0) if result.boxes else grey
    strips = (
        strip_boxes(rules, height, width)
        if header is None or modality in rules.strip_modalities
        else []
    )
    reviewed: set[str] = set()
    rereading = False
    for _ in range(_PASSES):
        # Each pass reads the frame as blanked so far: removing one word changes how Tesseract
        # binarizes the rest, so a word it missed can surface; it stops when nothing new does.
        # A re-read only accepts confident words (the blanked boxes' own edges must not breed
        # new boxes over anatomy), and reads the blanked boxes filled with the frame's median,
        # not black.
        words = read_bands(finder, shown, strips, rules.block_min_confidence)
        result.ocr_ran = True
        if rereading:
            words = [w for w in words if w.confidence >= rules.review_confidence]
        new = _judge(words, strips, shown, rules, result, reviewed)
        if not rereading and rules.strokes_min_confidence <= 100:
            # after the first read (so what it finds is found as before), the frame's strokes
            seen = mask_boxes(shown, new, int(np.median(grey))) if new else shown
            new += _read_strokes(finder, seen, strips, rules, result, reviewed)
        if not rereading and rules.lines is not None and strips:
            # lines of characters, whatever OCR made of them (nothing, or part of a line), on
            # the modalities whose screens burn text in (those searched with the text strips;
            # a CT or MR slice's bone edges line up like characters more often than it
            # carries text)
            new += _blank_lines(shown, strips, rules, rules.lines, result, reviewed)
        if not new:
            break
        rereading = True
        shown = mask_boxes(shown, new, int(np.median(grey)))
    return result


def _read_strokes(
    finder: TextFinder,
    shown: NDArray[Any],
    strips: list[Box],
    rules: PixelRules,
    result: MaskPlan,
    reviewed: set[str],
) -> list[Box]:
    """Text beside or over a large bright shape: Tesseract's page layout drops it on the frame
    as shown, but reads it on the frame's strokes (shapes removed), in both polarities.

    A word counts when read surely there, judged on the stroke image (two-toned there) and,
    so that anatomy's fine texture is not taken for strokes, on the frame as shown: characters
    with stroke contrast."""
    height, width = shown.shape[:2]
    size = max(rules.strokes_min_size, round(rules.strokes_size_fraction * min(height, width)))
    new: list[Box] = []
    for strokes in stroke_images(shown, size | 1):
        sure = [
            w
            for w in finder.read(strokes)
            if w.confidence >= rules.strokes_min_confidence
            and looks_like_characters(shown, w.box, rules.structure, w.confidence) is None
            and text_shape(shown, w.box, rules.shape, any_size=True, sure=True) is None
        ]
        new += _judge(sure, strips, strokes, rules, result, reviewed)
    return new


def _blank_lines(
    shown: NDArray[Any],
    strips: list[Box],
    rules: PixelRules,
    lines: LineRules,
    result: MaskPlan,
    reviewed: set[str],
) -> list[Box]:
    """Blank the text lines the detector finds (:mod:`text_lines`), each padded, when small
    (the strip or elsewhere cap); a line over the cap is listed for review, not blanked."""
    height, width = shown.shape[:2]
    area = height * width
    new: list[Box] = []
    for line in find_lines(shown, lines):
        blanked = [b for b, _ in result.boxes]
        if _covered(line.box, blanked) >= 0.9:
            continue  # read and blanked already
        box = line.box
        in_strip = any(_overlap(box, s) * 2 >= box[2] * box[3] for s in strips)
        cap = (rules.strip_max_box_fraction if in_strip else rules.max_box_fraction) * area
        padded = _pad(box, rules.pad_fraction, height, width)
        pieces = [padded] if padded[2] * padded[3] <= cap else []
        if not pieces:  # a long line: word by word, each under the cap
            pieces = [_pad(w, rules.pad_fraction, height, width) for w in line.words]
            pieces = [w for w in pieces if _covered(w, blanked) < 0.9]
            if any(w[2] * w[3] > cap for w in pieces):
                where = f"at ({box[0]},{box[1]}) {box[2]}x{box[3]} px, {line.chars} characters"
                text = f"a text line {where} was not blanked: larger than the cap for a word"
                if text not in reviewed:
                    reviewed.add(text)
                    result.review.append(text)
                continue
        for piece in pieces:
            if any(b == piece for b, _ in result.boxes):
                continue
            result.boxes.append((piece, "text-line"))
            result.text_found = True
            new.append(piece)
    return new


def _covered(box: Box, boxes: list[Box]) -> float:
    """The share of a box's area inside the union of other boxes."""
    import numpy as np

    left, top, width, height = box
    if width <= 0 or height <= 0:
        return 1.0
    inside = np.zeros((height, width), bool)
    for b_left, b_top, b_width, b_height in boxes:
        x0, y0 = max(0, b_left - left), max(0, b_top - top)
        x1, y1 = min(width, b_left + b_width - left), min(height, b_top + b_height - top)
        if x1 > x0 and y1 > y0:
            inside[y0:y1, x0:x1] = True
    return float(inside.mean())
