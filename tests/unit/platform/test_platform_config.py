"""Settings precedence (arguments > environment > medflow.toml > defaults) and secret rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medflow.errors import ConfigError
from medflow.platform.config import Settings, get_settings, signing_secret


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_put_everything_under_medflow_data() -> None:
    s = Settings()
    assert s.data_dir == Path("medflow-data")
    assert s.database_url == "sqlite:///medflow-data/medflow.db"
    assert s.storage_root == Path("medflow-data/objects")
    assert s.outbox_dir == Path("medflow-data/outbox")
    assert s.storage.backend == "local"
    assert s.runner.backend == "threads"
    assert s.notify.backend == "outbox"
    assert {t.pipeline for t in s.triggers} >= {"labs", "records"}


def test_toml_is_read_from_cwd(tmp_path: Path) -> None:
    (tmp_path / "medflow.toml").write_text(
        'data_dir = "/srv/medflow"\n[notify]\nbackend = "smtp"\nsmtp_port = 2525\n'
    )
    s = Settings()
    assert s.data_dir == Path("/srv/medflow")
    assert s.notify.backend == "smtp"
    assert s.notify.smtp_port == 2525


def test_environment_beats_toml_and_arguments_beat_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "medflow.toml").write_text("[notify]\nsmtp_port = 2525\nsmtp_host = 'toml'\n")
    monkeypatch.setenv("MEDFLOW_NOTIFY__SMTP_PORT", "2626")
    s = Settings()
    assert s.notify.smtp_port == 2626
    assert s.notify.smtp_host == "toml"
    assert Settings(runner={"workers": 7}).runner.workers == 7
    monkeypatch.setenv("MEDFLOW_RUNNER__WORKERS", "3")
    assert Settings(runner={"workers": 7}).runner.workers == 7


def test_medflow_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "elsewhere.toml"
    conf.write_text("[labs]\nmax_pdf_pages = 9\n")
    monkeypatch.setenv("MEDFLOW_CONFIG", str(conf))
    assert Settings().labs.max_pdf_pages == 9


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "medflow.toml").write_text("[notify]\nsmtp_hots = 'typo'\n")
    with pytest.raises(ValueError, match="smtp_hots"):
        Settings()


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("MEDFLOW_RUNNER__WORKERS", "5")
    assert get_settings().runner.workers == first.runner.workers
    get_settings.cache_clear()
    assert get_settings().runner.workers == 5


def test_get_settings_wraps_bad_values_in_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLOW_RUNNER__WORKERS", "many")
    with pytest.raises(ConfigError, match="workers"):
        get_settings()


@pytest.mark.parametrize("environment", ["production", "test"])
def test_placeholder_secret_refused_outside_development(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="signing_secret is a placeholder"):
        Settings(environment=environment, security={"signing_secret": "changethis"})
    monkeypatch.setenv("MEDFLOW_ENVIRONMENT", environment)
    monkeypatch.setenv("MEDFLOW_NOTIFY__SMTP_PASSWORD", "changeme")
    with pytest.raises(ConfigError, match="smtp_password is a placeholder"):
        get_settings()


def test_placeholder_secret_allowed_in_development() -> None:
    s = Settings(security={"signing_secret": "changethis"})
    assert signing_secret(s) == b"changethis"


def test_generated_secret_is_stored_once_and_reused(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data")
    key = signing_secret(s)
    assert len(key) == 64
    assert signing_secret(Settings(data_dir=tmp_path / "data")) == key
    assert (tmp_path / "data" / "signing.key").stat().st_mode & 0o077 == 0
    assert signing_secret(Settings(data_dir=tmp_path / "other")) != key


def test_empty_key_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "signing.key").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        signing_secret(Settings(data_dir=tmp_path))


def test_triggers_are_read_from_toml(tmp_path: Path) -> None:
    (tmp_path / "medflow.toml").write_text(
        '[[triggers]]\nbucket = "raw"\nprefix = "scans/"\npipeline = "imaging"\n'
    )
    [rule] = Settings().triggers
    assert (rule.bucket, rule.prefix, rule.pipeline) == ("raw", "scans/", "imaging")


def test_heartbeat_must_be_shorter_than_the_lease() -> None:
    with pytest.raises(ValueError, match="heartbeat_s"):
        Settings(runner={"lease_s": 5, "heartbeat_s": 5})
