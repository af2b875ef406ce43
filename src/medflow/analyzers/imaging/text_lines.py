"""Lines of burned-in text found without OCR: rows of character-like strokes.

Tesseract drops a banner next to a large bright shape, reads part of a line, or reads nothing
of text over ribbed anatomy. A line of overlay text has a structure anatomy lacks, whatever
OCR makes of it (connected-component text location: Jain & Yu 1998; Epshtein et al. 2010;
the thresholds and their sources are in ``data/pixel_rules.yaml``, ``lines``):

1. **Strokes**: the frame smoothed with a 3x3 mean (so a speckle pixel is not a stroke), and
   its white and black top-hats with a square wider than a stroke, so a shape (an organ, a
   rib, the edge of the image area) is gone and the strokes of characters stay, in either
   polarity. A stroke pixel is one whose top-hat exceeds a contrast floor and a multiple of
   the frame's noise.
2. **Characters**: connected components of stroke pixels of a character's height, not much
   wider than tall, neither a dot nor a filled block.
3. **Lines**: characters in a row: of similar height, their bottoms (the baseline) aligned,
   each next to the one before by less than a character's height; at least ``min_chars`` of
   them, with heights that vary little.

A line is the box around its characters. Speckle breaks into specks below a character's
height; a rib or an ellipse edge is wider than the square (gone) or runs on as one long
component (not character-shaped); neither lines up characters of one height on a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medflow.analyzers.imaging.burned_in import Box
from medflow.analyzers.imaging.text_structure import Blob, blob_table, open_close

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True)
class LineRules:
    """Thresholds of ``lines`` in ``data/pixel_rules.yaml``."""

    size_fraction: float
    min_size: int
    min_contrast: float
    noise_factor: float
    min_height_px: int
    max_height_px: int
    max_width_ratio: float
    fill: tuple[float, float]
    height_ratio: float
    max_gap: float
    baseline_tolerance: float
    min_chars: int
    max_height_spread: float
    max_slope: float
    max_slanted_share: float
    ring_contrast: float
    min_width_share: float
    word_gap: float
    region_edge_widen: float
    region_edge_min_part: float
    skip_frame_edge: bool = False
    """A component touching the frame's border is not a character: the border cut it, so its
    height, width and slant are not its own (a diagonal stripe cut by the top row)."""


@dataclass(frozen=True)
class Line:
    """A row of character-like components: its box and how many characters it holds."""

    box: Box
    chars: int
    height: float
    words: tuple[Box, ...] = ()
    """The line cut at its wider gaps (spaces between words), the ends at the line's."""


def _noise_sigma(grey: NDArray[Any]) -> float:
    """The frame's noise (standard deviation), from the median absolute horizontal difference:
    robust to edges and text, which are a small share of the pixel pairs."""
    import numpy as np

    diff = np.abs(np.diff(grey.astype(np.int16), axis=1))
    sigma: float = float(np.median(diff)) / (0.6745 * 2.0**0.5)
    return sigma


@dataclass(frozen=True)
class Strokes:
    """Stroke pixels of a frame, with the smoothed frame and the contrast floor used."""

    masks: list[NDArray[Any]]
    """Bright strokes, dark strokes, and either (text drawn over the edge of a shape is
    bright on one side of it and dark on the other)."""
    smooth: NDArray[Any]
    floor: float


def stroke_mask(grey: NDArray[Any], rules: LineRules) -> Strokes:
    """The frame's stroke pixels (see :class:`Strokes`)."""
    import numpy as np
    from PIL import Image, ImageFilter

    height, width = grey.shape[:2]
    size = max(rules.min_size, round(rules.size_fraction * min(height, width))) | 1
    img = Image.fromarray(np.ascontiguousarray(grey)).filter(ImageFilter.BoxBlur(1))
    smooth = np.asarray(img).astype(np.int16)
    opened, closed = open_close(np.asarray(img), size)
    floor = max(rules.min_contrast, rules.noise_factor * _noise_sigma(grey))
    bright, dark = (smooth - opened) > floor, (closed - smooth) > floor
    return Strokes([bright, dark, bright | dark], smooth, floor)


def _width_in_chars(blob: Blob) -> int:
    """How many characters a component spans: letters that touch (bold or tightly set text,
    joined by the smoothing) make one component several characters wide."""
    return max(1, round((blob[3] - blob[1]) / (0.8 * (blob[2] - blob[0]))))


def _stands_out(mask: NDArray[Any], strokes: Strokes, blob: Blob, rules: LineRules) -> bool:
    """Whether a component differs from the pixels right around it (a 2 px ring) by the
    contrast floor: a character's stroke stands out from its background; a thin piece of a
    wider bright or dark shape (a bone's edge, a lead marker's thick letter) is as bright as
    the shape it is part of."""
    import numpy as np
    from scipy import ndimage

    top, left, bottom, right, _ = blob
    rows, cols = mask.shape
    y0, x0 = max(0, top - 2), max(0, left - 2)
    y1, x1 = min(rows, bottom + 2), min(cols, right + 2)
    ink = mask[y0:y1, x0:x1]
    ring = ndimage.binary_dilation(ink, structure=np.ones((5, 5), bool)) & ~ink
    if not ring.any() or not ink.any():
        return False
    values = strokes.smooth[y0:y1, x0:x1]
    contrast = abs(float(np.median(values[ink])) - float(np.median(values[ring])))
    return contrast >= rules.ring_contrast * strokes.floor


def _characters(
    mask: NDArray[Any], strokes: Strokes, rules: LineRules
) -> tuple[list[Blob], NDArray[Any]]:
    """The character-like components, and every component (rows of :func:`blob_table`, to
    extend lines with). Size, width and fill are judged on all components at once; the ring
    contrast, on the few that pass."""
    import numpy as np

    every = blob_table(mask)
    top, left, bottom, right, area = every.T
    h, w = bottom - top, right - left
    shaped = (rules.min_height_px <= h) & (h <= rules.max_height_px)
    shaped &= w <= rules.max_width_ratio * h
    fill = area / np.maximum(1, h * w)
    shaped &= (rules.fill[0] <= fill) & (fill <= rules.fill[1])
    if rules.skip_frame_edge:
        rows, cols = mask.shape
        shaped &= (top > 0) & (left > 0) & (bottom < rows) & (right < cols)
    candidates: list[Blob] = [(a, b, c, d, e) for a, b, c, d, e in every[shaped].tolist()]
    found = [blob for blob in candidates if _stands_out(mask, strokes, blob, rules)]
    return found, every


def _next_to(a: Blob, b: Blob, rules: LineRules) -> bool:
    """Whether b continues a's line (b starts right of a's left edge)."""
    ha, hb = a[2] - a[0], b[2] - b[0]
    if max(ha, hb) > rules.height_ratio * min(ha, hb):
        return False
    tol = rules.baseline_tolerance * max(ha, hb)
    if abs(a[2] - b[2]) > tol:
        return False
    gap = b[1] - a[3]
    return -tol <= gap <= rules.max_gap * max(ha, hb)


def _group(chars: list[Blob], rules: LineRules) -> list[list[Blob]]:
    chars = sorted(chars, key=lambda b: b[1])
    parent = list(range(len(chars)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(chars):
        reach = a[3] + rules.max_gap * rules.height_ratio * (a[2] - a[0])
        for j in range(i + 1, len(chars)):
            b = chars[j]
            if b[1] > reach:
                break
            if _next_to(a, b, rules):
                parent[root(j)] = root(i)
    groups: dict[int, list[Blob]] = {}
    for i, blob in enumerate(chars):
        groups.setdefault(root(i), []).append(blob)
    return list(groups.values())


def _slope(group: list[Blob]) -> float:
    """How steeply the characters' centres climb or fall along the line (rows per column)."""
    import numpy as np

    xs = np.array([(b[1] + b[3]) / 2 for b in group], dtype=np.float64)
    ys = np.array([(b[0] + b[2]) / 2 for b in group], dtype=np.float64)
    if np.ptp(xs) <= 0:
        return float("inf")
    return abs(float(np.polyfit(xs, ys, 1)[0]))


def _slant(mask: NDArray[Any], blob: Blob) -> float:
    """The correlation of column with row over a component's ink (-1..1): a piece of a
    diagonal stripe is near +-1, a character other than "/" or "\\" near 0."""
    import numpy as np

    top, left, bottom, right, _ = blob
    ys, xs = np.nonzero(mask[top:bottom, left:right])
    if len(xs) < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return 0.0
    return float(np.corrcoef(xs, ys)[0, 1])


def _slanted_share(mask: NDArray[Any], group: list[Blob]) -> float:
    """The largest share of a group's components slanted the same way (|correlation| > 0.6)."""
    slants = [_slant(mask, b) for b in group]
    rising = sum(v > 0.6 for v in slants)
    falling = sum(v < -0.6 for v in slants)
    return max(rising, falling) / max(1, len(slants))


def _extend(box: Box, height: float, every: NDArray[Any], rules: LineRules) -> Box:
    """The line's whole extent: grown by the components in its row (its band of rows) that
    lie next to it, of any shape but not taller than its characters; a thin "1", a "/" or a
    character joined to its neighbour is part of the line though not character-shaped.

    The components are taken in their order, each against the box as grown so far, passes
    repeated until one grows nothing (the next component that grows it is found with one
    array comparison, not a loop over all)."""
    import numpy as np

    left, top, width, h = box
    right, bottom = left + width, top + h
    reach = rules.max_gap * height
    tops, lefts, bottoms, rights = every[:, 0], every[:, 1], every[:, 2], every[:, 3]
    low = bottoms - tops <= rules.height_ratio * height
    middles = (tops + bottoms) / 2
    grown = True
    while grown:
        grown = False
        start = 0
        while True:
            near = low[start:] & (rights[start:] > left - reach) & (lefts[start:] < right + reach)
            near &= (lefts[start:] < left) | (rights[start:] > right)
            near &= (middles[start:] >= top) & (middles[start:] <= bottom)
            hits = np.flatnonzero(near)
            if not len(hits):
                break
            i = start + int(hits[0])
            left, right = min(left, int(lefts[i])), max(right, int(rights[i]))
            top, bottom = min(top, int(tops[i])), max(bottom, int(bottoms[i]))
            grown = True
            start = i + 1
    return (left, top, right - left, bottom - top)


def _words(mask: NDArray[Any], line: Box, gap: float) -> tuple[Box, ...]:
    """The line's words: its columns with stroke pixels, cut where more than ``gap`` columns
    in a row have none (a space; the gaps between letters are narrower); each word spans the
    line's rows, the first and last reach the line's ends."""
    import numpy as np

    left, top, width, height = line
    used = mask[top : top + height, left : left + width].any(axis=0)
    columns = np.flatnonzero(used)
    if not len(columns):
        return (line,)
    cuts = np.flatnonzero(np.diff(columns) > gap)
    starts = [int(columns[0]), *(int(columns[c + 1]) for c in cuts)]
    ends = [*(int(columns[c]) + 1 for c in cuts), int(columns[-1]) + 1]
    starts[0], ends[-1] = 0, width
    return tuple((left + a, top, b - a, height) for a, b in zip(starts, ends, strict=True))


def find_lines(grey: NDArray[Any], rules: LineRules) -> list[Line]:
    """Rows of character-like strokes in a uint8 grey frame (both polarities)."""
    import numpy as np

    lines: list[Line] = []
    strokes = stroke_mask(grey, rules)
    for mask in strokes.masks:
        chars, every = _characters(mask, strokes, rules)
        for group in _group(chars, rules):
            count = sum(_width_in_chars(b) for b in group)
            if count < rules.min_chars:
                continue
            heights = np.array([b[2] - b[0] for b in group], dtype=np.float64)
            if heights.std() > rules.max_height_spread * heights.mean():
                continue
            span = max(b[3] for b in group) - min(b[1] for b in group)
            if sum(b[3] - b[1] for b in group) < rules.min_width_share * span:
                continue  # a few pieces far apart along a row, not a run of characters
            if _slope(group) > rules.max_slope:
                continue  # a slanted chain (a diagonal stripe's pieces), not a baseline
            if _slanted_share(mask, group) > rules.max_slanted_share:
                continue  # parallel slanted pieces: stripes cut by a row, not characters
            top = min(b[0] for b in group)
            left = min(b[1] for b in group)
            bottom = max(b[2] for b in group)
            right = max(b[3] for b in group)
            box = _extend((left, top, right - left, bottom - top), heights.mean(), every, rules)
            words = _words(mask, box, rules.word_gap * float(heights.mean()))
            lines.append(Line(box, count, float(heights.mean()), words))
    return lines
