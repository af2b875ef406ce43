"""The platform as a Lambda function or Fargate task sees it, built once per container.

Everything comes from the environment the CDK app sets (``MEDFLOW_*``: S3 buckets, SES sender,
state machine ARNs), plus two secrets read from Secrets Manager at start: the RDS database's
credentials (``aws.database_secret_arn``, the JSON secret RDS generates) and the signing secret
(``aws.signing_secret_arn``). Nothing is written outside ``/tmp``, the only writable folder of
a Lambda function.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from medflow.errors import ConfigError, DependencyMissingError
from medflow.platform.config import Settings
from medflow.platform.events import TriggerTable
from medflow.platform.runner import PipelineRegistry, Runner
from medflow.platform.runner.context import Services
from medflow.platform.storage import ObjectEvent

log = logging.getLogger(__name__)


def _secret(arn: str, client: Any | None) -> str:
    if client is None:
        try:
            import boto3
        except ImportError as exc:
            raise DependencyMissingError("the AWS handlers", "aws", "boto3") from exc
        client = boto3.client("secretsmanager")
    try:
        return str(client.get_secret_value(SecretId=arn)["SecretString"])
    except Exception as exc:  # boto3 raises many types; none may cross this boundary
        raise ConfigError(f"cannot read the secret {arn} ({type(exc).__name__})") from exc


def database_url_from_secret(text: str) -> str:
    """The SQLAlchemy URL for the JSON secret RDS generates (``engine``, ``host``, ``port``,
    ``username``, ``password``, ``dbname``).

    Raises:
        ConfigError: the secret lacks a field.
    """
    try:
        data = json.loads(text)
        user, password = quote(data["username"], safe=""), quote(data["password"], safe="")
        host, port = data["host"], int(data.get("port") or 5432)
        name = data.get("dbname") or "medflow"
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the database secret is not an RDS credentials secret: {exc}") from exc
    return f"postgresql+psycopg://{user}:{password}@{host}:{port}/{name}"


def settings_from_environment(secrets_client: Any | None = None) -> Settings:
    """Settings from ``MEDFLOW_*``, completed with the secrets the environment names.

    Raises:
        ConfigError: a secret cannot be read or is malformed; a setting is invalid.
    """
    try:
        base = Settings()
        extra: dict[str, Any] = {}
        if base.database.url is None and base.aws.database_secret_arn:
            text = _secret(base.aws.database_secret_arn, secrets_client)
            extra["database"] = {"url": database_url_from_secret(text)}
        if base.security.signing_secret is None and base.aws.signing_secret_arn:
            extra["security"] = {
                "signing_secret": _secret(base.aws.signing_secret_arn, secrets_client)
            }
        return Settings(**extra) if extra else base
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


@dataclass(frozen=True)
class Runtime:
    """What a handler needs: the adapters, the pipelines, the runner and the triggers."""

    services: Services
    registry: PipelineRegistry
    runner: Runner
    triggers: TriggerTable

    def ingest(self, event_name: str, physical_bucket: str, key: str) -> str | None:
        """Submit an object S3 reported to the pipeline its trigger names.

        Copies (quarantine moves, hash write-backs), the S3 store's metadata sidecars and
        objects of buckets that are not medflow's start nothing, as with the queue consumer
        of the at-scale deployment (:mod:`medflow.platform.storage.s3_events`).

        Returns:
            The execution id, or None when the object starts nothing (it is left alone).

        Raises:
            TransientError: S3, the database or Step Functions failed in a way worth retrying.
        """
        from medflow.platform.storage.s3 import SIDECAR_PREFIX, S3ObjectStore

        if not event_name.startswith("ObjectCreated:") or event_name == "ObjectCreated:Copy":
            return None
        store = self.services.store
        bucket = store.logical(physical_bucket) if isinstance(store, S3ObjectStore) else None
        if bucket is None or key.startswith(SIDECAR_PREFIX):
            log.info("event for %s/%s: not a medflow object; ignored", physical_bucket, key)
            return None
        pipeline = self.triggers.match(bucket, key)
        if pipeline is None or pipeline not in self.registry:
            log.info("no pipeline for %s/%s; left in place", bucket, key)
            return None
        obj = self.services.store.head(bucket, key)
        event = ObjectEvent(bucket, key, obj.sha256, obj.size, dict(obj.metadata))
        return self.runner.submit(pipeline, event)


def build_runtime(settings: Settings) -> Runtime:
    """Services, every default pipeline, the configured runner and the trigger table."""
    from medflow.pipelines import default_pipelines
    from medflow.platform.services import build_runner, build_services

    services = build_services(settings)
    registry = PipelineRegistry(default_pipelines(settings))
    return Runtime(
        services=services,
        registry=registry,
        runner=build_runner(services, registry),
        triggers=TriggerTable(settings.triggers),
    )


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """The container's runtime, built on the first invocation and reused by the next ones
    (Lambda keeps a container warm between invocations)."""
    return build_runtime(settings_from_environment())
