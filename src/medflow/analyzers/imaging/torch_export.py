"""Convert a site's PyTorch classifier into an installed medflow model (ONNX + manifest).

Needs PyTorch, which medflow does not install: ``pip install torch`` (the CPU wheel is enough).
Without it, :func:`export_checkpoint` raises :class:`TorchMissingError` saying so.

Loading is safe by default: a state-dict checkpoint is read with ``weights_only=True`` into the
architecture the site names (``package.module:factory``); a TorchScript file is loaded as is. A
fully pickled model runs arbitrary code when loaded, so it needs ``trust_pickle=True``.
After export the ONNX model is run with onnxruntime on the same input and compared with PyTorch,
so a conversion that changes the outputs is refused, never installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medflow.analyzers.imaging.models import ModelManifest, load_manifest
from medflow.errors import AnalyzerError, DependencyMissingError


class TorchMissingError(DependencyMissingError):
    """PyTorch is not installed; conversion is impossible (running the ONNX model is not)."""

    def __init__(self) -> None:
        self.extra = ""
        ImportError.__init__(
            self,
            "converting a PyTorch checkpoint needs PyTorch (torch is not installed): "
            "pip install torch  (CPU wheel: --index-url https://download.pytorch.org/whl/cpu); "
            "installed ONNX models run without it",
        )


@dataclass(frozen=True)
class ExportSpec:
    """What the manifest must say about the converted model (see docs/imaging-models.md)."""

    name: str
    version: str
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]
    modalities: tuple[str, ...]
    body_parts: tuple[str, ...]
    input_shape: tuple[int, int, int, int]
    source: str
    licence: str = ""
    activation: str = "sigmoid"
    heatmap: bool = False
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    validation: dict[str, Any] | None = None


def write_manifest(spec: ExportSpec, onnx_file: Path) -> Path:
    """Write and validate ``<name>.yaml`` beside ``onnx_file``; returns the manifest path.

    Raises:
        ModelManifestError: the spec does not make a valid manifest.
    """
    if len(spec.labels) != len(spec.thresholds):
        raise ValueError("give one threshold per label")
    data = {
        "name": spec.name,
        "version": spec.version,
        "file": onnx_file.name,
        "applies_to": {"modalities": list(spec.modalities), "body_parts": list(spec.body_parts)},
        "input": {"name": "image", "shape": list(spec.input_shape)},
        "preprocessing": {"scale": 1 / 255, "mean": list(spec.mean), "std": list(spec.std)},
        "outputs": {
            "scores": "scores",
            "activation": spec.activation,
            **({"heatmap": "heatmap"} if spec.heatmap else {}),
        },
        "labels": list(spec.labels),
        "thresholds": dict(zip(spec.labels, spec.thresholds, strict=True)),
        "source": spec.source,
        "licence": spec.licence,
        "validation": spec.validation or {},
    }
    ModelManifest.model_validate(data)
    path = onnx_file.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    load_manifest(path)
    return path


def _load_module(torch: Any, checkpoint: Path, architecture: str | None, trust_pickle: bool) -> Any:
    if architecture:
        module_name, _, factory = architecture.partition(":")
        model = getattr(importlib.import_module(module_name), factory)()
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        return model
    try:
        return torch.jit.load(str(checkpoint), map_location="cpu")
    except RuntimeError:
        if not trust_pickle:
            raise AnalyzerError(
                f"{checkpoint.name}: not TorchScript; name the architecture (module:factory) "
                "for a state-dict checkpoint, or pass trust_pickle for a pickled model you trust"
            ) from None
        return torch.load(checkpoint, map_location="cpu", weights_only=False)


def export_checkpoint(
    checkpoint: Path,
    out_dir: Path,
    spec: ExportSpec,
    architecture: str | None = None,
    trust_pickle: bool = False,
    tolerance: float = 1e-4,
) -> Path:
    """Export a PyTorch model to ONNX, check it against PyTorch, and write its manifest.

    Args:
        checkpoint: a TorchScript file, or a state-dict checkpoint with ``architecture``.
        out_dir: where ``<name>.onnx`` and ``<name>.yaml`` are written.
        spec: what the manifest says.
        architecture: ``package.module:factory`` building the untrained network.
        trust_pickle: allow loading a fully pickled model (runs code from the file).
        tolerance: the largest output difference accepted between PyTorch and onnxruntime.

    Returns:
        The manifest path.

    Raises:
        TorchMissingError: PyTorch is not installed.
        AnalyzerError: the checkpoint cannot be loaded or the ONNX outputs differ.
    """
    try:
        # Imported by name: torch is optional and ships no type stubs medflow could rely on.
        torch: Any = importlib.import_module("torch")
    except ImportError as exc:
        raise TorchMissingError() from exc
    import numpy as np
    import onnxruntime as ort

    model = _load_module(torch, checkpoint, architecture, trust_pickle).eval()
    dummy = torch.rand(*spec.input_shape)
    outputs = ["scores", "heatmap"] if spec.heatmap else ["scores"]
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_file = out_dir / f"{spec.name}.onnx"
    with torch.no_grad():
        expected = model(dummy)
        torch.onnx.export(
            model, (dummy,), str(onnx_file), input_names=["image"], output_names=outputs
        )
    expected_list = list(expected) if isinstance(expected, tuple | list) else [expected]
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": dummy.numpy()})
    for want, have in zip(expected_list, got, strict=False):
        diff = float(np.abs(want.detach().numpy() - have).max())
        if diff > tolerance:
            onnx_file.unlink()
            raise AnalyzerError(f"{checkpoint.name}: ONNX output differs from PyTorch by {diff}")
    return write_manifest(spec, onnx_file)
