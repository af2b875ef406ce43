"""``medflow imaging deid`` and ``medflow imaging analyze`` end to end through Typer."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pydicom
import pytest
import typer
from typer.testing import CliRunner

from medflow.analyzers.imaging.sr import read_findings_sr
from medflow.cli.imaging import SECRET_ENV, imaging_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "imaging"))
import imaging_fixtures as fx

app = typer.Typer()
app.add_typer(imaging_app)
runner = CliRunner()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "site.secret"
    path.write_bytes(b"cli-test-secret-0123456789abcdef")
    return path


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_deid_folder_keeps_names_and_structure(tmp_path: Path, secret: Path) -> None:
    src = tmp_path / "in"
    fx.save(fx.ct_image(seed=1), src / "a.dcm")
    fx.save(fx.ct_image(seed=2), src / "sub" / "b.dcm")
    before = _tree_digest(src)
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.dcm")
    ) == [
        "a.dcm",
        "sub/b.dcm",
    ]
    out = pydicom.dcmread(tmp_path / "out" / "sub" / "b.dcm")
    assert out.PatientIdentityRemoved == "YES"
    assert out.PatientBirthDate == ""
    assert _tree_digest(src) == before  # inputs untouched


def test_deid_same_secret_gives_same_uids_across_runs(tmp_path: Path, secret: Path) -> None:
    src = fx.save(fx.ct_image(), tmp_path / "in" / "a.dcm")
    for run in ("one", "two"):
        result = runner.invoke(
            app, ["imaging", "deid", str(src), str(tmp_path / run), "--secret-file", str(secret)]
        )
        assert result.exit_code == 0
    one = pydicom.dcmread(tmp_path / "one" / "a.dcm")
    two = pydicom.dcmread(tmp_path / "two" / "a.dcm")
    assert one.StudyInstanceUID == two.StudyInstanceUID


def test_deid_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "environment-secret-0123456789")
    src = fx.save(fx.ct_image(), tmp_path / "a.dcm")
    result = runner.invoke(app, ["imaging", "deid", str(src), str(tmp_path / "out")])
    assert result.exit_code == 0
    assert "consistent within this run only" not in result.stderr


def test_deid_options_reach_the_profile(tmp_path: Path, secret: Path) -> None:
    src = fx.save(fx.ct_image(), tmp_path / "a.dcm")
    result = runner.invoke(
        app,
        [
            "imaging",
            "deid",
            str(src),
            str(tmp_path / "out"),
            "--secret-file",
            str(secret),
            "--retain-device",
            "--shift-dates",
        ],
    )
    assert result.exit_code == 0
    out = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    assert out.DeviceSerialNumber == "SN-777"
    assert out.StudyDate not in ("", "20240315")


@pytest.mark.parametrize(
    ("name", "write", "reason"),
    [
        ("notes.dcm", lambda p: p.write_text("not an image"), "not a DICOM file"),
        ("cut.dcm", lambda p: p.write_bytes(fx_bytes()[:-4000]), "declared bytes"),
    ],
)
def test_deid_bad_input_exits_2_with_one_line(
    tmp_path: Path, secret: Path, name: str, write: object, reason: str
) -> None:
    path = tmp_path / "in" / name
    path.parent.mkdir()
    write(path)  # type: ignore[operator]
    result = runner.invoke(
        app, ["imaging", "deid", str(path), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert name in errors[0]
    assert reason in errors[0]
    assert not (tmp_path / "out" / name).exists()


def fx_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    fx.ct_image().save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_deid_folder_with_one_bad_file_still_writes_the_good_ones(
    tmp_path: Path, secret: Path
) -> None:
    src = tmp_path / "in"
    fx.save(fx.ct_image(), src / "good.dcm")
    (src / "bad.dcm").write_text("nope")
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 2
    assert (tmp_path / "out" / "good.dcm").exists()
    assert "bad.dcm" in result.stderr


def test_deid_folder_skips_non_dicom_files_with_a_warning_and_exits_0(
    tmp_path: Path, secret: Path
) -> None:
    src = tmp_path / "in"
    fx.save(fx.ct_image(), src / "good.dcm")
    (src / "README.txt").write_text("export notes")
    (src / "sub").mkdir()
    (src / "sub" / "Thumbs.db").write_bytes(b"\x00\x01not an image")
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("README.txt" in w and "skipped" in w for w in warnings)
    assert any("Thumbs.db" in w and "skipped" in w for w in warnings)
    assert not [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["good.dcm"]
    assert "2 skipped" in result.stdout


def test_deid_reports_a_repaired_attribute_and_exits_0(tmp_path: Path, secret: Path) -> None:
    from pydicom.data import get_testdata_file

    src = tmp_path / "in"
    src.mkdir()
    (src / "frames.dcm").write_bytes(Path(get_testdata_file("badVR.dcm")).read_bytes())
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert "frames.dcm: repaired (0028,0008) Number of Frames" in result.stderr
    assert pydicom.dcmread(tmp_path / "out" / "frames.dcm").NumberOfFrames == 15


@pytest.mark.slow
def test_deid_warns_when_text_may_remain_in_the_pixels(tmp_path: Path, secret: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    src = tmp_path / "in"
    src.mkdir()
    img = Image.new("L", (1000, 1000), 30)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 300, 1000, 800), fill=60)
    draw.text((150, 450), "HARTWELL", fill=250, font=ImageFont.load_default(size=80))
    img.save(src / "screen.png")
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(tmp_path / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: screen.png: review the pixels, text may remain" in result.stderr
    assert "HARTWELL" not in result.stderr
    assert (tmp_path / "out" / "screen.png").exists()


def test_deid_refuses_output_inside_input(tmp_path: Path, secret: Path) -> None:
    src = tmp_path / "in"
    fx.save(fx.ct_image(), src / "a.dcm")
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(src / "out"), "--secret-file", str(secret)]
    )
    assert result.exit_code == 2


def test_analyze_writes_html_json_and_sr(tmp_path: Path) -> None:
    fx.write_model(tmp_path / "models")
    study = "1.2.826.0.1.3680043.8.498.77"
    for i in range(2):
        fx.save(fx.ct_image(seed=i, StudyInstanceUID=study), tmp_path / "in" / f"ct{i}.dcm")
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "imaging",
            "analyze",
            str(tmp_path / "in"),
            "--models",
            str(tmp_path / "models"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert "brightness 0.1.0" in html
    data = json.loads((out / "report.json").read_text())
    assert len(data["images"]) == 2
    assert data["studies"][0]["study_instance_uid"] == study
    found = read_findings_sr(out / "study-1.sr.dcm")
    assert {f["label"] for f in found} == {"bright", "dark"}


def test_analyze_bad_file_exits_2_naming_it(tmp_path: Path) -> None:
    path = fx.save(fx.no_pixel_data(), tmp_path / "nopix.dcm")
    result = runner.invoke(app, ["imaging", "analyze", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: nopix.dcm: the DICOM file holds no pixel data (not an image)"]


def test_analyze_bad_model_folder_exits_2(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "broken.yaml").write_text("name: x\n")
    path = fx.save(fx.ct_image(), tmp_path / "ct.dcm")
    result = runner.invoke(
        app, ["imaging", "analyze", str(path), "--models", str(tmp_path / "models")]
    )
    assert result.exit_code == 2
    assert "broken.yaml" in result.stderr


def test_convert_torch_without_torch_fails_clearly(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    if __import__("importlib").util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"\x80\x02}q\x00.")
    result = runner.invoke(
        app,
        [
            "imaging",
            "convert-torch",
            str(ckpt),
            str(tmp_path / "models"),
            "--name",
            "cxr",
            "--labels",
            "effusion",
            "--thresholds",
            "0.5",
            "--modalities",
            "CR,DX",
            "--source",
            "site",
        ],
    )
    assert result.exit_code == 2
    assert "needs PyTorch (torch is not installed): pip install torch" in result.stderr
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_demo_keeps_originals_deidentifies_and_reports(tmp_path: Path) -> None:
    result = runner.invoke(app, ["imaging", "demo", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output + result.stderr
    originals = sorted(p.name for p in (tmp_path / "demo" / "original").iterdir())
    copies = sorted(p.name for p in (tmp_path / "demo" / "deidentified").iterdir())
    assert originals == copies
    assert "RG1_UNCI.dcm" in copies
    chest = pydicom.dcmread(tmp_path / "demo" / "deidentified" / "RG1_UNCI.dcm")
    assert chest.PatientIdentityRemoved == "YES"
    data = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    assert len(data["images"]) == len(copies)


def test_deid_prints_a_long_output_path_on_one_line(tmp_path: Path, secret: Path) -> None:
    # Scripts read the output folder from this line: a path longer than the 80 columns a
    # non-terminal gets must not be broken across lines.
    src = fx.save(fx.ct_image(seed=3), tmp_path / "in" / "a.dcm")
    out = tmp_path / ("deidentified-" + "x" * 100)
    result = runner.invoke(
        app, ["imaging", "deid", str(src), str(out), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert f"de-identified 1 of 1 file(s) into {out}" in result.stdout.splitlines()
