"""Diagnostic models a site installs: ONNX files with manifests, run on CPU with onnxruntime.

A model folder holds one manifest per model (``*.yaml``, ``*.yml`` or ``*.json``, at the top or
one folder down) next to its ONNX file. The manifest says what the model expects (input shape,
preprocessing), what it gives (labels, activation, thresholds, optional heat map output), which
images it applies to (modalities, body parts), where it comes from and how it was validated.
medflow ships no diagnostic model: see docs/imaging-models.md for installing one.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medflow.analyzers.imaging.errors import ModelManifestError
from medflow.domain.imaging import ImageMetadata, ImagingFinding, ModelRun, ModelValidation
from medflow.errors import DependencyMissingError

if TYPE_CHECKING:
    from numpy.typing import NDArray

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppliesTo(_Strict):
    """Which images a model is for: DICOM modalities and Body Part Examined values ("*": any)."""

    modalities: tuple[str, ...] = Field(min_length=1)
    body_parts: tuple[str, ...] = ("*",)


class InputSpec(_Strict):
    """The model's input tensor: name (None: the first input) and NCHW shape."""

    name: str | None = None
    shape: tuple[int, int, int, int]

    @model_validator(mode="after")
    def _channels(self) -> InputSpec:
        if self.shape[1] not in (1, 3):
            raise ValueError("input channels (shape[1]) must be 1 or 3")
        return self


class Preprocessing(_Strict):
    """From the displayed 8-bit image to the tensor: ``x * scale``, then ``(x - mean) / std``."""

    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)


class OutputSpec(_Strict):
    """The output names: scores (one per label) and an optional heat map (H x W)."""

    scores: str
    activation: Literal["sigmoid", "softmax", "none"] = "sigmoid"
    heatmap: str | None = None


class ModelManifest(_Strict):
    """One installed model, as its manifest describes it."""

    name: str
    version: str
    file: str
    description: str = ""
    applies_to: AppliesTo
    input: InputSpec
    preprocessing: Preprocessing = Preprocessing()
    outputs: OutputSpec
    labels: tuple[str, ...] = Field(min_length=1)
    thresholds: dict[str, float]
    source: str = Field(min_length=1)
    licence: str = ""
    validation: ModelValidation

    @model_validator(mode="after")
    def _thresholds(self) -> ModelManifest:
        missing = [label for label in self.labels if label not in self.thresholds]
        if missing:
            raise ValueError(f"no threshold for labels: {', '.join(missing)}")
        if any(not 0 <= t <= 1 for t in self.thresholds.values()):
            raise ValueError("thresholds must lie in [0, 1]")
        return self

    def applies(self, modality: str, body_part: str) -> bool:
        """Whether this model is meant for an image of this modality and body part."""
        parts = {p.upper() for p in self.applies_to.body_parts}
        return modality.upper() in {m.upper() for m in self.applies_to.modalities} and (
            "*" in parts or body_part.upper() in parts
        )


def load_manifest(path: Path) -> ModelManifest:
    """Read and validate one manifest file.

    Raises:
        ModelManifestError: unreadable, invalid, or naming an ONNX file that is not there.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        manifest = ModelManifest.model_validate(data)
    except (OSError, ValueError, yaml.YAMLError, ValidationError) as exc:
        raise ModelManifestError(str(path), f"invalid manifest: {exc}") from exc
    if not (path.parent / manifest.file).is_file():
        raise ModelManifestError(str(path), f"model file {manifest.file!r} not found beside it")
    return manifest


class _Loaded:
    def __init__(self, manifest: ModelManifest, path: Path, session: Any) -> None:
        self.manifest, self.path, self.session = manifest, path, session
        inputs = session.get_inputs()
        self.input_name = manifest.input.name or inputs[0].name
        names = {i.name for i in inputs}
        outs = {o.name for o in session.get_outputs()}
        wanted = {manifest.outputs.scores} | (
            {manifest.outputs.heatmap} if manifest.outputs.heatmap else set()
        )
        if self.input_name not in names or not wanted <= outs:
            raise ModelManifestError(
                str(path), f"input/outputs do not match the model (it has {sorted(names | outs)})"
            )


class ModelRunner:
    """Loads every model of a folder once (onnxruntime, CPU) and runs those that fit an image.

    Args:
        folder: the model folder; None or an empty folder gives a runner with no models.
        threads: intra-op threads per session (the CPU is shared with the rest of medflow).

    Raises:
        ModelManifestError: a manifest is invalid or does not match its model.
        DependencyMissingError: onnxruntime is not installed and a model is present.
    """

    def __init__(self, folder: Path | None = None, threads: int = 1) -> None:
        self._models: list[_Loaded] = []
        if folder is None or not folder.exists():
            return
        paths = sorted(
            p
            for pattern in ("*", "*/*")
            for p in folder.glob(pattern)
            if p.suffix in MANIFEST_SUFFIXES and p.is_file()
        )
        if not paths:
            return
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyMissingError("the model runner", "imaging", "onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        for path in paths:
            manifest = load_manifest(path)
            try:
                session = ort.InferenceSession(
                    str(path.parent / manifest.file),
                    sess_options=options,
                    providers=["CPUExecutionProvider"],
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelManifestError(str(path), f"ONNX model cannot be loaded: {exc}") from exc
            self._models.append(_Loaded(manifest, path, session))

    @property
    def manifests(self) -> tuple[ModelManifest, ...]:
        """The installed models."""
        return tuple(m.manifest for m in self._models)

    def select(self, modality: str, body_part: str) -> tuple[ModelManifest, ...]:
        """The models meant for this modality and body part."""
        return tuple(m.manifest for m in self._models if m.manifest.applies(modality, body_part))

    def run(
        self, meta: ImageMetadata, display: NDArray[Any]
    ) -> tuple[tuple[ImagingFinding, ...], tuple[ModelRun, ...]]:
        """Run every model that fits the image on its displayed first frame.

        Returns:
            The findings (one per label per model) and a record of each model run.
        """
        findings: list[ImagingFinding] = []
        runs: list[ModelRun] = []
        for loaded in self._models:
            m = loaded.manifest
            if not m.applies(meta.modality, meta.body_part):
                continue
            start = time.perf_counter()
            outputs = loaded.session.run(None, {loaded.input_name: _tensor(m, display)})
            named = dict(zip([o.name for o in loaded.session.get_outputs()], outputs, strict=True))
            scores = _activate(named[m.outputs.scores], m.outputs.activation)
            if scores.size != len(m.labels):
                raise ModelManifestError(
                    str(loaded.path), f"{scores.size} scores for {len(m.labels)} labels"
                )
            heat = None
            if m.outputs.heatmap:
                heat = overlay_png_b64(display, named[m.outputs.heatmap])
            for label, score in zip(m.labels, scores.tolist(), strict=True):
                threshold = m.thresholds[label]
                findings.append(
                    ImagingFinding(
                        label=label,
                        score=min(1.0, max(0.0, float(score))),
                        threshold=threshold,
                        positive=float(score) >= threshold,
                        model=m.name,
                        model_version=m.version,
                        heatmap_png_b64=heat,
                    )
                )
            runs.append(
                ModelRun(
                    name=m.name,
                    version=m.version,
                    source=m.source,
                    validation=m.validation,
                    seconds=time.perf_counter() - start,
                )
            )
        return tuple(findings), tuple(runs)


def _tensor(m: ModelManifest, display: NDArray[Any]) -> NDArray[Any]:
    import numpy as np
    from PIL import Image

    _, channels, height, width = m.input.shape
    img = Image.fromarray(display).convert("L" if channels == 1 else "RGB")
    img = img.resize((width, height), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) * np.float32(m.preprocessing.scale)
    arr = arr[None, ...] if channels == 1 else arr.transpose(2, 0, 1)
    mean = np.array(m.preprocessing.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.array(m.preprocessing.std, dtype=np.float32).reshape(-1, 1, 1)
    out: NDArray[Any] = ((arr - mean) / std)[None, ...].astype(np.float32)
    return out


def _activate(raw: NDArray[Any], activation: str) -> NDArray[Any]:
    import numpy as np

    values = np.asarray(raw, dtype=np.float64).reshape(-1)
    if activation == "sigmoid":
        values = 1.0 / (1.0 + np.exp(-values))
    elif activation == "softmax":
        shifted = np.exp(values - values.max())
        values = shifted / shifted.sum()
    return values


def overlay_png_b64(display: NDArray[Any], heatmap: NDArray[Any], max_side: int = 512) -> str:
    """The heat map blended in red over the image, as base64 PNG (at most ``max_side`` px)."""
    import numpy as np
    from PIL import Image

    from medflow.analyzers.imaging.render import png_bytes, to_grey

    heat = np.asarray(heatmap, dtype=np.float64).squeeze()
    if heat.ndim != 2:
        heat = heat.reshape(heat.shape[-2], heat.shape[-1])
    span = float(heat.max() - heat.min())
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    grey = to_grey(display)
    heat_img = Image.fromarray((heat * 255).astype(np.uint8)).resize(
        (grey.shape[1], grey.shape[0]), Image.Resampling.BILINEAR
    )
    alpha = np.asarray(heat_img, dtype=np.float64)[..., None] / 255.0 * 0.6
    base = np.repeat(grey[..., None], 3, axis=2).astype(np.float64)
    red = np.zeros_like(base)
    red[..., 0] = 255.0
    blended = (base * (1 - alpha) + red * alpha).round().astype(np.uint8)
    return base64.b64encode(png_bytes(blended, max_side)).decode("ascii")
