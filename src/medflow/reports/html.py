"""The lab report as one self-contained HTML page a doctor would want to read.

Critical values first in a banner, then the summary (findings with their evidence and guideline,
the checked narrative when there is one), every result by section with its flag as a coloured
badge and its value drawn against its range as an inline SVG, the noise set aside, changes over
time. Styles are inline, there are no scripts, images or fonts to fetch: it opens offline, from
an email attachment or a bucket, and prints cleanly.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from medflow.domain.labs import LabReport
from medflow.reports.labs_view import (
    FLAG_LABELS,
    critical_results,
    display_unit,
    display_value,
    flag_text,
    held_results,
    number,
    range_bar,
    range_source,
    range_text,
    sections,
    sparkline,
    unread_text,
)

log = logging.getLogger(__name__)

_SAFE_SCHEMES = frozenset({"", "http", "https", "mailto"})


@lru_cache(maxsize=1)
def lab_environment() -> Environment:
    """The Jinja2 environment of the lab templates (autoescaping on, helpers registered)."""
    env = Environment(
        loader=PackageLoader("medflow.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["unit"] = display_unit
    env.filters["num"] = number
    env.globals.update(
        flag_labels=FLAG_LABELS,
        bar=range_bar,
        value=display_value,
        rtext=range_text,
        spark=sparkline,
        rsource=range_source,
        flagtext=flag_text,
    )
    return env


def safe_links(links: dict[str, str] | None) -> list[tuple[str, str]]:
    """The links worth rendering: http(s), mailto and relative URLs; others are dropped.

    A ``javascript:`` or ``data:`` URL survives HTML escaping, so the scheme is checked here.
    """
    kept: list[tuple[str, str]] = []
    for label, url in (links or {}).items():
        if urlsplit(url.strip()).scheme.lower() in _SAFE_SCHEMES:
            kept.append((label, url.strip()))
        else:
            log.warning("dropped a link with an unsafe scheme from a lab report (%s)", label)
    return kept


def render_lab_html(
    report: LabReport, *, title: str = "Laboratory report", links: dict[str, str] | None = None
) -> str:
    """Render a lab report as a self-contained HTML page.

    Args:
        report: the interpreted report.
        title: the page title and heading.
        links: label -> URL shown under the header (e.g. ``{"FHIR": ".../bundle.json"}``);
            only http(s), mailto and relative URLs are kept.

    Returns:
        The HTML page; every value from the report is escaped; no external requests.
    """
    template = lab_environment().get_template("labs/report.html.j2")
    return template.render(
        title=title,
        report=report,
        critical=critical_results(report),
        held=held_results(report),
        unread=unread_text(report),
        sections=sections(report),
        links=safe_links(links),
    )
