"""The lab HTML page: critical values first, badges, range bars, escaping, self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from medflow.domain.labs import LabReport, LabSummary
from medflow.reports.html import render_lab_html


class _Collector(HTMLParser):
    """Counts elements and collects text and attributes, failing on unbalanced tags."""

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})
    SVG_EMPTY = frozenset({"rect", "line", "circle", "polygon"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: dict[str, int] = {}
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    return parser


def test_page_is_well_formed_and_escapes_report_text(full_report: LabReport) -> None:
    page = render_lab_html(full_report, title="Labs <MRN-0042>")
    parsed = _parse(page)
    assert "Jane Roe <script>" in "".join(parsed.text)
    assert "<script" not in page
    assert "Labs &lt;MRN-0042&gt;" in page


def test_critical_banner_comes_before_everything_else(full_report: LabReport) -> None:
    page = render_lab_html(full_report)
    banner = page.index('id="critical"')
    assert banner < page.index('id="summary"') < page.index('id="results"')
    banner_html = page[banner : page.index("</section>", banner)]
    assert "Potassium: 6.9 mmol/L" in banner_html
    assert "critical limit 6.2" in banner_html
    assert "Hemoglobin" not in banner_html


def test_no_banner_when_nothing_is_critical(normal_report: LabReport) -> None:
    page = render_lab_html(normal_report)
    assert 'id="critical"' not in page
    assert "not printed" in page  # no collection date on this report


def test_every_result_has_a_flag_badge(full_report: LabReport) -> None:
    page = render_lab_html(full_report)
    results = page[page.index('id="results"') :]
    badges = re.findall(r'class="badge flag-(\w+)"', results.split("</section>")[0])
    assert badges == [r.flag.value for r in full_report.results]
    assert 'class="badge flag-HH"' in page


def test_numeric_results_with_a_range_get_a_range_bar(full_report: LabReport) -> None:
    parsed = _parse(render_lab_html(full_report))
    with_bar = [
        r
        for r in full_report.results
        if r.value is not None
        and r.reference_range is not None
        and (r.reference_range.low is not None or r.reference_range.high is not None)
    ]
    bars = [
        v for tag, k, v in parsed.attrs if tag == "svg" and k == "class" and "rangebar" in (v or "")
    ]
    assert len(bars) == len(with_bar)
    assert parsed.tags["svg"] == len(with_bar) + len(full_report.summary.trends)
    # The censored CRP carries an arrow; nothing else does.
    assert parsed.tags["polygon"] == 1
    labels = [v for tag, k, v in parsed.attrs if tag == "svg" and k == "aria-label"]
    assert "<0.5 against reference range <5" in labels


def test_summary_findings_noise_and_trends_are_shown(full_report: LabReport) -> None:
    text = " ".join(_parse(render_lab_html(full_report)).text)
    assert "Microcytic anemia" in text
    assert "WHO 2011 haemoglobin thresholds" in text
    assert "within the 10% noise margin" in text
    assert "2025-09-01: 0.98 mg/dL" in text
    assert "(+45%)" in text
    assert "LOINC 718-7" in text
    assert "not coded" in text  # the unknown Lp-PLA2 test


def test_checked_narrative_is_labelled_with_its_provider(full_report: LabReport) -> None:
    summary = full_report.summary.model_copy(
        update={"narrative": "Potassium is critically high.", "narrative_provider": "ollama"}
    )
    page = render_lab_html(full_report.model_copy(update={"summary": summary}))
    assert "Potassium is critically high." in page
    assert "Narrative written by ollama" in page
    assert "Narrative written by" not in render_lab_html(full_report)


def test_page_is_self_contained(full_report: LabReport) -> None:
    page = render_lab_html(full_report)
    parsed = _parse(page)
    assert not {"script", "img", "link", "iframe"} & parsed.tags.keys()
    assert not [a for a in parsed.attrs if a[1] in ("src", "href")]
    assert "url(" not in page
    assert "@media print" in page


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "data:text/html,x", " JavaScript:x"])
def test_links_keep_only_safe_schemes(full_report: LabReport, bad: str) -> None:
    page = render_lab_html(full_report, links={"FHIR": "results/fhir.json", "x": bad})
    hrefs = [v for tag, k, v in _parse(page).attrs if k == "href"]
    assert hrefs == ["results/fhir.json"]


def test_empty_summary_renders(full_report: LabReport) -> None:
    bare = full_report.model_copy(update={"summary": LabSummary(headline="No findings")})
    page = render_lab_html(bare)
    assert "No findings" in page
    assert 'id="noise"' not in page
    assert 'id="trends"' not in page
