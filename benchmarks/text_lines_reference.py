"""The text-line detector and stroke images as they were before ``scipy.ndimage`` (2026-12-06):
PIL's Min/MaxFilter top-hats, connected components by runs with a Python union-find, and a
Python loop over every component. Kept only as the reference that ``imaging_speed.py
--text-lines`` times the current code against and checks it finds the same lines."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from medflow.analyzers.imaging.burned_in import Box
from medflow.analyzers.imaging.text_lines import (
    Line,
    LineRules,
    Strokes,
    _group,
    _noise_sigma,
    _slanted_share,
    _slope,
    _width_in_chars,
    _words,
)
from medflow.analyzers.imaging.text_structure import Blob


def blobs(mask: NDArray[Any]) -> list[Blob]:
    """8-connected components by runs (union-find over runs of consecutive rows)."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    runs: list[tuple[int, int, int]] = []
    parent: list[int] = []

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    for row in range(height):
        current: list[int] = []
        starts = np.flatnonzero(step[row] == 1).tolist()
        ends = np.flatnonzero(step[row] == -1).tolist()
        for start, end in zip(starts, ends, strict=True):
            index = len(runs)
            runs.append((row, start, end))
            parent.append(index)
            for other in previous:
                _, o_start, o_end = runs[other]
                if o_start <= end and o_end >= start:
                    a, b = root(index), root(other)
                    if a != b:
                        parent[a] = b
            current.append(index)
        previous = current
    found: dict[int, list[int]] = {}
    for index, (row, start, end) in enumerate(runs):
        blob = found.setdefault(root(index), [row, start, row + 1, end, 0])
        blob[0], blob[1] = min(blob[0], row), min(blob[1], start)
        blob[2], blob[3] = max(blob[2], row + 1), max(blob[3], end)
        blob[4] += end - start
    return [(b[0], b[1], b[2], b[3], b[4]) for b in found.values()]


def _open_close(img: Image.Image, size: int) -> tuple[NDArray[Any], NDArray[Any]]:
    shrink, grow = ImageFilter.MinFilter(size), ImageFilter.MaxFilter(size)
    opened = np.asarray(img.filter(shrink).filter(grow)).astype(np.int16)
    closed = np.asarray(img.filter(grow).filter(shrink)).astype(np.int16)
    return opened, closed


def stroke_mask(grey: NDArray[Any], rules: LineRules) -> Strokes:
    height, width = grey.shape[:2]
    size = max(rules.min_size, round(rules.size_fraction * min(height, width))) | 1
    img = Image.fromarray(np.ascontiguousarray(grey)).filter(ImageFilter.BoxBlur(1))
    smooth = np.asarray(img).astype(np.int16)
    opened, closed = _open_close(img, size)
    floor = max(rules.min_contrast, rules.noise_factor * _noise_sigma(grey))
    bright, dark = (smooth - opened) > floor, (closed - smooth) > floor
    return Strokes([bright, dark, bright | dark], smooth, floor)


def _stands_out(mask: NDArray[Any], strokes: Strokes, blob: Blob, rules: LineRules) -> bool:
    top, left, bottom, right, _ = blob
    rows, cols = mask.shape
    y0, x0 = max(0, top - 2), max(0, left - 2)
    y1, x1 = min(rows, bottom + 2), min(cols, right + 2)
    ink = mask[y0:y1, x0:x1]
    grown = np.asarray(Image.fromarray(ink.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5)))
    ring = (grown > 0) & ~ink
    if not ring.any() or not ink.any():
        return False
    values = strokes.smooth[y0:y1, x0:x1]
    contrast = abs(float(np.median(values[ink])) - float(np.median(values[ring])))
    return contrast >= rules.ring_contrast * strokes.floor


def _characters(
    mask: NDArray[Any], strokes: Strokes, rules: LineRules
) -> tuple[list[Blob], list[Blob]]:
    found = []
    every = blobs(mask)
    for blob in every:
        top, left, bottom, right, area = blob
        h, w = bottom - top, right - left
        if not rules.min_height_px <= h <= rules.max_height_px:
            continue
        if w > rules.max_width_ratio * h:
            continue
        if not rules.fill[0] <= area / (h * w) <= rules.fill[1]:
            continue
        if not _stands_out(mask, strokes, blob, rules):
            continue
        found.append(blob)
    return found, every


def _extend(box: Box, height: float, every: list[Blob], rules: LineRules) -> Box:
    left, top, width, h = box
    right, bottom = left + width, top + h
    reach = rules.max_gap * height
    grown = True
    while grown:
        grown = False
        for b_top, b_left, b_bottom, b_right, _ in every:
            if b_right <= left - reach or b_left >= right + reach:
                continue
            if b_left >= left and b_right <= right:
                continue
            if b_bottom - b_top > rules.height_ratio * height:
                continue
            middle = (b_top + b_bottom) / 2
            if not top <= middle <= bottom:
                continue
            if b_left < left or b_right > right:
                left, right = min(left, b_left), max(right, b_right)
                top, bottom = min(top, b_top), max(bottom, b_bottom)
                grown = True
    return (left, top, right - left, bottom - top)


def find_lines(grey: NDArray[Any], rules: LineRules) -> list[Line]:
    """The detector as it was (same steps as ``text_lines.find_lines``)."""
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
                continue
            if _slope(group) > rules.max_slope:
                continue
            if _slanted_share(mask, group) > rules.max_slanted_share:
                continue
            top = min(b[0] for b in group)
            left = min(b[1] for b in group)
            bottom = max(b[2] for b in group)
            right = max(b[3] for b in group)
            box = _extend((left, top, right - left, bottom - top), heights.mean(), every, rules)
            words = _words(mask, box, rules.word_gap * float(heights.mean()))
            lines.append(Line(box, count, float(heights.mean()), words))
    return lines


def stroke_images(grey: NDArray[Any], size: int) -> list[NDArray[Any]]:
    """The stroke images (white and black top-hats) with PIL's filters."""
    img = Image.fromarray(np.ascontiguousarray(grey))
    opened, closed = _open_close(img, size)
    values = grey.astype(np.int16)
    out = []
    for hat in (values - opened, closed - values):
        scale = 255.0 / max(30.0, float(np.percentile(hat, 99.5)))
        out.append((255 - np.clip(hat * scale, 0, 255)).astype(np.uint8))
    return out
