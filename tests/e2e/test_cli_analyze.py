"""``medflow analyze`` end to end: real subprocess, real files, the embedded default."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.e2e.conftest import run_medflow

pytestmark = pytest.mark.e2e

SAMPLE_ARGS = ["--patient-id", "P-100", "--sex", "male", "--age", "64"]


def test_analyze_prints_every_test_with_flag_and_significance_then_the_summary(
    tmp_path: Path, lab_samples: Path
) -> None:
    pdf = lab_samples / "us-reference-lab.pdf"
    done = run_medflow(["analyze", str(pdf), *SAMPLE_ARGS], tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for header in ("Test", "Value", "Unit", "Range", "Flag", "Significance"):
        assert header in out
    assert "Hemoglobin" in out
    assert "718-7" in out  # the LOINC code of hemoglobin
    assert "noise" in out and "significant" in out
    assert "Summary" in out
    assert out.index("Hemoglobin") < out.index("Summary")


def test_analyze_json_is_the_versioned_result(tmp_path: Path, lab_samples: Path) -> None:
    done = run_medflow(
        ["analyze", str(lab_samples / "uk-nhs-lab.pdf"), "--format", "json", *SAMPLE_ARGS],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == "medflow.lab-report"
    assert data["patient"]["patient_id"] == "P-100"
    assert all(r["flag"] in {"N", "L", "H", "LL", "HH", "A"} for r in data["results"])
    assert data["summary"]["text"]


def test_analyze_fhir_prints_a_valid_r4_bundle(tmp_path: Path, lab_samples: Path) -> None:
    done = run_medflow(
        ["analyze", str(lab_samples / "india-lab.pdf"), "--format", "fhir", *SAMPLE_ARGS],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    bundle = Bundle.model_validate(json.loads(done.stdout))
    kinds = [e.resource.get_resource_type() for e in bundle.entry or []]
    assert kinds.count("DiagnosticReport") == 1
    assert kinds.count("Observation") >= 20


def test_reanalysing_a_stored_pdf_with_other_patient_details_says_what_it_does(
    tmp_path: Path, lab_samples: Path
) -> None:
    pdf = str(lab_samples / "uk-nhs-lab.pdf")
    first = run_medflow(["analyze", pdf, "--format", "json", *SAMPLE_ARGS], tmp_path)
    assert first.returncode == 0, first.stderr
    again = ["--patient-id", "P-100", "--sex", "female", "--age", "30"]
    second = run_medflow(["analyze", pdf, "--format", "json", *again], tmp_path)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["reinterpreted"] is True
    assert (data["patient"]["sex"], data["patient"]["age"]) == ("female", 30.0)
    assert data["document_id"] == json.loads(first.stdout)["document_id"]
    assert "already analysed as document" in second.stderr
    assert "sex, age" in second.stderr and "unchanged" in second.stderr
    same = run_medflow(["analyze", pdf, "--format", "json", *SAMPLE_ARGS], tmp_path)
    assert "reinterpreted" not in json.loads(same.stdout)
    assert "already analysed" not in same.stderr


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt("s3cret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _many_pages_pdf(pages: int = 400) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _prose_pdf() -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    lines = [
        "Dear colleague,",
        "Thank you for seeing Mrs Smith in clinic today regarding her knee.",
        "She reports improvement after physiotherapy and walks two miles daily.",
        "No laboratory tests were requested at this visit.",
    ]
    for i, line in enumerate(lines):
        c.drawString(72, 720 - 18 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.pdf", b"", "empty"),
        ("notes.pdf", b"This is a plain text file, not a PDF.\n" * 20, "not a PDF"),
        ("cut.pdf", None, "truncated"),
        ("locked.pdf", _encrypted_pdf(), "password-protected"),
        ("letter.pdf", _prose_pdf(), "no lab values"),
        ("bomb.pdf", _many_pages_pdf(), "pages"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file_and_is_quarantined(
    tmp_path: Path, lab_samples: Path, name: str, content: bytes | None, problem: str
) -> None:
    data = content if content is not None else (lab_samples / "truncated.pdf").read_bytes()
    bad = tmp_path / name
    bad.write_bytes(data)
    data_dir = tmp_path / "data"
    done = run_medflow(["analyze", str(bad)], data_dir)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0] and problem.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr
    if data:  # a stored upload stays in raw; an empty one was refused before storage
        kept = list((data_dir / "objects" / "raw").rglob(name))
        assert kept and kept[0].read_bytes() == data, "the original must be kept"
    quarantined = list((data_dir / "objects" / "quarantine").rglob(name))
    assert quarantined and quarantined[0].read_bytes() == data
    reason = json.loads(Path(str(quarantined[0]) + ".reason.json").read_text())
    assert reason["file"] == name and problem.lower() in reason["reason"].lower()


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = run_medflow(["analyze", str(tmp_path / "nope.pdf")], tmp_path)
    assert done.returncode == 2
    assert "nope.pdf" in done.stderr and "no such file" in done.stderr


def test_results_reads_back_what_analyze_stored(tmp_path: Path, lab_samples: Path) -> None:
    pdf = lab_samples / "two-column.pdf"
    first = run_medflow(["analyze", str(pdf), "--format", "json"], tmp_path)
    assert first.returncode == 0, first.stderr
    doc_id = json.loads(first.stdout)["document_id"]
    html = run_medflow(["results", doc_id, "--format", "html"], tmp_path)
    assert html.returncode == 0, html.stderr
    assert html.stdout.lstrip().lower().startswith("<!doctype html")
    status = run_medflow(["status"], tmp_path)
    assert status.returncode == 0 and "succeeded 1" in status.stdout


def test_a_file_over_the_size_limit_is_refused_and_kept_in_quarantine(
    tmp_path: Path, lab_samples: Path
) -> None:
    pdf = lab_samples / "us-reference-lab.pdf"
    data_dir = tmp_path / "data"
    done = run_medflow(
        ["analyze", str(pdf)], data_dir, env={"MEDFLOW_STORAGE__MAX_UPLOAD_BYTES": "1000"}
    )
    assert done.returncode == 2
    assert "us-reference-lab.pdf" in done.stderr and "upload limit" in done.stderr
    assert not list((data_dir / "objects" / "raw").rglob("*.pdf"))
    kept = list((data_dir / "objects" / "quarantine").rglob("us-reference-lab.pdf"))
    assert kept and kept[0].read_bytes() == pdf.read_bytes()


@pytest.mark.parametrize(
    ("name", "command"),
    [("chest.dcm", "medflow imaging analyze"), ("admissions.csv", "medflow records check")],
)
def test_an_image_or_records_file_is_pointed_to_the_command_that_reads_it(
    tmp_path: Path, name: str, command: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"not read: refused by its type")
    done = run_medflow(["analyze", str(path)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert name in done.stderr and command in done.stderr
