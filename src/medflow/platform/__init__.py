"""The platform: ports (object store, database, runner, notifier) and their adapters.

Typical use::

    from medflow.platform import Platform, get_settings
    platform = Platform(get_settings(), pipelines=[...])
    platform.start()
"""

from medflow.platform.config import Settings, get_settings, signing_secret
from medflow.platform.db import Database, Finding, Observation
from medflow.platform.events import InboxWatcher, TriggerTable, connect_triggers
from medflow.platform.notify import Attachment, Message, Notifier
from medflow.platform.runner import (
    NO_RETRY,
    Pipeline,
    PipelineRegistry,
    RetryPolicy,
    Runner,
    Services,
    Step,
    StepContext,
    ThreadRunner,
)
from medflow.platform.services import (
    Platform,
    build_notifier,
    build_runner,
    build_services,
    build_store,
)
from medflow.platform.storage import ObjectEvent, ObjectStore

__all__ = [
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
]
