"""Google Gemini through the google-genai SDK (the ``llm`` extra). Sends data to Google.

The SDK is imported when the provider is built, so medflow runs without it; a missing SDK reads
"narration with Gemini needs the llm extra".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from medflow.errors import DependencyMissingError
from medflow.platform.llm.base import (
    NarrationResponseError,
    NarrationTimeoutError,
    TransientNarrationError,
    error_for_status,
)

log = logging.getLogger(__name__)


class GeminiProvider:
    """A ``NarrationProvider`` for Gemini models.

    Args:
        model: the model name, e.g. ``gemini-2.5-flash``.
        api_key: the Gemini API key; None lets the SDK read ``GEMINI_API_KEY``.
        timeout: seconds for the whole request.
        temperature: sampling temperature.
        base_url: another endpoint speaking the Gemini API (a proxy, a test server).

    Raises:
        DependencyMissingError: google-genai is not installed.
    """

    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        temperature: float = 0.0,
        base_url: str | None = None,
    ) -> None:
        try:
            from google import genai
            from google.genai import types
        except ImportError as exc:
            raise DependencyMissingError("narration with Gemini", "llm", "google-genai") from exc
        self.model = model
        self._types = types
        # HttpOptions.timeout is in milliseconds.
        options = types.HttpOptions(timeout=int(timeout * 1000), base_url=base_url)
        self._client: Any = genai.Client(api_key=api_key, http_options=options)
        self._config = types.GenerateContentConfig(temperature=temperature)

    @property
    def name(self) -> str:
        """``gemini:<model>``."""
        return f"gemini:{self.model}"

    def narrate(self, prompt: str) -> str:
        """The model's answer to ``prompt``.

        Raises:
            NarrationTimeoutError: no answer within the timeout.
            TransientNarrationError: 5xx, 408, 429 or a connection failure.
            NarrationRequestError: any other 4xx (bad key, unknown model).
            NarrationResponseError: an answer without text (e.g. blocked by safety filters).
        """
        import httpx
        from google.genai import errors

        started = time.perf_counter()
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=prompt, config=self._config
            )
        except errors.APIError as exc:
            raise error_for_status(self.name, int(exc.code or 0), str(exc.status or "")) from exc
        except httpx.TimeoutException as exc:
            raise NarrationTimeoutError(f"{self.name} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise TransientNarrationError(f"{self.name} could not be reached") from exc
        log.info("narration by %s in %.2f s", self.name, time.perf_counter() - started)
        text = getattr(response, "text", None)
        if not isinstance(text, str) or not text:
            raise NarrationResponseError(f"{self.name} returned no text (blocked or empty)")
        return text
