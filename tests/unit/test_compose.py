"""compose.yaml cannot run here (no container engine): check what can be checked, that every
setting it gives is one medflow accepts and that it wires the at-scale adapters."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from medflow.platform.config import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"
_VAR = re.compile(r"\$\{([A-Z_]+)(?::[?-]([^}]*))?\}")


def _expand(value: str) -> str:
    """Compose's ${VAR:?message} and ${VAR:-default}, with a test value for required ones."""
    return _VAR.sub(lambda m: f"test-{m.group(1).lower()}-x9", value)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_every_medflow_setting_in_compose_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _compose()["x-medflow-env"]
    assert all(name.startswith("MEDFLOW_") for name in env)
    for name, value in env.items():
        monkeypatch.setenv(name, _expand(str(value)))
    settings = Settings()
    assert settings.environment == "production"
    assert settings.storage.backend == "s3"
    assert settings.runner.backend == "celery"
    assert settings.database_url.startswith("postgresql+psycopg://medflow:")
    assert settings.runner.broker_url.endswith("@rabbitmq:5672/medflow")


def test_compose_runs_the_portal_and_workers_on_the_services_it_starts() -> None:
    services = _compose()["services"]
    assert {"postgres", "rabbitmq", "minio", "portal", "worker"} <= set(services)
    assert services["portal"]["command"][:2] == ["medflow", "serve"]
    assert services["worker"]["command"][:2] == ["medflow", "worker"]
    for name in ("portal", "worker"):
        needs = services[name]["depends_on"]
        assert {k for k, v in needs.items() if v["condition"] == "service_healthy"} == {
            "postgres",
            "rabbitmq",
            "minio",
        }
        assert "healthcheck" in services["postgres"]
