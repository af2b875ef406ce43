"""The ``NarrationProvider`` port: text in, text out, errors translated at the boundary.

Errors (all under ``MedflowError``)::

    NarrationError
    ├── NarrationRequestError(ValueError)      4xx other than 408/429: refused, do not retry
    ├── NarrationResponseError                 a reply that is not the protocol's shape
    └── TransientNarrationError(TransientError) 5xx, 408, 429, connection failures
        └── NarrationTimeoutError(TimeoutError)

A provider sends data out of the premises; it is used only when configured
(``MEDFLOW_LLM__PROVIDER``) and receives only what ``reports.narrative`` builds from structured
findings. Providers never log prompts, replies or keys: only the provider name, model, status
and duration.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from medflow.errors import MedflowError, TransientError


class NarrationError(MedflowError):
    """A language model could not produce a narration."""


class NarrationRequestError(NarrationError, ValueError):
    """The provider refused the request (bad model name, bad key, too long): do not retry."""


class NarrationResponseError(NarrationError):
    """The provider answered, but not in the shape its protocol promises."""


class TransientNarrationError(NarrationError, TransientError):
    """The provider is down, overloaded or unreachable: worth trying again later."""


class NarrationTimeoutError(TransientNarrationError, TimeoutError):
    """The provider did not answer within the timeout."""


@runtime_checkable
class NarrationProvider(Protocol):
    """A language model that turns a prompt into text.

    Attributes:
        name: a short label for logs and for ``LabSummary.narrative_provider``
            (e.g. ``"openai-compatible:llama3.1"``).
    """

    @property
    def name(self) -> str:
        """The provider's label."""
        ...

    def narrate(self, prompt: str) -> str:
        """The model's answer to ``prompt``.

        Raises:
            TransientNarrationError: a failure worth retrying (timeout, 5xx, rate limit).
            NarrationRequestError: the request was refused.
            NarrationResponseError: the reply could not be read.
        """
        ...


def error_for_status(provider: str, status: int, detail: str = "") -> NarrationError:
    """The error for an HTTP status from a provider: transient for 408, 429 and 5xx.

    Args:
        provider: the provider's name, for the message.
        status: the HTTP status code.
        detail: a short reason from the reply (never the prompt).
    """
    suffix = f": {detail[:200]}" if detail else ""
    message = f"{provider} answered HTTP {status}{suffix}"
    if status in (408, 429) or status >= 500:
        return TransientNarrationError(message)
    return NarrationRequestError(message)
