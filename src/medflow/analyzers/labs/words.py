"""Words with positions, grouped into lines: what the PDF text and OCR readers hand the parser.

Coordinates are PDF points from the page's top-left corner (the same frame as
:class:`medflow.domain.labs.BBox`), whether they came from a text layer or from OCR at any dpi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Word:
    """One word as printed: its text and box in points from the top-left corner, and, for a
    word read by OCR, Tesseract's confidence in it (0-100; -1: unknown, or a text layer)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    conf: float = -1.0

    @property
    def middle(self) -> float:
        """Vertical centre."""
        return (self.top + self.bottom) / 2


@dataclass(slots=True)
class Line:
    """Words on one printed line, left to right (the list is not changed after construction).

    Attributes:
        words: the words.
        text: the words joined by single spaces (computed once).
    """

    words: list[Word]
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(w.text for w in self.words)

    @property
    def x0(self) -> float:
        """Left edge."""
        return self.words[0].x0

    @property
    def x1(self) -> float:
        """Right edge."""
        return max(w.x1 for w in self.words)

    @property
    def top(self) -> float:
        """Top edge."""
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        """Bottom edge."""
        return max(w.bottom for w in self.words)

    @property
    def height(self) -> float:
        """Median-ish word height (the tallest box can be a bracket)."""
        hs = sorted(w.bottom - w.top for w in self.words)
        return hs[len(hs) // 2]


@dataclass(slots=True)
class PageText:
    """One page's lines, in reading order, and how they were read.

    Attributes:
        number: 1-based page number.
        width: page width in points.
        height: page height in points.
        lines: the lines, top to bottom.
        ocr: True when the words came from OCR.
        reread: for an OCR'd page, reads one box of the page image again (points, as the
            words' boxes, and the characters allowed); None for a text layer.
        reread_words: for an OCR'd page, reads one box of the page image again as one line of
            positioned words (see :class:`RereadWords`); None for a text layer.
    """

    number: int
    width: float
    height: float
    lines: list[Line] = field(default_factory=list)
    ocr: bool = False
    reread: Reread | None = field(default=None, compare=False, repr=False)
    reread_words: RereadWords | None = field(default=None, compare=False, repr=False)


class Reread(Protocol):
    """Reads a box of an OCR'd page image again (``ocr.TesseractOcr``)."""

    def __call__(self, box: tuple[float, float, float, float], allowed: str) -> list[str]:
        """The readings of ``box`` (x0, top, x1, bottom in points) with only ``allowed``
        characters, one per setting tried."""
        ...


class RereadWords(Protocol):
    """Reads a box of an OCR'd page image again as one printed line (``ocr.TesseractOcr``)."""

    def __call__(self, box: tuple[float, float, float, float]) -> list[Word]:
        """The words read in ``box`` (x0, top, x1, bottom in points), left to right, each with
        its box in the page's (deskewed) frame and Tesseract's confidence."""
        ...


def group_lines(words: list[Word]) -> list[Line]:
    """Group words into lines by vertical overlap, each line sorted left to right.

    A word joins the current line when its vertical centre lies within the line's band (the
    text layer of a table puts every cell of a row on one baseline, so a strict band keeps
    adjacent rows apart even at 12 pt row pitch).

    Args:
        words: words in any order.

    Returns:
        lines from top to bottom.
    """
    lines: list[Line] = []
    band_top = band_bottom = 0.0
    current: list[Word] = []
    for w in sorted(words, key=lambda w: (w.middle, w.x0)):
        if current and band_top <= w.middle <= band_bottom:
            current.append(w)
            continue
        if current:
            lines.append(Line(sorted(current, key=lambda w: w.x0)))
        current = [w]
        pad = (w.bottom - w.top) * 0.35
        band_top, band_bottom = w.middle - pad, w.middle + pad
    if current:
        lines.append(Line(sorted(current, key=lambda w: w.x0)))
    return lines
