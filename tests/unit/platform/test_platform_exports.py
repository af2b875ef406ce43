"""The platform's public names are held in place: removing one is a breaking change."""

from __future__ import annotations

import medflow.platform

EXPECTED = {
    "NO_RETRY",
    "Attachment",
    "Database",
    "Finding",
    "InboxWatcher",
    "Message",
    "Notifier",
    "ObjectEvent",
    "ObjectStore",
    "Observation",
    "Pipeline",
    "PipelineRegistry",
    "Platform",
    "RetryPolicy",
    "Runner",
    "Services",
    "Settings",
    "Step",
    "StepContext",
    "ThreadRunner",
    "TriggerTable",
    "build_notifier",
    "build_runner",
    "build_services",
    "build_store",
    "connect_triggers",
    "get_settings",
    "signing_secret",
}


def test_exported_members() -> None:
    assert set(medflow.platform.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(medflow.platform, name) is not None
