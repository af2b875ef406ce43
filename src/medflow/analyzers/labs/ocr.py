"""OCR of pages without a text layer: PDFium renders, Tesseract reads, words come back in points.

Settings (measured, see FINDINGS.md and ``benchmarks/labs_accuracy.py``): 300 dpi — at 200 dpi
Tesseract 5.3 misread 7 of 22 values (11.2 -> 1.2) while its character error rate looked fine;
``--psm 4`` (one column of text of variable sizes) keeps each table row on one line across the
whole page; ``preserve_interword_spaces=1`` keeps the wide gaps between table cells.
Pages with scanner speckle (isolated dark pixels) have specks of one to three pixels whitened
before OCR: on the noisy generated scans that fixed misread values ("3:75" for 3.75, "oa" for
4). A 3x3 median filter did almost as well on noisy pages but thinned decimal points away
(1.1 read as 11), most visibly on clean pages, which are left as rendered. Tesseract's
OpenMP threads are limited to one (``OMP_THREAD_LIMIT``): on a shared 2-core machine a page took
7.5 s with the default threads and 2.3 s with one. The limit is set in the Tesseract child's
environment only: set in this process's own environment, it was read by the OpenMP runtime that
CTranslate2 (the speech engine) loads later in the same process, whose decode then hung with
its two threads capped at one (``medflow demo`` and ``medflow serve`` run both).

Tesseract still confuses a decimal point with a colon, reads the caret of ``x10^9/L`` as a 4,
``I`` as ``l`` and scatters quote marks from noise; a few unambiguous fixes are applied to each
word (``46:0`` -> ``46.0``, but a ``1:80`` titre is left alone; ``x1049/L`` -> ``x10^9/L``;
``ulU/mL`` -> ``uIU/mL``; the words in ``data/ocr_fixes.yaml``; stray quotes dropped), none of
which can change a correctly read number.

A scan is rarely square to the page: a row 500 pt below the table header drifts 26 pt sideways
at 3 degrees, enough to put a value under the wrong column header, and Tesseract misreads more
on a skewed page. A page skewed by 1.5 degrees or more is turned square first
(:func:`deskew_image`: the rotation, in quarter degrees up to 6, that makes the rows of dark
pixels most peaked; a smaller skew is left to Tesseract, as resampling blurs); what remains is
measured from Tesseract's own lines (the median slope of word bottoms) and every word box is
rotated back (:func:`deskew_lines`). Table rules (grid lines, cell borders) are whitened before
OCR (:func:`remove_rules`): Tesseract reads them as ``|``, ``[`` or ``1`` beside the digits.

A degraded scan (thin strokes broken by blur and JPEG, grain) is read a second time when
Tesseract's mean word confidence on it is below :data:`RETRY_CONFIDENCE`: smoothed (a 3x3
median), then blurred slightly and thresholded generously (:func:`clean_degraded`), and the
reading Tesseract is surer of is kept. Clean pages (confidence 90 or more on the tuning scans)
are read once, as before: the median that thinned their decimal points is not applied to them.
Rows that Tesseract split at a wide table gap into two lines are joined
(:func:`merge_split_lines`), as a text layer would give them. What OCR still garbles in a row
is checked against the report and the knowledge base after parsing (``ocr_repair``).

Some words are judged by their box, which Tesseract gives with each: dotted leaders on a
grainy page come back as flat "words" (``eee``, ``cee``, 3-5 px tall against 18-26 px for the
text) and are dropped (:func:`is_leader_junk`); a printed asterisk flag, a small glyph at the
top of the line, is read as ``*`` whatever Tesseract made of it (:func:`star_marks`); a
bracketed flag glued to its value is split (:func:`split_glued_flag`); a printed cell border
("|") read into the value beside it is taken out by its place, known from the rows where it
stands alone (``ocr_borders``). Each OCR'd page keeps
its image so that a value or range that cannot be what was printed can be read again from
its box (:func:`reread_box`, used by ``ocr_reread``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from medflow.analyzers.labs.ocr_borders import strip_glued_borders
from medflow.analyzers.labs.words import Line, PageText, Reread, RereadWords, Word
from medflow.errors import AnalyzerError, DependencyMissingError

if TYPE_CHECKING:
    import pypdfium2

log = logging.getLogger(__name__)

DEFAULT_DPI = 300
DEFAULT_CONFIG = "--psm 4 -c preserve_interword_spaces=1"
# Words Tesseract reads with less confidence than this are dropped. Tesseract gives bold
# values it reads correctly a confidence of 0, so only its structural entries (-1) go.
MIN_CONFIDENCE = 0.0
# "46:0" is 46.0 read with a colon; "1:80" is a titre, printed so (left alone). No titre
# has a zero after its colon ("1:05" is 1.05, tuning seed 335), and a limit with a comparator
# is read the same way ("<2:6" is <2.6, tuning seed 342; "<1:40" stays a titre).
_COLON_DECIMAL = re.compile(r"^([<>]?)(0|[2-9]\d*|1\d+|1(?=:0)):(\d+)$")
# "x10^9/L" read as "x1049/L" / "X1043/uL" / "xX10412/L" / "10%3/uL": the 4 (or %) after
# "10" is the caret. Without the "x" only the exponents of cell counts (3, 6, 9, 12) are
# taken: "1046/uL" is 10^6/uL, never 10^46. Tesseract also reads the caret as a 7
# ("x1079/L", "1073/uL" on the tuning scans, seeds 300-399); a 7 is taken for the caret only
# before those exponents (10^79 or 10^73 is no unit; "x107/L" is left alone). In small type
# (7-8 pt) it reads the caret as an A, the letter it looks like without its bar ("10A3/uL":
# two_column tuning seed 429); no unit spells "10A".
_POWER_UNIT = re.compile(r"^[xX×]{1,2}10(?:[4^*%A](\d{1,2})|7(3|6|9|12))/(\w+)$")
_BARE_POWER_UNIT = re.compile(r"^10[47%A](3|6|9|12)/(u?L)$")
_IU = re.compile(r"^([umµ]?)[l1]U/")
# A bold value with its flag ("33 L") read as "33.L" or "143."; the period is a smudge.
_TRAILING_DOT = re.compile(r"^(\d+(?:\.\d+)?)\.([HL]{1,2})?$")
# Share of isolated dark pixels above which a page is treated as speckled (clean renders: 0;
# the generated noisy scans: 0.0015).
SPECKLE_SHARE = 0.0002
_STRAY = str.maketrans("", "", "‘’'`“”\"")
# A cell border Tesseract glued to a number ("{13.3", "[0.7", "J1.1", "(33", "5.3}"): a value
# is never printed with an unbalanced bracket, so the marks go; "[1]" (an arrow read as a
# digit in brackets, ``ocr_repair``) keeps its brackets.
_EDGED_NUMBER = re.compile(
    r"^[\[{()|}\]J]{1,2}([<>]?-?\d[\d.,]*%?\*?)[}\]|{]?$|^(\d[\d.,]*%?)[}|{]$"
)
_ARROW_DIGIT = re.compile(r"^\[[1l4]\]?$")
# A bracketed flag with a border mark after it ("[H])", "{H])", "[L]|").
_EDGED_FLAG = re.compile(r"^[\[{(]((?:[HL]{1,2}|\*))[\])}][)}\]|J]$")


class TesseractOcr:
    """Reads rendered pages with Tesseract; construct once, call :meth:`read_page` per page.

    Args:
        dpi: rendering resolution.
        config: Tesseract command-line options.
        lang: Tesseract language (``eng`` ships with Debian's ``tesseract-ocr``).
        despeckle: whiten specks (:func:`remove_specks`) on pages that have speckle.

    Raises:
        DependencyMissingError: pytesseract or the ``tesseract`` binary is missing
            (``pip install 'medflow[ocr]'`` and ``apt install tesseract-ocr``).
    """

    engine = "tesseract"

    def __init__(
        self,
        dpi: int = DEFAULT_DPI,
        config: str = DEFAULT_CONFIG,
        lang: str = "eng",
        *,
        despeckle: bool = True,
    ) -> None:
        try:
            import pytesseract
        except ImportError as exc:
            raise DependencyMissingError(
                "OCR of scanned lab reports", "ocr", "pytesseract"
            ) from exc
        if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
            raise DependencyMissingError(
                "OCR of scanned lab reports",
                "ocr",
                "the tesseract binary (apt install tesseract-ocr)",
            )
        self._cmd = str(pytesseract.pytesseract.tesseract_cmd)
        self.despeckle = despeckle
        self.dpi = dpi
        self.config = config
        self.lang = lang

    def read_page(self, page: pypdfium2.PdfPage, number: int) -> PageText:
        """Render one page at ``dpi`` and read its words.

        Args:
            page: an open PDFium page (its size was checked by ``inputcheck.check_renderable``).
            number: its 1-based number.

        Returns:
            the page's lines, with word boxes in points from the top-left corner.
        """
        width, height = page.get_size()
        data, image = self._read(page, self.dpi)
        dpi = self.dpi
        if small_type(data, dpi) and width * height * (SMALL_TYPE_DPI / 72) ** 2 <= (
            SMALL_TYPE_MAX_PX
        ):
            # type too small for the usual resolution: read again, finer, and keep the finer
            # reading unless Tesseract is less sure of it
            fine, fine_image = self._read(page, SMALL_TYPE_DPI)
            if mean_confidence(fine) >= mean_confidence(data) + SMALL_TYPE_MIN_GAIN:
                data, image, dpi = fine, fine_image, SMALL_TYPE_DPI
        lines, angle = _lines_and_skew(data, dpi)
        reread = self._rereader(image, angle, dpi)
        words = self._line_rereader(image, angle, dpi)
        return PageText(number, width, height, lines, ocr=True, reread=reread, reread_words=words)

    def _read(self, page: pypdfium2.PdfPage, dpi: int) -> tuple[dict[str, list[str]], Any]:
        """(Tesseract's word table, the image it read) of ``page`` rendered at ``dpi``; a
        degraded page (see :data:`RETRY_CONFIDENCE`) is read again cleaned and the reading
        Tesseract is surer of is kept."""
        rendered = page.render(scale=dpi / 72, grayscale=True).to_pil()
        image = self._prepare(rendered, dpi)
        data = self.image_to_data(image)
        first = mean_confidence(data)
        if first < RETRY_CONFIDENCE:
            # a degraded scan (faint strokes, grain, JPEG): read it again cleaned, keep the
            # reading Tesseract is surer of
            cleaned = clean_degraded(self._prepare(smooth(rendered), dpi), dpi)
            again = self.image_to_data(cleaned)
            if mean_confidence(again) > first:
                data, image = again, cleaned
        return data, image

    def _rereader(self, image: Any, angle: float, dpi: int) -> Reread:
        """Reads a box of ``image`` (rendered at ``dpi``) again (see :func:`reread_box`);
        ``angle``: the skew the word boxes were turned by (:func:`deskew_lines`), undone to
        find the box. The page's pixels (8 MB at 300 dpi) are held as long as the page is:
        ``parser`` keeps re-reading to the first ``REREAD_MAX_PAGES`` pages of a document."""

        def reread(box: tuple[float, float, float, float], allowed: str) -> list[str]:
            return reread_box(self, image, unskew_box(box, angle), allowed, dpi=dpi)

        return reread

    def _line_rereader(self, image: Any, angle: float, dpi: int) -> RereadWords:
        """Reads a box of ``image`` again as one line of words (:func:`reread_line_words`)."""

        def reread_words(box: tuple[float, float, float, float]) -> list[Word]:
            return reread_line_words(self, image, box, angle, dpi)

        return reread_words

    def _prepare(self, image: Any, dpi: int) -> Any:
        image = deskew_image(image)
        image = remove_rules(image, dpi)
        if self.despeckle and speckle_share(image) > SPECKLE_SHARE:
            image = remove_specks(image)
        return image

    def image_to_data(
        self, image: Any, timeout_s: float = 300.0, config: str | None = None
    ) -> dict[str, list[str]]:
        """Tesseract's word table (TSV) for a PIL image, as columns (pytesseract's DICT shape).

        Tesseract runs as a child process with ``OMP_THREAD_LIMIT=1`` in its own environment.
        ``config``: options instead of the engine's own (a one-line re-read).

        Raises:
            AnalyzerError: Tesseract failed or ran past ``timeout_s``.
        """
        options = shlex.split(self.config if config is None else config)
        with tempfile.TemporaryDirectory(prefix="medflow-ocr-") as tmp:
            png = Path(tmp) / "page.png"
            image.save(png)
            cmd = [self._cmd, str(png), "stdout", "-l", self.lang, *options]
            env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
            try:
                done = subprocess.run(
                    [*cmd, "tsv"], capture_output=True, env=env, timeout=timeout_s, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise AnalyzerError(f"tesseract ran past {timeout_s:.0f} s on one page") from exc
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise AnalyzerError(f"tesseract failed: {reason[-1] if reason else done.returncode}")
        return parse_tsv(done.stdout.decode("utf-8", "replace"))


# Below this mean word confidence (Tesseract's 0-100) a page is read a second time, cleaned
# (:func:`clean_degraded`). On the tuning scans, pages read well scored 90-93 and degraded ones
# (thin strokes broken by blur and JPEG, grain) 37-74; cleaned, those rose to 55-92 and gave
# more values and units right, while on the good pages cleaning lost a few units.
RETRY_CONFIDENCE = 85.0
# Cleaning a degraded page: a 3x3 median on the page as rendered (grain), then, after the
# usual deskew and rule removal, a slight blur and a generous threshold that closes broken
# strokes (sigma in pixels at 300 dpi; grey level out of 255).
CLEAN_BLUR_PX = 0.7
CLEAN_THRESHOLD = 185
# Small type: a page whose body words (the median box height of the words Tesseract is sure
# of, :func:`body_height`) are under SMALL_TYPE_PT points tall is rendered again at
# SMALL_TYPE_DPI and read again, when that stays under SMALL_TYPE_MAX_PX pixels (an A4 page at
# 450 dpi: 19.6 Mpx). At 300 dpi a 7 pt digit is about 20 px tall, the size below which
# Tesseract's misreads of decimal points and 1/7, 5/6 grow (see FINDINGS.md: 200 dpi lost 7 of
# 22 values). On the tuning scans (seeds 200-259) pages whose body measured 5.52 pt (23 px)
# or less read better at 450 dpi (3 of 4; leaders seed 227: 4 more rows found), while both
# pages at 5.76 pt (24 px; seeds 212 and 253) read worse (ranges, a row lost): hence 5.6 pt,
# not 5.8.
SMALL_TYPE_PT = 5.6
SMALL_TYPE_DPI = 450
SMALL_TYPE_MAX_PX = 40_000_000
SMALL_TYPE_MIN_GAIN = 0.0


def small_type(data: dict[str, list[str]], dpi: int) -> bool:
    """Whether the body words of a page read at ``dpi`` are small type (see
    :data:`SMALL_TYPE_PT`)."""
    body = body_height(data) * 72.0 / dpi
    return 0.0 < body < SMALL_TYPE_PT


def mean_confidence(data: dict[str, list[str]]) -> float:
    """Tesseract's mean confidence over the words it read (0 when it read none)."""
    confs = [
        float(c)
        for c, t in zip(data.get("conf", []), data.get("text", []), strict=False)
        if str(t).strip() and float(c) >= 0
    ]
    return sum(confs) / len(confs) if confs else 0.0


def smooth(image: Any) -> Any:
    """A 3x3 median of a grey page: scanner grain and JPEG ringing gone, strokes kept."""
    from PIL import ImageFilter

    return image.filter(ImageFilter.MedianFilter(3))


def clean_degraded(image: Any, dpi: int = DEFAULT_DPI) -> Any:
    """A grey page (rendered at ``dpi``) blurred slightly and thresholded generously: broken
    thin strokes closed, faint grey grain dropped (see :data:`RETRY_CONFIDENCE`)."""
    import numpy as np
    from PIL import Image, ImageFilter

    blur = CLEAN_BLUR_PX * dpi / DEFAULT_DPI
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(blur)))
    return Image.fromarray(np.where(blurred < CLEAN_THRESHOLD, 0, 255).astype(np.uint8))


def parse_tsv(text: str) -> dict[str, list[str]]:
    """Tesseract's TSV output as columns keyed by its header (``text``, ``conf``, ``left``...)."""
    rows = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, [])
    columns: dict[str, list[str]] = {name: [] for name in header}
    for row in rows:
        if len(row) < len(header):  # a structural row with an empty text column
            row = [*row, *[""] * (len(header) - len(row))]
        for name, value in zip(header, row, strict=False):
            columns[name].append(value)
    return columns


def lines_from_data(data: dict[str, list[Any]], dpi: int) -> list[Line]:
    """Group ``image_to_data`` output into lines (Tesseract's own block/paragraph/line ids).

    Tesseract's line ids follow a skewed baseline, which a y-band grouping would not.

    Args:
        data: pytesseract ``Output.DICT``.
        dpi: the resolution the image was rendered at (pixels -> points: 72 / dpi).

    Returns:
        lines top to bottom, words left to right.
    """
    return _lines_and_skew(data, dpi)[0]


def _lines_and_skew(data: dict[str, list[Any]], dpi: int) -> tuple[list[Line], float]:
    """(:func:`lines_from_data`'s lines, the skew angle their boxes were turned by)."""
    grouped = _grouped_lines(data, dpi)
    angle = skew_angle(grouped)
    lines = merge_split_lines(sorted(deskew_lines(grouped, angle), key=lambda ln: ln.top))
    return strip_glued_borders(lines), angle


def _grouped_lines(data: dict[str, list[Any]], dpi: int) -> list[Line]:
    """Tesseract's words cleaned (:func:`clean_word`, junk and stars by shape) and grouped by
    its line ids, in points, before deskewing."""
    scale = 72.0 / dpi
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    body = body_height(data)
    stars = star_marks(data, body)
    for i, raw_text in enumerate(data["text"]):
        text = "*" if i in stars else clean_word(str(raw_text))
        if not text or float(data["conf"][i]) < MIN_CONFIDENCE:
            continue
        if i not in stars and is_leader_junk(
            text, float(data["height"][i]), float(data["conf"][i]), body
        ):
            continue
        left, top = float(data["left"][i]), float(data["top"][i])
        width = float(data["width"][i])
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        start = 0
        for piece in split_glued_flag(text):
            # a flag and the value it was glued to: each its share of the box
            x0 = left + width * start / len(text)
            start += len(piece)
            x1 = left + width * start / len(text)
            word = Word(
                piece,
                x0 * scale,
                top * scale,
                x1 * scale,
                (top + float(data["height"][i])) * scale,
                float(data["conf"][i]),
            )
            grouped.setdefault(key, []).append(word)
    return [Line(sorted(words, key=lambda w: w.x0)) for words in grouped.values()]


# Leader dots and scanner grain that Tesseract reads as words ("eee", "cee", "oe" along a
# degraded dotted leader): on the tuning pages their boxes were 3-5 px tall at 300 dpi, or,
# merged with the grain above them, 33-34 px with a confidence under 40, against 18-26 px for
# the text around them. A word is junk when its box is under FLAT_SHARE of the page's body
# text height and it holds a letter or digit (a dash stays: "-" is 3 px tall), or when it is
# over TALL_SHARE of it, Tesseract's confidence in it is under TALL_CONF and it is made of the
# round small letters dots are read as (mostly e, c, o). A tall box alone is no sign: real
# words with a stroke of a rule or of the line above in their box were 41-42 px on 24-26.
FLAT_SHARE = 0.4
TALL_SHARE = 1.5
TALL_CONF = 50.0
_DASHES = re.compile(r"^[-=~_.,:;·–—]+$")
# What dots look like to Tesseract: round small letters ("eee", "cee", "oo...", "wee").
_DOT_LETTERS = re.compile(r"^[ecowvnast.]{2,}$")
_SHORT_WORDS = frozenset({"to", "sec", "on", "no", "not", "at", "as", "was", "one", "see"})


def body_height(data: dict[str, list[Any]]) -> float:
    """Median box height of the words Tesseract read with confidence 60 or more that hold two
    letters or digits (the page's body text; 0 when there are none)."""
    heights = sorted(
        float(h)
        for t, c, h in zip(data["text"], data["conf"], data["height"], strict=False)
        if float(c) >= 60 and sum(ch.isalnum() for ch in str(t)) >= 2
    )
    return heights[len(heights) // 2] if heights else 0.0


def is_leader_junk(text: str, height: float, conf: float, body: float) -> bool:
    """Whether an OCR word is leader dots or grain read as letters (see :data:`FLAT_SHARE`)."""
    if body <= 0 or _DASHES.match(text):
        return False
    if height < FLAT_SHARE * body:
        return any(ch.isalnum() for ch in text)
    if height <= TALL_SHARE * body or conf >= TALL_CONF or text in _SHORT_WORDS:
        return False
    return bool(_DOT_LETTERS.match(text)) and sum(c in "eco." for c in text) >= 0.6 * len(text)


# A printed asterisk flag is a small glyph at the top of the line; Tesseract reads it as
# "*", or as ":", "-", "z", "2", "3" or a quote mark. On the tuning pages a star's box was
# 0.37-0.56 of the body text height on both sides and its middle 0.27-0.58 body heights above
# the middle of the nearest word beside it (0.27-0.29 for a star alone in a flag column before
# the result, its top level with the digits' tops: seeds 383 and 433, flag_first); dashes,
# colons, letters and digits sit at or below that middle (-0.11 to +0.5), and rule marks
# ("|", "_") are 0.04-0.11 wide.
STAR_SIZE = (0.3, 0.6)
STAR_RISE = 0.2


def star_marks(data: dict[str, list[Any]], body: float) -> set[int]:
    """Indices of the words in Tesseract's table that are asterisks by their shape and place
    (see :data:`STAR_SIZE`), whatever Tesseract read them as."""
    if body <= 0:
        return set()
    lo, hi = STAR_SIZE[0] * body, STAR_SIZE[1] * body
    boxes = [
        (
            i,
            float(data["left"][i]),
            float(data["top"][i]),
            float(data["width"][i]),
            float(data["height"][i]),
        )
        for i, t in enumerate(data["text"])
        if str(t).strip() and float(data["conf"][i]) >= 0
    ]
    normal = [
        b
        for b in boxes
        if 0.7 * body <= b[4] <= 1.3 * body and any(c.isalnum() for c in str(data["text"][b[0]]))
    ]
    out: set[int] = set()
    for i, left, top, width, height in boxes:
        if len(str(data["text"][i]).strip()) > 2 or not (lo <= height <= hi and lo <= width <= hi):
            continue
        beside = None
        for _, l2, t2, w2, h2 in normal:
            if t2 > top + height + 0.5 * body or t2 + h2 < top - 0.5 * body:
                continue
            gap = left - (l2 + w2) if l2 < left else l2 - (left + width)
            if gap >= -2 and (beside is None or gap < beside[0]):
                beside = (gap, t2 + h2 / 2)
        if beside is not None and beside[1] - (top + height / 2) >= STAR_RISE * body:
            out.add(i)
    return out


# A bracketed flag Tesseract read with no space before the value ("[T]113" for "[↑] 113") or
# after it ("3.3[1]" for "3.3 [↓]", leaders tuning seed 377: the row was not read). One digit
# in brackets is an arrow read as a digit, never part of the number ("[3]6.4" for a bold
# "[↓] 6.4", two_column tuning seed 309: the value was taken as 36.4).
_GLUED_FLAG = re.compile(r"^(\[[^\]\s\d]{1,2}\]|\[\d\])(-?\d[\d.,]*%?)$")
_FLAG_AFTER = re.compile(r"^(-?\d[\d.,]*%?)(\[[^\]\s\d]{1,2}\]|\[\d\])$")


def split_glued_flag(text: str) -> list[str]:
    """``text`` as the words it holds: ``[T]113`` -> ``["[T]", "113"]``, ``3.3[1]`` ->
    ``["3.3", "[1]"]``; other words whole."""
    m = _GLUED_FLAG.match(text) or _FLAG_AFTER.match(text)
    return [m.group(1), m.group(2)] if m else [text]


def _middle(line: Line) -> float:
    mids = sorted(w.middle for w in line.words)
    return mids[len(mids) // 2]


def merge_split_lines(lines: list[Line]) -> list[Line]:
    """Lines Tesseract split at a wide gap but that lie on one printed row, joined.

    Tesseract sometimes ends a line at a wide table gap and starts another for the rest of the
    row (a header's ``Test`` apart from ``Result Units Range``; a value apart from its name).
    Two lines are one row when their middles lie within 0.35 line heights of each other (the
    band a text layer's words are grouped by, ``words.group_lines``) and their words do not
    overlap across the page; the text layer of the same page would give one line.

    Args:
        lines: deskewed lines, top to bottom.

    Returns:
        the lines with split rows joined, top to bottom.
    """
    out: list[Line] = []
    for line in lines:
        band = 0.35 * line.height
        for k in range(len(out) - 1, max(len(out) - 4, -1), -1):
            prev = out[k]
            near = abs(_middle(prev) - _middle(line)) <= max(band, 0.35 * prev.height)
            apart = line.x0 >= prev.x1 - 1 or line.x1 <= prev.x0 + 1
            if near and apart:
                out[k] = Line(sorted(prev.words + line.words, key=lambda w: w.x0))
                break
        else:
            out.append(line)
    return sorted(out, key=lambda ln: ln.top)


# Skew below this (degrees) is left alone; above the limit it is not a scan's skew.
MIN_SKEW_DEG = 0.2
MAX_SKEW_DEG = 6.0


def skew_angle(lines: list[Line]) -> float:
    """The page's skew in radians: the median slope of word bottoms along lines with three or
    more words spread over 100 pt or more (0.0 when there are too few)."""
    slopes: list[float] = []
    for line in lines:
        ws = line.words
        if len(ws) < 3 or ws[-1].x1 - ws[0].x0 < 100:
            continue
        xs = [(w.x0 + w.x1) / 2 for w in ws]
        ys = [w.bottom for w in ws]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        if var > 0:
            slopes.append(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var)
    if len(slopes) < 3:
        return 0.0
    slopes.sort()
    return math.atan(slopes[len(slopes) // 2])


def unskew_box(
    box: tuple[float, float, float, float], angle: float
) -> tuple[float, float, float, float]:
    """A deskewed box (:func:`deskew_lines`) back where it lies on the image as read: its
    centre turned back by ``angle``, its size kept."""
    if not MIN_SKEW_DEG < abs(math.degrees(angle)) < MAX_SKEW_DEG:
        return box
    x0, top, x1, bottom = box
    nx, ny = (x0 + x1) / 2, (top + bottom) / 2
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = nx * cos - ny * sin, nx * sin + ny * cos
    hw, hh = (x1 - x0) / 2, (bottom - top) / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


# A re-read: the box padded by this share of its height on every side, enlarged
# REREAD_SCALE times on a white frame, then read at each of REREAD_SIZES of that (1 is the
# page's own 300 dpi) as one line and as one word (``--psm 7`` and ``8``) with only the
# characters asked for. On the tuning crops no one setting read every clear value right
# ("1.33" came back empty at one size and as "135" at another), so each reading is a vote.
REREAD_PAD = 0.35
REREAD_SCALE = 3
REREAD_SIZES = (1 / 3, 1 / 2, 1.0)
REREAD_PSM = (7, 8)


def reread_box(
    engine: TesseractOcr,
    image: Any,
    box: tuple[float, float, float, float],
    allowed: str,
    *,
    dpi: int | None = None,
) -> list[str]:
    """The readings of ``box`` (points) of a page ``image`` (rendered at ``dpi``, the
    engine's own when None) read again (see :data:`REREAD_SIZES`), one per setting, ``""``
    where Tesseract read nothing; no reading when the box is empty or off the page."""
    from PIL import Image

    cut = _crop(image, box, (dpi or engine.dpi) / 72.0)
    if cut is None:
        return []
    crop = cut[0]
    big = crop.resize(
        (crop.width * REREAD_SCALE, crop.height * REREAD_SCALE), Image.Resampling.LANCZOS
    )
    framed = Image.new("L", (big.width + 40, big.height + 40), 255)
    framed.paste(big, (20, 20))
    allowed = allowed.replace(" ", "")
    readings: list[str] = []
    for size in REREAD_SIZES:
        sized = framed.resize(
            (max(1, round(framed.width * size)), max(1, round(framed.height * size))),
            Image.Resampling.LANCZOS,
        )
        for psm in REREAD_PSM:
            config = f"--psm {psm} -c tessedit_char_whitelist={allowed}"
            try:
                data = engine.image_to_data(sized, timeout_s=60.0, config=config)
            except AnalyzerError as exc:
                # A re-read is one more vote on a cell the page read already: Tesseract dying
                # on one setting (SIGFPE on a sliver of a box, seen on a held-out scan) costs
                # that vote, never the document.
                log.warning("re-read of a %dx%d box (%s) failed: %s", *sized.size, config, exc)
                readings.append("")
                continue
            readings.append(" ".join(t.strip() for t in data.get("text", []) if t.strip()))
    return readings


def _crop(
    image: Any, box: tuple[float, float, float, float], px: float
) -> tuple[Any, int, int] | None:
    """(the crop, its left and top pixel) of ``box`` (points; ``px`` pixels per point) padded
    by :data:`REREAD_PAD` of its height; None when that is empty or off the page."""
    x0, top, x1, bottom = (v * px for v in box)
    pad = REREAD_PAD * (bottom - top)
    left, upper = max(0, int(x0 - pad)), max(0, int(top - pad))
    right, lower = min(image.width, int(x1 + pad) + 1), min(image.height, int(bottom + pad) + 1)
    if right - left < 2 or lower - upper < 2:
        return None
    return image.crop((left, upper, right, lower)), left, upper


# A line re-read as words: the padded box at the page's own resolution on a white frame of
# LINE_FRAME_PX, read as one line (``--psm 7``) with every character allowed. On held-out seed
# 100027 (a leaders page, 300 dpi) this gave "Total RBC Count ... 5.15 million/cumm" word for
# word where the page's reading had kept only the range of that row.
LINE_FRAME_PX = 20


def reread_line_words(
    engine: TesseractOcr, image: Any, box: tuple[float, float, float, float], angle: float, dpi: int
) -> list[Word]:
    """The words Tesseract reads in ``box`` (deskewed points, see :func:`deskew_lines`) of a
    page ``image`` rendered at ``dpi`` and turned by ``angle``, as one line: each word placed
    in the deskewed frame (shifted with the box; a band a few points tall barely turns) and
    kept only when its middle lies inside ``box`` (the padding can catch a neighbour's edge).
    A Tesseract failure reads nothing."""
    from PIL import Image

    px = dpi / 72.0
    at = unskew_box(box, angle)
    cut = _crop(image, at, px)
    if cut is None:
        return []
    crop, left, _upper = cut
    framed = Image.new("L", (crop.width + 2 * LINE_FRAME_PX, crop.height + 2 * LINE_FRAME_PX), 255)
    framed.paste(crop, (LINE_FRAME_PX, LINE_FRAME_PX))
    try:
        data = engine.image_to_data(framed, timeout_s=60.0, config="--psm 7")
    except AnalyzerError as exc:
        log.warning("re-read of a line box failed: %s", exc)
        return []
    shift = box[0] - at[0]
    words: list[Word] = []
    for text, x, w, conf in zip(
        data.get("text", []),
        data.get("left", []),
        data.get("width", []),
        data.get("conf", []),
        strict=False,
    ):
        if not text.strip():
            continue
        x0 = (int(x) - LINE_FRAME_PX + left) / px + shift
        x1 = x0 + int(w) / px
        if box[0] <= (x0 + x1) / 2 <= box[2]:
            words.append(Word(text.strip(), x0, box[1], x1, box[3], float(conf)))
    return words


def deskew_lines(lines: list[Line], angle: float | None = None) -> list[Line]:
    """``lines`` with every word box rotated by the page's skew (``angle``, or
    :func:`skew_angle` of ``lines``), so a column keeps one x-extent from the top of the page
    to the bottom."""
    if angle is None:
        angle = skew_angle(lines)
    if not MIN_SKEW_DEG < abs(math.degrees(angle)) < MAX_SKEW_DEG:
        return lines
    cos, sin = math.cos(angle), math.sin(angle)
    out: list[Line] = []
    for line in lines:
        words = []
        for w in line.words:
            cx, cy = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
            nx, ny = cx * cos + cy * sin, -cx * sin + cy * cos
            hw, hh = (w.x1 - w.x0) / 2, (w.bottom - w.top) / 2
            words.append(Word(w.text, nx - hw, ny - hh, nx + hw, ny + hh, w.conf))
        out.append(Line(sorted(words, key=lambda w: w.x0)))
    return out


def _dark_neighbours(image: Any) -> tuple[Any, Any]:
    """(dark mask, count of dark 8-neighbours per pixel) of a grey image."""
    import numpy as np

    dark = np.asarray(image) < 128
    padded = np.pad(dark, 1)
    h, w = dark.shape
    neighbours = sum(
        padded[1 + dy : h + 1 + dy, 1 + dx : w + 1 + dx].astype(np.uint8)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )
    return dark, neighbours


def speckle_share(image: Any) -> float:
    """Share of dark pixels with at most one dark neighbour (scanner speckle) in a grey image."""
    dark, neighbours = _dark_neighbours(image)
    return float((dark & (neighbours <= 1)).mean())


def remove_specks(image: Any) -> Any:
    """Whiten dark specks of one to three pixels; glyphs and decimal points (a 300 dpi period
    is a blob of a dozen pixels) are untouched, unlike with a median filter."""
    import numpy as np
    from PIL import Image

    dark, neighbours = _dark_neighbours(image)
    pixels = np.asarray(image).copy()
    pixels[dark & (neighbours <= 2)] = 255
    return Image.fromarray(pixels)


# Below this skew (degrees) the image is left as scanned: Tesseract's line finding copes, and
# turning the image resamples it (on the noisy fixture scans, turned back by 0.75 degrees, the
# unit field fell from 100% to 85%); the word boxes are still deskewed (deskew_lines).
IMAGE_DESKEW_MIN_DEG = 1.5
# Skew search: angles tried (degrees) on a quarter-size image; below MIN_SKEW_DEG nothing turns.
SKEW_SEARCH = tuple(x / 4 for x in range(-24, 25))


def estimate_skew(image: Any) -> float:
    """The rotation in degrees (counter-clockwise) that squares the page, by projection
    profile: the one that makes the dark
    pixels' row sums most peaked (text lines and rules horizontal)."""
    import numpy as np
    from PIL import Image

    small = image.convert("L").reduce(4)
    best, best_score = 0.0, -1.0
    for angle in SKEW_SEARCH:
        turned = small.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=255)
        rows = (np.asarray(turned) < 128).sum(axis=1).astype(np.float64)
        score = float(np.square(np.diff(rows)).sum())
        if score > best_score:
            best, best_score = angle, score
    return best


def deskew_image(image: Any) -> Any:
    """``image`` turned square when it was scanned askew (:func:`estimate_skew`)."""
    from PIL import Image

    angle = estimate_skew(image)
    if abs(angle) < IMAGE_DESKEW_MIN_DEG:
        return image
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)


# Table rules: dark runs longer than any glyph (in inches), found on a mask thickened across
# the run by RULE_SLACK pixels so that a rule on a page scanned a few degrees askew still runs on.
RULE_MIN_H_IN = 0.3
RULE_MIN_V_IN = 0.17
RULE_SLACK = 2


def _runs(mask: Any, length: int) -> Any:
    """Pixels of a 2-D boolean ``mask`` inside a horizontal run of at least ``length``."""
    import numpy as np

    rows, n = mask.shape
    if n < length:
        return np.zeros_like(mask)
    csum = np.zeros((rows, n + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, out=csum[:, 1:])
    starts = (csum[:, length:] - csum[:, : n - length + 1]) == length  # a run starts at j
    fsum = np.zeros((rows, n + 1), dtype=np.int32)
    np.cumsum(starts, axis=1, out=fsum[:, 1 : n - length + 2])
    fsum[:, n - length + 2 :] = fsum[:, n - length + 1 : n - length + 2]
    # pixel i is covered when a run starts in [i - length + 1, i]
    covered = np.empty((rows, n), dtype=bool)
    covered[:, : length - 1] = (fsum[:, 1:length] - fsum[:, :1]) > 0
    covered[:, length - 1 :] = (fsum[:, length:] - fsum[:, : n - length + 1]) > 0
    return covered


def _thicken(mask: Any, axis: int, slack: int) -> Any:
    import numpy as np

    out = mask.copy()
    for shift in range(1, slack + 1):
        out |= np.roll(mask, shift, axis=axis) | np.roll(mask, -shift, axis=axis)
    return out


# Dotted leaders: flat marks (no taller than LEADER_MAX_H_IN) in a row at least RULE_MIN_H_IN
# long, with gaps up to LEADER_GAP_IN between them.
LEADER_MAX_H_IN = 0.025
LEADER_GAP_IN = 0.05


def _leaders(dark: Any, dpi: int) -> Any:
    """Pixels of dotted leaders (``Ferritin ........ 18``), which Tesseract reads as letters:
    small isolated marks (few dark pixels in the box around them, unlike any stroke of a
    letter) lined up over a run longer than a word."""
    import numpy as np

    r = max(2, int(0.018 * dpi))  # box half-size: 5 px at 300 dpi
    k = 2 * r + 1
    padded = np.pad(dark, r)
    integral = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(padded, axis=0, dtype=np.int32), axis=1, out=integral[1:, 1:])
    box = integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]
    flat = dark & (box <= int((2 * r + 1) ** 2 * 0.25))
    bridged = _thicken(flat, 1, int(LEADER_GAP_IN * dpi) // 2)
    region = _runs(bridged, int(RULE_MIN_H_IN * dpi))
    out: Any = region & flat
    return out


RULE_MAX_THICK_IN = 0.03  # a rule is a thin line; a filled block or a bold glyph is not


def _thin(dark: Any, limit: int) -> Any:
    """Dark pixels with at most ``limit`` dark pixels in the column window of +-limit around
    them (part of something thinner than ``limit``, measured across the rows)."""
    import numpy as np

    rows = dark.shape[0]
    csum = np.zeros((rows + 1, dark.shape[1]), dtype=np.int32)
    np.cumsum(dark, axis=0, out=csum[1:])
    idx = np.arange(rows)
    lo, hi = np.maximum(idx - limit, 0), np.minimum(idx + limit + 1, rows)
    out: Any = (csum[hi] - csum[lo]) <= limit
    return out


def remove_rules(image: Any, dpi: int) -> Any:
    """Whiten table rules (grid lines, cell borders) that Tesseract reads as ``|``, ``[``, ``1``
    or lets run into the digits beside them; glyphs are shorter than the runs removed."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image)
    dark = pixels < 192  # a thin rule is grey once scanned and blurred
    h_len, v_len = int(RULE_MIN_H_IN * dpi), int(RULE_MIN_V_IN * dpi)
    thin = int(RULE_MAX_THICK_IN * dpi)
    horiz = _runs(_thicken(dark, 0, RULE_SLACK + 1), h_len) & _thin(dark, thin)
    vert = _runs(_thicken(dark, 1, RULE_SLACK).T, v_len).T & _thin(dark.T, thin).T
    rules = (horiz | vert) & dark
    rules |= _leaders(pixels < 160, dpi)
    if not rules.any():
        return image
    out = pixels.copy()
    out[_thicken(_thicken(rules, 0, 1), 1, 1)] = 255
    return Image.fromarray(out)


@cache
def _word_fixes() -> dict[str, str]:
    text = resources.files("medflow.analyzers.labs").joinpath("data/ocr_fixes.yaml")
    data: dict[str, dict[str, str]] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["words"].items()}


def clean_word(text: str) -> str:
    """Undo Tesseract slips that cannot change a correct reading (``46:0`` -> ``46.0``)."""
    text = text.strip().translate(_STRAY)
    text = _COLON_DECIMAL.sub(r"\1\2.\3", text)
    text = _POWER_UNIT.sub(lambda m: f"x10^{m[1] or m[2]}/{m[3]}", text)
    text = _BARE_POWER_UNIT.sub(r"10^\1/\2", text)
    text = _IU.sub(r"\1IU/", text)
    text = _TRAILING_DOT.sub(r"\1\2", text)
    text = _EDGED_FLAG.sub(r"[\1]", text)
    edged = _EDGED_NUMBER.match(text)
    if edged and not _ARROW_DIGIT.match(text):
        text = edged.group(1) or edged.group(2)
    return _word_fixes().get(text, text)
