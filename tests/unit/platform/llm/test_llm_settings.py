"""Building a provider from the ``llm`` settings group."""

from __future__ import annotations

import pytest

from medflow.errors import ConfigError
from medflow.platform.config import LlmSettings
from medflow.platform.llm import GeminiProvider, OpenAICompatibleProvider, provider_from_settings


def test_narration_is_off_by_default() -> None:
    assert provider_from_settings(LlmSettings()) is None


def test_openai_compatible_from_settings() -> None:
    settings = LlmSettings(
        provider="openai", endpoint="http://127.0.0.1:11434", model="llama3.1", api_key="sk-x"
    )
    provider = provider_from_settings(settings)
    assert isinstance(provider, OpenAICompatibleProvider)
    assert provider.url == "http://127.0.0.1:11434/v1/chat/completions"
    assert provider.name == "openai-compatible:llama3.1"


def test_gemini_from_settings() -> None:
    provider = provider_from_settings(LlmSettings(provider="gemini", model="gemini-x", api_key="k"))
    assert isinstance(provider, GeminiProvider)


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        (LlmSettings(provider="openai", model="m"), "endpoint"),
        (LlmSettings(provider="openai", endpoint="http://h"), "model"),
        (LlmSettings(provider="gemini"), "model"),
    ],
)
def test_incomplete_settings_are_refused(settings: LlmSettings, missing: str) -> None:
    with pytest.raises(ConfigError, match=f"llm.{missing}"):
        provider_from_settings(settings)
