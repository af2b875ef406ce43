"""The OpenAI-compatible provider against a real HTTP server on loopback."""

from __future__ import annotations

import socket

import pytest
from chat_server import ChatServer, Reply

from medflow.errors import TransientError
from medflow.platform.llm import (
    NarrationProvider,
    NarrationRequestError,
    NarrationResponseError,
    NarrationTimeoutError,
    OpenAICompatibleProvider,
    TransientNarrationError,
)
from medflow.platform.llm.openai_compat import chat_completions_url


def test_sends_a_chat_completion_and_returns_the_message(chat_server: ChatServer) -> None:
    chat_server.reply("Potassium is high.")
    provider = OpenAICompatibleProvider(chat_server.url, "llama3.1:8b", api_key="sk-local")
    assert isinstance(provider, NarrationProvider)
    assert provider.narrate("Summarise: potassium 6.9") == "Potassium is high."
    (request,) = chat_server.received
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "llama3.1:8b"
    assert request.body["messages"] == [{"role": "user", "content": "Summarise: potassium 6.9"}]
    assert request.body["temperature"] == 0.0
    assert request.headers["Authorization"] == "Bearer sk-local"
    assert provider.name == "openai-compatible:llama3.1:8b"
    provider.close()


def test_no_key_sends_no_authorization(chat_server: ChatServer) -> None:
    chat_server.reply("ok")
    with OpenAICompatibleProvider(chat_server.url + "/v1/", "m") as provider:
        provider.narrate("x")
    assert "Authorization" not in chat_server.received[0].headers


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_server_errors_and_rate_limits_are_transient(chat_server: ChatServer, status: int) -> None:
    chat_server.fail(status)
    with pytest.raises(TransientNarrationError, match=f"HTTP {status}") as info:
        OpenAICompatibleProvider(chat_server.url, "m").narrate("x")
    assert isinstance(info.value, TransientError)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_permanent(chat_server: ChatServer, status: int) -> None:
    chat_server.fail(status)
    with pytest.raises(NarrationRequestError, match="test failure") as info:
        OpenAICompatibleProvider(chat_server.url, "m").narrate("x")
    assert not isinstance(info.value, TransientError)


def test_server_validation_error_is_permanent(chat_server: ChatServer) -> None:
    with pytest.raises(NarrationRequestError, match="model and messages are required"):
        OpenAICompatibleProvider(chat_server.url, "").narrate("x")


def test_timeout_is_transient(chat_server: ChatServer) -> None:
    chat_server.replies.append(Reply(text="late", delay_s=1.0))
    with pytest.raises(NarrationTimeoutError):
        OpenAICompatibleProvider(chat_server.url, "m", timeout=0.2).narrate("x")


def test_unreachable_server_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientNarrationError, match="could not be reached"):
        OpenAICompatibleProvider(f"http://127.0.0.1:{port}", "m", timeout=2).narrate("x")


@pytest.mark.parametrize(
    "raw", [b"not json", b'{"choices": []}', b'{"choices": [{"message": {}}]}']
)
def test_malformed_reply_is_a_response_error(chat_server: ChatServer, raw: bytes) -> None:
    chat_server.replies.append(Reply(raw=raw))
    with pytest.raises(NarrationResponseError):
        OpenAICompatibleProvider(chat_server.url, "m").narrate("x")


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h:11434", "http://h:11434/v1/chat/completions"),
        ("http://h:11434/v1", "http://h:11434/v1/chat/completions"),
        ("http://h/v1/chat/completions", "http://h/v1/chat/completions"),
    ],
)
def test_base_url_with_or_without_v1(base: str, url: str) -> None:
    assert chat_completions_url(base) == url
