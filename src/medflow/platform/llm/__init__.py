"""Optional language-model providers for narration (off by default: they send data out).

Build one from configuration with :func:`provider_from_settings`; ``reports.narrative`` decides
what a provider sees and checks what it says.
"""

from __future__ import annotations

from medflow.errors import ConfigError
from medflow.platform.config import LlmSettings
from medflow.platform.llm.base import (
    NarrationError,
    NarrationProvider,
    NarrationRequestError,
    NarrationResponseError,
    NarrationTimeoutError,
    TransientNarrationError,
)
from medflow.platform.llm.gemini import GeminiProvider
from medflow.platform.llm.openai_compat import OpenAICompatibleProvider

__all__ = [
    "GeminiProvider",
    "NarrationError",
    "NarrationProvider",
    "NarrationRequestError",
    "NarrationResponseError",
    "NarrationTimeoutError",
    "OpenAICompatibleProvider",
    "TransientNarrationError",
    "provider_from_settings",
]


def provider_from_settings(settings: LlmSettings) -> NarrationProvider | None:
    """The provider the ``llm`` settings group names, or None when narration is off.

    Raises:
        ConfigError: a provider is chosen without the endpoint or model it needs.
        DependencyMissingError: ``gemini`` is chosen and google-genai is not installed.
    """
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if settings.provider == "none":
        return None
    if not settings.model:
        raise ConfigError(f"llm.model must be set for the {settings.provider} provider")
    if settings.provider == "openai":
        if not settings.endpoint:
            raise ConfigError("llm.endpoint must be set for the openai provider")
        return OpenAICompatibleProvider(
            settings.endpoint, settings.model, api_key=key, timeout=settings.timeout_s
        )
    return GeminiProvider(
        settings.model, api_key=key, timeout=settings.timeout_s, base_url=settings.endpoint
    )
