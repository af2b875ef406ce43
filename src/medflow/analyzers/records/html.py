"""The HTML data-quality page: decision, counts, and a bar chart of failures per column.

The chart is inline SVG drawn here, so the page is one self-contained file with no plotting
library and no script.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from medflow.analyzers.records.report import InsightReport

_BAR_H, _GAP, _LABEL_W, _PLOT_W = 18, 6, 170, 420


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("medflow.analyzers.records", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )


def failures_chart(column_failures: dict[str, int]) -> Markup:
    """A horizontal bar chart (SVG) of failures per column, largest first."""
    items = sorted(((c, n) for c, n in column_failures.items() if n > 0), key=lambda kv: -kv[1])
    if not items:
        return Markup("<p>No failures.</p>")
    top = max(n for _, n in items)
    height = len(items) * (_BAR_H + _GAP) + _GAP
    width = _LABEL_W + _PLOT_W + 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="failures per column">'
    ]
    for i, (col, n) in enumerate(items):
        y = _GAP + i * (_BAR_H + _GAP)
        w = max(1, round(_PLOT_W * n / top))
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(col)}</text>"
            f'<rect x="{_LABEL_W}" y="{y}" width="{w}" height="{_BAR_H}" fill="#c0392b">'
            f"<title>{escape(col)}: {n}</title></rect>"
            f'<text x="{_LABEL_W + w + 4}" y="{y + 13}" font-size="12">{n:,}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def render_html(report: InsightReport) -> str:
    """The report as a self-contained HTML page."""
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    template = _env().get_template("report.html.j2")
    return template.render(
        r=report,
        chart=failures_chart(report.column_failures),
        delimiter=names.get(report.delimiter, report.delimiter),
    )
