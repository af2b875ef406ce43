"""Is an OCR'd box a line of characters, or texture Tesseract read as letters?

Tesseract reads rib edges, stripes and speckle as short words at confidences of 30-70. A line
of burned-in text has a structure texture lacks: its characters are separate blobs *contained*
in the line's box, while a stripe or a rib edge binarised at the same level runs on past the
box (it is part of something larger), and speckle breaks into specks smaller than a character.

:func:`containment` binarises a box and a margin around it (a 3x3 mean first, so a speckle
pixel is not a blob) at one or more levels between the box's dark and bright ends, in both
polarities, and measures how much of the ink inside the box belongs to blobs that stay within
the box (give or take a tolerance). :func:`looks_like_characters` applies the thresholds of
``data/pixel_rules.yaml`` (``ocr.structure``) to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

from medflow.analyzers.imaging.burned_in import Box

Blob = tuple[int, int, int, int, int]
"""(top, left, bottom, right, area) of a connected component; bottom and right exclusive."""


@dataclass(frozen=True)
class StructureRules:
    """Thresholds of ``ocr.structure`` in ``data/pixel_rules.yaml``."""

    sure_confidence: float
    sure_min_share: float
    min_height_px: int
    min_share: float
    levels: int
    level_min_share: float
    level_min_blobs: int


@dataclass(frozen=True)
class Containment:
    """How character-like the ink of a box is at its best binarisation level."""

    share: float
    """Of the (non-speck) ink blobs touching the box, the area share of those inside it."""
    blobs: int
    """How many blobs lie inside the box at that level."""


def blob_table(mask: NDArray[Any]) -> NDArray[Any]:
    """The 8-connected components of a boolean array as an (n, 5) int64 array of rows
    (top, left, bottom, right, area), in the order of their first pixel in raster order
    (``scipy.ndimage.label``, boxes from ``find_objects``, areas by ``bincount``)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    table = np.zeros((count, 5), np.int64)
    if not count:
        return table
    for i, (rows, cols) in enumerate(ndimage.find_objects(labels)):
        table[i, :4] = rows.start, cols.start, rows.stop, cols.stop
    table[:, 4] = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return table


def blobs(mask: NDArray[Any]) -> list[Blob]:
    """The 8-connected components of a boolean array (see :func:`blob_table`)."""
    return [(a, b, c, d, e) for a, b, c, d, e in blob_table(mask).tolist()]


def _mean3(patch: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    padded = np.pad(patch.astype(np.float64), 1, mode="edge")
    rows, cols = patch.shape
    total = sum(padded[i : i + rows, j : j + cols] for i in range(3) for j in range(3))
    return np.asarray(total) / 9.0


def containment(grey: NDArray[Any], box: Box, levels: int = 1) -> Containment:
    """The best containment of a box's ink over ``levels`` binarisation levels (1: the middle
    of the box's 5th-95th percentile range) and both polarities.

    A level counts only when the blobs inside reach half the box's height and span half its
    width (a few specks inside are not a word)."""
    import numpy as np

    left, top, width, height = box
    rows, cols = grey.shape[:2]
    margin = max(3, height // 2)
    x0, y0 = max(0, left - margin), max(0, top - margin)
    x1, y1 = min(cols, left + width + margin), min(rows, top + height + margin)
    patch = _mean3(grey[y0:y1, x0:x1])
    bx0, by0, bx1, by1 = left - x0, top - y0, left - x0 + width, top - y0 + height
    lo, hi = np.percentile(patch[by0:by1, bx0:bx1], [5, 95])
    best = Containment(0.0, 0)
    if hi - lo < 10:
        return best
    tol = max(2, round(0.2 * height))
    speck = max(3.0, 0.01 * height * height)
    for k in range(1, levels + 1):
        level = lo + k * (hi - lo) / (levels + 1)
        for ink in (patch > level, patch < level):
            inside = total = count = tallest = 0
            covered = np.zeros(bx1 - bx0, bool)
            for b_top, b_left, b_bottom, b_right, area in blobs(ink):
                if b_bottom <= by0 or b_top >= by1 or b_right <= bx0 or b_left >= bx1:
                    continue
                if area < speck:
                    continue
                total += area
                if (
                    b_top >= by0 - tol
                    and b_bottom <= by1 + tol
                    and b_left >= bx0 - tol
                    and b_right <= bx1 + tol
                ):
                    inside += area
                    count += 1
                    tallest = max(tallest, b_bottom - b_top)
                    covered[max(0, b_left - bx0) : max(0, b_right - bx0)] = True
            if not total or tallest < 0.5 * height or covered.mean() < 0.5:
                continue
            if inside / total > best.share:
                best = Containment(inside / total, count)
    return best


def looks_like_characters(
    grey: NDArray[Any], box: Box, rules: StructureRules, confidence: float
) -> str | None:
    """None when a box's ink is character-like; else why not (for the plan's notes).

    Characters are at least ``min_height_px`` tall. A word read at or above
    ``sure_confidence`` needs only some blobs inside its box at one of ``levels`` levels
    (``sure_min_share``): Tesseract also reads a stripe's edge at 60-90. Below it: binarised
    at the middle level, most ink inside the box (``min_share``); or, for text over a shape
    (three tones: background, shape, strokes, which no one level splits), at one of
    ``levels`` levels several blobs inside and nearly all ink inside."""
    if box[3] < rules.min_height_px:
        return "lower than a character"
    if confidence >= rules.sure_confidence:
        if containment(grey, box, rules.levels).share >= rules.sure_min_share:
            return None
        return "texture: no blob inside the box at any level"
    if containment(grey, box).share >= rules.min_share:
        return None
    best = containment(grey, box, rules.levels)
    if best.share >= rules.level_min_share and best.blobs >= rules.level_min_blobs:
        return None
    return "texture: its ink runs on past the box"


def stroke_images(grey: NDArray[Any], size: int) -> list[NDArray[Any]]:
    """The frame's thin strokes, contrast-invariant: a white top-hat (bright strokes) and a
    black top-hat (dark strokes) with a ``size`` square, each stretched and shown dark on
    white. A shape wider than the square (an organ, a rib, the edge of the image area) is
    gone, so text over it or beside it reads as on a plain page; a stroke is narrower."""
    import numpy as np

    opened, closed = open_close(grey, size)
    values = grey.astype(np.int16)
    out = []
    for hat in (values - opened, closed - values):
        scale = 255.0 / max(30.0, float(np.percentile(hat, 99.5)))
        out.append((255 - np.clip(hat * scale, 0, 255)).astype(np.uint8))
    return out


def open_close(grey: NDArray[Any], size: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """The grey opening (erosion then dilation) and closing of a uint8 frame with a ``size``
    square, as int16; edge pixels repeated past the border (``scipy.ndimage``'s separable
    minimum / maximum filters, the same values as PIL's Min/MaxFilter at a fraction of the
    cost)."""
    import numpy as np
    from scipy import ndimage

    square = (size, size)
    opened = ndimage.grey_dilation(
        ndimage.grey_erosion(grey, size=square, mode="nearest"), size=square, mode="nearest"
    )
    closed = ndimage.grey_erosion(
        ndimage.grey_dilation(grey, size=square, mode="nearest"), size=square, mode="nearest"
    )
    return opened.astype(np.int16), closed.astype(np.int16)
