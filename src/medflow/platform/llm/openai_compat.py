"""Any server speaking OpenAI's Chat Completions protocol: Ollama, llama.cpp server, vLLM, OpenAI.

``POST {base_url}/v1/chat/completions`` with ``{"model", "messages", "temperature"}``; the
answer is ``choices[0].message.content``. Ollama (``http://localhost:11434``) and llama.cpp's
``llama-server`` (``http://localhost:8080``) both serve this path, so a local model keeps PHI on
the premises.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from medflow.platform.llm.base import (
    NarrationResponseError,
    NarrationTimeoutError,
    TransientNarrationError,
    error_for_status,
)

log = logging.getLogger(__name__)


def chat_completions_url(base_url: str) -> str:
    """The endpoint for a base URL given with or without its ``/v1`` suffix."""
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/chat/completions"


class OpenAICompatibleProvider:
    """A ``NarrationProvider`` for an OpenAI-compatible Chat Completions endpoint.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:11434`` (``/v1`` optional).
        model: the model name the server knows (``llama3.1:8b``).
        api_key: sent as ``Authorization: Bearer``; None for local servers.
        timeout: seconds for the whole request.
        temperature: sampling temperature; 0 keeps the wording close to the facts given.
        max_tokens: the longest answer asked for.
        transport: an httpx transport (tests, proxies); None for the network.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        temperature: float = 0.0,
        max_tokens: int = 600,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = chat_completions_url(base_url)
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    @property
    def name(self) -> str:
        """``openai-compatible:<model>``."""
        return f"openai-compatible:{self.model}"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAICompatibleProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def narrate(self, prompt: str) -> str:
        """Send ``prompt`` as one user message and return the answer's text.

        Raises:
            NarrationTimeoutError: no answer within the timeout.
            TransientNarrationError: connection failure, HTTP 408/429/5xx.
            NarrationRequestError: any other HTTP 4xx.
            NarrationResponseError: the body is not a chat completion.
        """
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": False,
        }
        started = time.perf_counter()
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise NarrationTimeoutError(f"{self.name} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise TransientNarrationError(
                f"{self.name} could not be reached at {self.url}: {type(exc).__name__}"
            ) from exc
        log.info(
            "narration by %s: HTTP %s in %.2f s",
            self.name,
            response.status_code,
            time.perf_counter() - started,
        )
        if response.status_code >= 400:
            raise error_for_status(self.name, response.status_code, _error_detail(response))
        return _content(self.name, response)


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or response.reason_phrase)


def _content(provider: str, response: httpx.Response) -> str:
    try:
        data: Any = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise NarrationResponseError(
            f"{provider} sent a reply that is not a chat completion"
        ) from exc
    if not isinstance(content, str):
        raise NarrationResponseError(f"{provider} sent a non-text message content")
    return content
