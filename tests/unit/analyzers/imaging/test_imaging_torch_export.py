"""The PyTorch converter: clear failure without torch; its manifest writer works without it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medflow.analyzers.imaging.models import ModelRunner
from medflow.analyzers.imaging.torch_export import (
    ExportSpec,
    TorchMissingError,
    export_checkpoint,
    write_manifest,
)
from medflow.domain.imaging import ImageMetadata
from medflow.errors import DependencyMissingError

SPEC = ExportSpec(
    name="brightness",
    version="2.0",
    labels=("bright", "dark"),
    thresholds=(0.5, 0.5),
    modalities=("CR",),
    body_parts=("CHEST",),
    input_shape=(1, 1, 32, 32),
    source="built in the test",
    validation={"dataset": "none", "n_cases": 0},
)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_export_without_torch_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TorchMissingError, match="pip install torch") as info:
        export_checkpoint(tmp_path / "model.pt", tmp_path / "out", SPEC)
    assert isinstance(info.value, DependencyMissingError)
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "out").exists()


def test_manifest_writer_installs_a_runnable_model(tmp_path: Path, fx: Any) -> None:
    fx.write_model(tmp_path / "build")
    onnx_file = tmp_path / "models" / "brightness.onnx"
    onnx_file.parent.mkdir()
    onnx_file.write_bytes((tmp_path / "build" / "brightness.onnx").read_bytes())
    manifest = write_manifest(SPEC, onnx_file)
    assert manifest.name == "brightness.yaml"
    runner = ModelRunner(onnx_file.parent)
    meta = ImageMetadata(source="x", modality="CR", body_part="CHEST", rows=8, columns=8)
    findings, runs = runner.run(meta, np.full((8, 8), 250, np.uint8))
    assert runs[0].version == "2.0"
    assert [f.label for f in findings if f.positive] == ["bright"]


def test_manifest_writer_needs_one_threshold_per_label(tmp_path: Path) -> None:
    spec = ExportSpec(**{**SPEC.__dict__, "thresholds": (0.5,)})
    with pytest.raises(ValueError, match="one threshold per label"):
        write_manifest(spec, tmp_path / "m.onnx")
