"""The doctor's email from the labs pipeline, delivered to a real SMTP server on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from email.message import EmailMessage
from importlib import resources
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from smtp_server import SmtpServer

from medflow.pipelines.labs import build_pipeline
from medflow.platform import Platform, Settings

pytestmark = pytest.mark.service("smtp")

SAMPLES = Path(str(resources.files("medflow.samples").joinpath("labs")))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_doctor_email_reaches_smtp_with_critical_values_first(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        notify={  # type: ignore[arg-type]
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "from_address": "labs@hospital.test",
        },
    )
    meta = {
        "patient_id": "MRN-0042",
        "patient_name": "Grace Hopper",
        "sex": "female",
        "age": "39",
        "doctor_email": "dr.critical@hospital.test",
    }
    with Platform(settings, pipelines=[build_pipeline()]) as platform:
        eid = platform.ingest(
            (SAMPLES / "india-lab.pdf").read_bytes(), "india-lab.pdf", "labs", meta
        )
        rec = platform.runner.wait(eid, timeout=300)
        assert rec.status == "succeeded", rec.error
        sent = platform.services.db.notifications.list(document_id=rec.document_id)
        assert [n.status for n in sent] == ["sent"]

    assert len(smtp.handler.messages) == 1
    message = smtp.handler.messages[0]
    assert smtp.handler.envelopes[0][1] == ["dr.critical@hospital.test"]
    subject = str(message["Subject"])
    assert subject.startswith("CRITICAL: Platelet count")
    assert "MRN-0042" in subject
    assert "Grace" not in subject
    text = _body(message, "plain")
    html = _body(message, "html")
    # The critical value comes before every other finding and abnormal value.
    first_critical = text.index("Platelet count")
    for later in ("Red blood cell count", "Neutrophils", "Monocytes"):
        assert first_critical < text.index(later), later
    assert html.index("Platelet count") < html.index("Neutrophils")
    assert f"/reports/{rec.document_id}" in text, "a link to the report page"
