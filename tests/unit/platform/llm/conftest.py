"""A chat-completions server on loopback for the provider tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures" / "llm"))

from chat_server import ChatServer, running_chat_server


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real HTTP server speaking Chat Completions and generateContent on 127.0.0.1."""
    with running_chat_server() as server:
        yield server
