"""What the lab HTML page and the doctor's email show: ordering, display strings, range bars.

Kept apart from the templates so the decisions (what comes first, how a censored value is drawn)
are plain functions with tests, and the templates only lay them out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from medflow.domain.labs import Flag, LabReport, LabResult, Significance

FLAG_LABELS: dict[Flag, str] = {
    Flag.NORMAL: "Normal",
    Flag.LOW: "Low",
    Flag.HIGH: "High",
    Flag.CRITICAL_LOW: "Critical low",
    Flag.CRITICAL_HIGH: "Critical high",
    Flag.ABNORMAL: "Abnormal",
}

_SIGNIFICANCE_ORDER = {
    Significance.CRITICAL: 0,
    Significance.REVIEW: 1,
    Significance.SIGNIFICANT: 2,
    Significance.NOISE: 3,
    Significance.NORMAL: 4,
}
_SOURCE_SHORT = {"report": "report", "knowledge_base": "knowledge base", "lab_config": "lab"}

# UCUM writes micro as "u" and powers as "10*3" (UCUM 2.2 section 4.2); people read µ and 10³.
_MICRO = re.compile(r"(?<![A-Za-z])u(?=(L|g|mol|IU|U|m)\b)")
_POWER = re.compile(r"10\*(\d+)")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_unit(ucum: str) -> str:
    """A UCUM unit as people read it: ``10*3/uL`` -> ``10³/µL``, ``{cells}/uL`` -> ``cells/µL``."""
    out = _POWER.sub(lambda m: "10" + m.group(1).translate(_SUPERSCRIPT), ucum)
    out = _MICRO.sub("µ", out)
    return out.replace("{", "").replace("}", "")


def number(value: float) -> str:
    """A value without float noise or trailing zeros (``412.0`` -> ``412``, ``6.90`` -> ``6.9``)."""
    return f"{value:.6g}"


def display_value(result: LabResult) -> str:
    """The value as it should read: comparator kept (``<0.5``), qualitative words as printed."""
    if result.value is None:
        return result.value_text
    return f"{result.comparator or ''}{number(result.value)}"


def range_text(result: LabResult) -> str:
    """The reference range in words (the printed text when there is one)."""
    ref = result.reference_range
    if ref is None:
        return ""
    if ref.text:
        return ref.text
    if ref.low is not None and ref.high is not None:
        return f"{number(ref.low)}–{number(ref.high)}"
    if ref.high is not None:
        return f"< {number(ref.high)}"
    if ref.low is not None:
        return f"> {number(ref.low)}"
    return ""


def range_source(result: LabResult) -> str:
    """Where the range came from, in words: ``printed on the report``, the laboratory's
    configured range, or the knowledge base with its source; ``""`` when there is no range."""
    ref = result.reference_range
    if ref is None:
        return ""
    if ref.source_detail:
        return ref.source_detail
    return {
        "report": "printed on the report",
        "knowledge_base": "medflow knowledge base",
        "lab_config": "the laboratory's configured range",
    }[ref.source]


def range_source_short(result: LabResult) -> str:
    """The range's origin in one word or two, for narrow table columns."""
    ref = result.reference_range
    return "" if ref is None else _SOURCE_SHORT[ref.source]


def flag_text(result: LabResult) -> str:
    """The flag as a table cell: the computed code, with a disagreeing printed flag beside it
    (``"N (printed H)"``)."""
    if result.printed_flag and result.flag_disagreement:
        return f"{result.flag.value} (printed {result.printed_flag})"
    return result.flag.value


def held_results(report: LabReport) -> list[LabResult]:
    """The values held for review (implausible as read), in printed order."""
    return [r for r in report.results if r.significance is Significance.REVIEW]


def unread_text(report: LabReport) -> list[str]:
    """The rows not read or not recognised, each as printed on one line."""
    out = []
    for row in report.unrecognized:
        if row.line.strip():
            out.append(" ".join(row.line.split()))
        else:
            cells = (row.name, row.value_text, row.flag_text, row.unit_text, row.range_text)
            out.append(" ".join(c.strip() for c in cells if c.strip()))
    return out


def critical_results(report: LabReport) -> list[LabResult]:
    """The results beyond a critical limit, in printed order."""
    return [r for r in report.results if r.significance is Significance.CRITICAL]


def results_by_priority(report: LabReport) -> list[LabResult]:
    """Critical first, then significant, noise and normal; printed order within each."""
    return sorted(report.results, key=lambda r: _SIGNIFICANCE_ORDER[r.significance])


def sections(report: LabReport) -> list[tuple[str, list[LabResult]]]:
    """The results grouped by their printed section, sections in first-seen order."""
    groups: dict[str, list[LabResult]] = {}
    for r in report.results:
        groups.setdefault(r.section or "Other tests", []).append(r)
    return list(groups.items())


@dataclass(frozen=True)
class RangeBar:
    """Geometry of one value drawn against its range, in SVG user units.

    Attributes:
        width: the drawing's width (height is fixed by the template).
        band_x0, band_x1: the reference band; it reaches the edge when the range is one-sided.
        marker_x: where the value sits.
        low_label, high_label: the limits as text ("" for an open side).
        position: where the value falls: below, within or above the band.
        censored: the value is a limit (``<0.5``): draw an arrow towards ``censored_dir``.
        censored_dir: ``left`` for ``<``/``<=``, ``right`` for ``>``/``>=``.
        off_scale: the value lies beyond the drawn scale; the marker sits at the edge.
    """

    width: float
    band_x0: float
    band_x1: float
    marker_x: float
    low_label: str
    high_label: str
    position: Literal["below", "within", "above"]
    censored: bool
    censored_dir: Literal["left", "right"] | None
    off_scale: bool


def range_bar(result: LabResult, width: float = 160.0, pad: float = 8.0) -> RangeBar | None:
    """Where to draw ``result``'s value against its reference range.

    The scale shows the band with half its width on each side (two-sided ranges), or 0 to 1.5x
    the limit (one-sided ranges), widened to include the value up to twice that extent; a value
    further out is pinned to the edge and marked ``off_scale`` so one extreme value does not
    squash the band to a line.

    Returns:
        The geometry, or None for a qualitative value or a result with no numeric range.
    """
    ref = result.reference_range
    if result.value is None or ref is None or (ref.low is None and ref.high is None):
        return None
    low, high, value = ref.low, ref.high, result.value
    if low is not None and high is not None and high > low:
        span = high - low
        lo_scale, hi_scale = low - span / 2, high + span / 2
        if low >= 0:
            lo_scale = max(lo_scale, 0.0)
    else:
        limit = high if high is not None else low
        assert limit is not None
        lo_scale, hi_scale = 0.0, abs(limit) * 1.5 or 1.0
    extent = hi_scale - lo_scale
    # Widen to show the value with a little room past it, but never beyond one more extent.
    room = 0.08 * extent
    lo_scale = min(lo_scale, max(value - room, lo_scale - extent))
    hi_scale = max(hi_scale, min(value + room, hi_scale + extent))

    def x(v: float) -> float:
        frac = (v - lo_scale) / (hi_scale - lo_scale)
        return round(pad + min(max(frac, 0.0), 1.0) * (width - 2 * pad), 1)

    if value < (low if low is not None else float("-inf")):
        position: Literal["below", "within", "above"] = "below"
    elif value > (high if high is not None else float("inf")):
        position = "above"
    else:
        position = "within"
    comparator = result.comparator
    return RangeBar(
        width=width,
        band_x0=x(low) if low is not None else pad,
        band_x1=x(high) if high is not None else width - pad,
        marker_x=x(value),
        low_label=number(low) if low is not None else "",
        high_label=number(high) if high is not None else "",
        position=position,
        censored=comparator is not None,
        censored_dir=None if comparator is None else ("left" if "<" in comparator else "right"),
        off_scale=not lo_scale <= value <= hi_scale,
    )


def sparkline(
    points: Sequence[tuple[datetime, float]], width: float = 120.0, height: float = 28.0
) -> list[tuple[float, float]]:
    """SVG coordinates of a trend's values, time on x (proportional to dates), value on y.

    Returns:
        One (x, y) per point, y growing downwards as in SVG; empty for fewer than two points.
    """
    if len(points) < 2:
        return []
    pad = 4.0
    t0 = points[0][0].timestamp()
    t_span = (points[-1][0].timestamp() - t0) or 1.0
    values = [v for _, v in points]
    v_min, v_span = min(values), (max(values) - min(values)) or 1.0
    return [
        (
            round(pad + (when.timestamp() - t0) / t_span * (width - 2 * pad), 1),
            round(height - pad - (v - v_min) / v_span * (height - 2 * pad), 1),
        )
        for when, v in points
    ]
