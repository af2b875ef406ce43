"""The object store port and its embedded adapters."""

from medflow.platform.storage.base import (
    InvalidKeyError,
    Method,
    ObjectEvent,
    ObjectStore,
    StoredObject,
    Subscriber,
    sha256_hex,
    validate_bucket,
    validate_key,
)
from medflow.platform.storage.local import LocalObjectStore
from medflow.platform.storage.memory import MemoryObjectStore

__all__ = [
    "InvalidKeyError",
    "LocalObjectStore",
    "MemoryObjectStore",
    "Method",
    "ObjectEvent",
    "ObjectStore",
    "StoredObject",
    "Subscriber",
    "sha256_hex",
    "validate_bucket",
    "validate_key",
]
