"""Terminal rendering of lab results with rich: the results table and the summary."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from medflow.domain import Flag, LabReport, Significance
from medflow.reports.labs_view import flag_text, range_source_short, range_text

_FLAG_STYLE = {
    Flag.NORMAL: "green",
    Flag.LOW: "yellow",
    Flag.HIGH: "yellow",
    Flag.ABNORMAL: "yellow",
    Flag.CRITICAL_LOW: "bold white on red",
    Flag.CRITICAL_HIGH: "bold white on red",
}
_SIGNIFICANCE_STYLE = {
    Significance.NORMAL: "dim",
    Significance.NOISE: "cyan",
    Significance.SIGNIFICANT: "bold yellow",
    Significance.CRITICAL: "bold red",
    Significance.REVIEW: "bold magenta",
}


def results_table(report: LabReport, *, title: str | None = None) -> Table:
    """Every test with value, unit, range, flag and significance, in printed order."""
    table = Table(title=title, header_style="bold", expand=False)
    table.add_column("Test")
    table.add_column("LOINC", style="dim")
    table.add_column("Value", justify="right")
    table.add_column("Unit")
    table.add_column("Range")
    table.add_column("Range from", style="dim")
    table.add_column("Flag", justify="center")
    table.add_column("Significance")
    for r in report.results:
        table.add_row(
            r.name,
            r.loinc or "",
            r.value_text,
            r.unit or r.printed_unit,
            range_text(r),
            range_source_short(r),
            Text(flag_text(r), style=_FLAG_STYLE[r.flag]),
            Text(r.significance.value, style=_SIGNIFICANCE_STYLE[r.significance]),
        )
    for row in report.unrecognized:
        table.add_row(
            Text(
                f"{row.name if row.value_text else row.line or row.name} (not recognised)",
                style="italic",
            ),
            "",
            row.value_text,
            row.unit_text,
            row.range_text,
            "report" if row.range_text else "",
            row.flag_text,
            Text("not read", style="bold magenta"),
        )
    return table


def summary_panel(report: LabReport) -> Panel:
    """The diagnostic summary as a panel: headline and the explained text."""
    summary = report.summary
    text = summary.text
    if text.startswith(summary.headline):  # the text opens with its own headline
        text = text[len(summary.headline) :].lstrip("\n")
    parts = [Text(summary.headline, style="bold"), Text(""), Text(text)]
    if summary.narrative:
        parts += [Text(""), Text(f"Narrative ({summary.narrative_provider}):", style="italic")]
        parts.append(Text(summary.narrative))
    body = Group(*parts)
    return Panel(body, title="Summary", border_style="blue")


def print_lab_report(console: Console, report: LabReport, *, title: str | None = None) -> None:
    """Print the table then the summary."""
    console.print(results_table(report, title=title))
    console.print(summary_panel(report))
