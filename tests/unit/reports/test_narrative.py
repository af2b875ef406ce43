"""LLM narration: the prompt holds only structured facts; a text stating a new number is refused.

The provider is the real OpenAI-compatible client talking to a real HTTP server on loopback.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "llm"))

from chat_server import ChatServer, running_chat_server

from medflow.domain.labs import LabReport
from medflow.platform.llm import OpenAICompatibleProvider
from medflow.reports.narrative import (
    build_narration_prompt,
    check_narration,
    narrate,
    narrate_summary,
    numbers_in,
)

ACCEPTABLE = (
    "Potassium is critically high at 6.90 mmol/L (reference 3.5-5.1). Hemoglobin is low at "
    "10.2 g/dL with an MCV of 72 fL, in keeping with microcytic anemia. Creatinine rose from "
    "0.98 to 1.42 mg/dL (+45%). Platelets of 412 10^3/µL were set aside as noise."
)
INVENTED = "Potassium is critically high at 7.2 mmol/L; hemoglobin is 10.2 g/dL."


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with running_chat_server() as chat:
        yield chat


@pytest.fixture
def provider(server: ChatServer) -> Iterator[OpenAICompatibleProvider]:
    client = OpenAICompatibleProvider(server.url, "local-model", timeout=5)
    yield client
    client.close()


def test_prompt_holds_findings_but_no_identity_or_raw_rows(full_report: LabReport) -> None:
    prompt = build_narration_prompt(full_report.summary, full_report.results)
    assert "Hyperkalemia (critical)" in prompt
    assert "Potassium: 6.9 mmol/L, flag HH (critical high), reference 3.5-5.1, critical" in prompt
    assert "guideline: WHO 2011 haemoglobin thresholds" in prompt
    assert "Platelets 412 10³/µL: 3% above the upper limit 400" in prompt
    assert "0.98 mg/dL on 2025-09-01 then 1.42 mg/dL on 2026-03-14" in prompt
    assert "Jane" not in prompt
    assert "MRN-0042" not in prompt
    assert "Example Diagnostics" not in prompt
    for result in full_report.results:
        assert result.row.line not in prompt
    instructions = prompt.split("DATA")[0]
    assert not re.search(r"\d", instructions)


def test_numbers_compare_by_value() -> None:
    assert numbers_in("6.50 and 6.5 and 006.5") == {Decimal("6.5")}
    assert numbers_in("1,234 cells") == {Decimal(1234)}
    assert numbers_in("6,9") == {Decimal(6), Decimal(9)}
    assert numbers_in("range 3.5-5.1.") == {Decimal("3.5"), Decimal("5.1")}
    assert numbers_in("+45% on 2025-09-01") == {Decimal(45), Decimal(2025), Decimal(9), Decimal(1)}
    assert numbers_in("412 10³/µL, 7.1 x 10^9/L, 5 10*3/uL") == {
        Decimal(412),
        Decimal("7.1"),
        Decimal(5),
    }
    assert numbers_in("100/µL") == {Decimal(100)}


def test_check_refuses_new_numbers_and_empty_text() -> None:
    prompt = "DATA\nPotassium 6.9 mmol/L, reference 3.5-5.1"
    assert check_narration("Potassium 6.90 mmol/L is above 5.1.", prompt).accepted
    verdict = check_narration("Potassium 6.9 mmol/L, up 35% from 5.1.", prompt)
    assert not verdict.accepted
    assert verdict.unsupported == ("35",)
    assert not check_narration("  \n", prompt).accepted
    assert not check_narration("x" * 5000, prompt).accepted


def test_accepted_narration_goes_into_the_summary(
    full_report: LabReport, server: ChatServer, provider: OpenAICompatibleProvider
) -> None:
    server.reply(f"  {ACCEPTABLE}\n")
    summary = narrate_summary(full_report.summary, full_report.results, provider)
    assert summary.narrative == ACCEPTABLE
    assert summary.narrative_provider == "openai-compatible:local-model"
    (request,) = server.received
    sent = request.body["messages"][0]["content"]
    assert sent == build_narration_prompt(full_report.summary, full_report.results)


def test_invented_number_is_rejected_and_logged(
    full_report: LabReport,
    server: ChatServer,
    provider: OpenAICompatibleProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.reply(INVENTED)
    with caplog.at_level(logging.WARNING, logger="medflow.reports.narrative"):
        assert narrate(full_report.summary, full_report.results, provider) is None
    assert "rejected: it states numbers its input does not hold (1 unsupported)" in caplog.text
    assert "7.2" not in caplog.text  # values stay out of the log
    unchanged = narrate_summary(full_report.summary, full_report.results, provider)
    assert unchanged.narrative is None


def test_empty_narration_is_rejected(
    full_report: LabReport, server: ChatServer, provider: OpenAICompatibleProvider
) -> None:
    server.reply("")
    assert narrate(full_report.summary, full_report.results, provider) is None


def test_server_error_gives_no_narration(
    full_report: LabReport,
    server: ChatServer,
    provider: OpenAICompatibleProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.fail(500)
    with caplog.at_level(logging.WARNING, logger="medflow.reports.narrative"):
        assert narrate(full_report.summary, full_report.results, provider) is None
    assert "failed (TransientNarrationError)" in caplog.text
