"""The imaging HTML report: self-contained, escaped, complete."""

from __future__ import annotations

import sys
from pathlib import Path

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.models import ModelRunner
from medflow.reports.imaging_html import render_imaging_html

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "imaging"))
import imaging_fixtures as fx


def test_report_has_thumbnails_quality_findings_and_rejects(tmp_path: Path) -> None:
    fx.write_model(tmp_path / "models", modalities=("CT",), body_parts=("*",))
    bright = fx.ct_image(seed=1)
    bright.WindowCenter, bright.WindowWidth = -2000, 10  # all above the window: white
    good = fx.save(bright, tmp_path / "<script>odd&name.dcm")
    batch = ImagingAnalyzer(ModelRunner(tmp_path / "models")).analyze_many(
        [(good.name, good), ("broken.dcm", b"not dicom at all" * 4)]
    )
    html = render_imaging_html(batch.report, title="Test & report")
    assert "<title>Test &amp; report</title>" in html
    assert "&lt;script&gt;odd&amp;name.dcm" in html  # escaped, never markup
    assert "<script>" not in html
    assert html.count("data:image/png;base64,") == 2  # thumbnail + heat map of "bright"
    assert "exposure_clipping" in html
    assert "heat map of bright" in html
    assert "broken.dcm" in html
    assert "not a DICOM file" in html
    assert "http://" not in html  # self-contained: no external requests
