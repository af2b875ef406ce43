"""The model runner, with a small real ONNX model built by the onnx helper API in the test."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.errors import ModelManifestError
from medflow.analyzers.imaging.models import ModelRunner, load_manifest
from medflow.domain.imaging import ImageMetadata


def _meta(modality: str = "CT", body_part: str = "CHEST") -> ImageMetadata:
    return ImageMetadata(source="x", modality=modality, body_part=body_part, rows=64, columns=64)


def test_model_is_chosen_by_modality_and_body_part(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path, "chest_ct", modalities=("CT",), body_parts=("CHEST",))
    fx.write_model(tmp_path, "any_cr", modalities=("CR", "DX"), body_parts=("*",))
    runner = ModelRunner(tmp_path)
    assert {m.name for m in runner.manifests} == {"chest_ct", "any_cr"}
    assert [m.name for m in runner.select("CT", "CHEST")] == ["chest_ct"]
    assert [m.name for m in runner.select("DX", "KNEE")] == ["any_cr"]
    assert runner.select("MR", "HEAD") == ()


def test_scores_thresholds_and_heatmap(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path)
    runner = ModelRunner(tmp_path)
    bright = np.full((64, 64), 230, dtype=np.uint8)
    findings, runs = runner.run(_meta(), bright)
    by_label = {f.label: f for f in findings}
    expected = 1 / (1 + np.exp(-10 * (230 / 255 - 0.5)))
    assert by_label["bright"].score == pytest.approx(expected, rel=1e-4)
    assert by_label["bright"].positive is True
    assert by_label["dark"].positive is False  # below its 0.9 threshold
    assert runs[0].name == "brightness"
    assert runs[0].validation.dataset.startswith("none")
    heat = Image.open(io.BytesIO(base64.b64decode(by_label["bright"].heatmap_png_b64 or "")))
    assert heat.size == (64, 64)
    assert heat.mode == "RGB"
    dark_findings, _ = runner.run(_meta(), np.full((64, 64), 20, dtype=np.uint8))
    assert {f.label for f in dark_findings if f.positive} == {"dark"}


def test_no_model_for_the_image_gives_no_findings(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path)
    findings, runs = ModelRunner(tmp_path).run(_meta("MR", "HEAD"), np.zeros((8, 8), np.uint8))
    assert findings == ()
    assert runs == ()


def test_empty_or_missing_folder_means_no_models(tmp_path: Path) -> None:
    assert ModelRunner(tmp_path / "absent").manifests == ()
    assert ModelRunner(None).manifests == ()


def test_manifest_without_threshold_is_rejected(tmp_path: Path, fx: Any) -> None:
    path = fx.write_model(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["thresholds"]["dark"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelManifestError, match="no threshold for labels: dark"):
        load_manifest(path)


def test_manifest_with_unknown_key_or_missing_file_is_rejected(tmp_path: Path, fx: Any) -> None:
    path = fx.write_model(tmp_path)
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "secret_sauce": True}))
    with pytest.raises(ModelManifestError, match="secret_sauce"):
        load_manifest(path)
    path.write_text(yaml.safe_dump({**data, "file": "gone.onnx"}))
    with pytest.raises(ModelManifestError, match=r"gone\.onnx"):
        load_manifest(path)


def test_manifest_naming_a_wrong_output_is_rejected_at_load(tmp_path: Path, fx: Any) -> None:
    path = fx.write_model(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["outputs"]["heatmap"] = "saliency"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelManifestError, match="do not match the model"):
        ModelRunner(tmp_path)


def test_analyzer_runs_the_model_on_a_dicom_image(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path / "models")
    path = fx.save(fx.ct_image(), tmp_path / "ct.dcm")
    analysis = ImagingAnalyzer(ModelRunner(tmp_path / "models")).analyze(path, path.name)
    assert {f.label for f in analysis.findings} == {"bright", "dark"}
    assert analysis.models_run[0].name == "brightness"
