"""The imaging report as one self-contained HTML page (thumbnails inline as base64 PNG)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from medflow.domain.imaging import ImagingReport


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("medflow.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_imaging_html(report: ImagingReport, title: str = "Imaging report") -> str:
    """Render the report: per study and series, each image's thumbnail, metadata, quality
    checks, model findings (with heat maps of positive findings) and the models' provenance,
    then the files that could not be analysed and why.

    Args:
        report: the analysis result.
        title: the page title.

    Returns:
        The HTML page; every value is escaped, every image is inline (no external requests).
    """
    template = _environment().get_template("imaging/report.html.j2")
    by_source = {a.metadata.source: a for a in report.images}
    return template.render(title=title, report=report, by_source=by_source)
