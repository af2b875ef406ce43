"""Inline SVG charts for the trends page: one small line chart per biomarker.

Drawn as SVG text so pages need no JavaScript library and no network; every label goes through
the template's autoescaping (the numbers are formatted here, never raw user text).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from medflow.platform.db import Observation

WIDTH = 360
HEIGHT = 120
PAD = 24


@dataclass(frozen=True)
class Series:
    """One biomarker across a patient's reports.

    Attributes:
        name: display name.
        unit: the unit of every point (points in other units are left out).
        points: (label, value, flag) in time order.
        ref_low: the reference lower limit, if known.
        ref_high: the reference upper limit, if known.
    """

    name: str
    unit: str
    points: tuple[tuple[str, float, str], ...]
    ref_low: float | None
    ref_high: float | None

    def scale(self) -> tuple[float, float]:
        """The value axis' (low, high), padded so the range band and points fit."""
        values = [v for _, v, _ in self.points]
        values += [x for x in (self.ref_low, self.ref_high) if x is not None]
        lo, hi = min(values), max(values)
        span = (hi - lo) or abs(hi) or 1.0
        return lo - span * 0.1, hi + span * 0.1

    def y(self, value: float) -> float:
        """The SVG y coordinate of ``value``."""
        lo, hi = self.scale()
        return HEIGHT - PAD - (value - lo) / (hi - lo) * (HEIGHT - 2 * PAD)

    def coords(self) -> list[tuple[float, float, str, str, str]]:
        """(x, y, label, value text, flag) of each point."""
        n = len(self.points)
        step = (WIDTH - 2 * PAD) / max(n - 1, 1)
        return [
            (PAD + i * step if n > 1 else WIDTH / 2, self.y(v), label, f"{v:g}", flag)
            for i, (label, v, flag) in enumerate(self.points)
        ]

    def polyline(self) -> str:
        """The ``points`` attribute of the line through every point."""
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, *_ in self.coords())

    def band(self) -> tuple[float, float] | None:
        """(y top, height) of the reference-range band, when both limits are known."""
        if self.ref_low is None or self.ref_high is None:
            return None
        top = self.y(self.ref_high)
        return top, self.y(self.ref_low) - top


def series_of(observations: list[Observation]) -> list[Series]:
    """Group observations by test (LOINC, else name) into series with at least one numeric
    point, in the unit of the latest point, sorted by name."""
    groups: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.value is not None:
            groups[obs.loinc or obs.test_id or obs.name].append(obs)
    out: list[Series] = []
    for items in groups.values():
        unit = items[-1].unit
        same_unit = [o for o in items if o.unit == unit]
        points = tuple(
            (
                o.collected_at.date().isoformat() if o.collected_at else o.document_id[:6],
                float(o.value),
                o.flag,
            )
            for o in same_unit
            if o.value is not None
        )
        last = same_unit[-1]
        out.append(Series(last.name, unit, points, last.ref_low, last.ref_high))
    return sorted(out, key=lambda s: s.name.lower())
