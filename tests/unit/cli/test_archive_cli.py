"""``medflow extract`` and ``medflow analyze`` refuse a zip-bomb DOCX before unpacking it:
exit 2 and one line on stderr naming the file and the limit; ``analyze`` quarantines it."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from medflow.cli.main import app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "documents"))
from docx_fixtures import padded_docx

runner = CliRunner()


def _bomb(tmp_path: Path) -> Path:
    path = tmp_path / "bomb.docx"
    path.write_bytes(padded_docx(110, 2_000_000))
    return path


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_extract_exits_2_naming_the_ratio_limit(tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", str(_bomb(tmp_path))])
    assert result.exit_code == 2
    [line] = _error_lines(result.stderr)
    assert line.startswith("medflow: bomb.docx: ") and "100:1 limit" in line
    assert result.stdout == ""


def test_analyze_exits_2_and_quarantines_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = runner.invoke(app, ["analyze", str(_bomb(tmp_path)), "--data-dir", str(data)])
    assert result.exit_code == 2, result.output
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and "bomb.docx" in lines[0] and "100:1 limit" in lines[0]
    quarantined = list((data / "objects" / "quarantine").rglob("bomb.docx*"))
    assert quarantined, "the original is kept in quarantine, not lost"
