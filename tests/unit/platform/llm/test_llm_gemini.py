"""The Gemini provider: the real google-genai SDK against a generateContent server on loopback."""

from __future__ import annotations

import sys

import pytest
from chat_server import ChatServer

from medflow.errors import DependencyMissingError, TransientError
from medflow.platform.llm import GeminiProvider, NarrationRequestError, TransientNarrationError


def test_generate_content_round_trip(chat_server: ChatServer) -> None:
    chat_server.reply("Hemoglobin is low.")
    provider = GeminiProvider("gemini-test", api_key="k-test", base_url=chat_server.url)
    assert provider.narrate("Summarise: hemoglobin 10.2") == "Hemoglobin is low."
    (request,) = chat_server.received
    assert request.path.split("?")[0].endswith("/models/gemini-test:generateContent")
    assert request.body["contents"][0]["parts"][0]["text"] == "Summarise: hemoglobin 10.2"
    assert request.headers["x-goog-api-key"] == "k-test"
    assert provider.name == "gemini:gemini-test"


def test_server_error_is_transient(chat_server: ChatServer) -> None:
    chat_server.fail(503)
    provider = GeminiProvider("gemini-test", api_key="k", base_url=chat_server.url)
    with pytest.raises(TransientNarrationError, match="HTTP 503") as info:
        provider.narrate("x")
    assert isinstance(info.value, TransientError)


def test_bad_key_is_permanent(chat_server: ChatServer) -> None:
    chat_server.fail(403)
    provider = GeminiProvider("gemini-test", api_key="k", base_url=chat_server.url)
    with pytest.raises(NarrationRequestError, match="HTTP 403"):
        provider.narrate("x")


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)
    with pytest.raises(DependencyMissingError, match=r"medflow\[llm\]"):
        GeminiProvider("gemini-test", api_key="k")
