"""FHIR R4 building blocks shared by the FHIR renderers: terminology, ids, times, validation.

Which models validate our output: fhir.resources 8 ships FHIR R5 as its default package and the
``R4B`` (4.3.0) and ``STU3`` subpackages; it has no plain R4 (4.0.1) package. R4B is the R4
technical correction: Patient, Observation, DiagnosticReport, Bundle and the data types we use
(Quantity, CodeableConcept, Attachment, Reference, Annotation) have the same elements and
cardinalities in 4.0.1 and 4.3.0, so a Bundle that validates against R4B is valid R4. We write
R4 documents (e.g. ``Attachment.size`` as an unsignedInt, not R5's integer64) and validate them
with ``fhir.resources.R4B``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from medflow.errors import MedflowError

# Fixed namespace for the uuid5 ids of our resources: the same document id always gives the
# same ``urn:uuid:`` (RFC 4122 section 4.3), so rendering a document twice gives one Bundle.
FHIR_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/medflow/medflow/fhir")

JsonDict = dict[str, Any]


class FhirValidationError(MedflowError, ValueError):
    """A FHIR resource we built does not validate; the message names the resource and field."""


@lru_cache(maxsize=1)
def terminology() -> JsonDict:
    """The code systems and codes of ``data/fhir_terminology.yaml`` (loaded once)."""
    text = resources.files("medflow.reports").joinpath("data/fhir_terminology.yaml").read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise FhirValidationError("fhir_terminology.yaml: expected a mapping at the top")
    return data


def system(name: str) -> str:
    """The canonical URL of a code system named in the terminology file (``"loinc"``...)."""
    url = terminology()["systems"][name]
    assert isinstance(url, str)
    return url


def resource_uuid(*parts: str) -> str:
    """A deterministic UUID (v5) for a resource, from the parts that identify it."""
    return str(uuid.uuid5(FHIR_NAMESPACE, "/".join(parts)))


def fhir_datetime(value: datetime, assume_tz: tzinfo = UTC) -> str:
    """A FHIR ``dateTime``/``instant`` string.

    FHIR requires a time zone whenever a time is given (R4 2.1.28.0.1 dateTime); a naive
    ``value`` is taken to be in ``assume_tz``.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume_tz)
    return value.isoformat(timespec="seconds")


def validate_r4_bundle(bundle: JsonDict) -> None:
    """Validate a Bundle (and every resource in it) against the FHIR R4 models.

    Args:
        bundle: the Bundle as JSON-ready dict.

    Raises:
        FhirValidationError: the Bundle breaks the FHIR structure (missing required element,
            wrong type, unknown element, two ``value[x]``, bad base64, bad dateTime...).
        DependencyMissingError: fhir.resources is not installed.
    """
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError as exc:  # pragma: no cover - a core dependency
        from medflow.errors import DependencyMissingError

        raise DependencyMissingError("FHIR validation", "all", "fhir.resources") from exc
    from pydantic import ValidationError

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FhirValidationError(
            f"FHIR Bundle {bundle.get('id', '?')} is invalid at {where}: {first['msg']} "
            f"({exc.error_count()} error(s))"
        ) from exc
