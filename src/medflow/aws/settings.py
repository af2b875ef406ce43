"""What a deployment chooses (CDK context) and what each pipeline may touch (profiles.yaml).

Context keys, given with ``cdk synth -c key=value``, in ``cdk.json`` under ``"context"``, or as
``medflow aws synth -c key=value``; every key is optional:

============================  ==============================================================
``account``, ``region``       where to deploy (default: the CLI profile's, else us-east-1)
``stack_name``                CloudFormation stack name (``Medflow``)
``vpc_id``                    deploy into this VPC (needs ``account``; default: a new VPC)
``max_azs``, ``nat_gateways`` the new VPC's size (2 AZs, 1 NAT gateway)
``domain_name``               the portal's host name (HTTPS); with ``hosted_zone_id`` and
                              ``hosted_zone_name`` a DNS-validated certificate and an alias
``certificate_arn``           an existing ACM certificate for the portal instead
``email_sender``              the verified SES identity medflow sends from (required to send)
``alarm_email``               who the alarm topic emails (default: nobody subscribed)
``db_instance_class``         RDS class (``t4g.micro``)
``db_multi_az``               standby in a second AZ (``false``)
``deletion_protection``       RDS deletion protection (``true``)
``sweep_minutes``             imaging study sweep period (2)
``portal``                    deploy the portal service (``true``)
============================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from medflow.errors import ConfigError

PROFILES = Path(__file__).with_name("profiles.yaml")

BUCKETS = ("raw", "results", "quarantine", "curated", "insights", "work", "deidentified")
"""medflow's logical buckets; each is one S3 bucket (``raw`` versioned: originals are kept)."""


@dataclass(frozen=True)
class Access:
    """The buckets a function reads, writes and deletes in, and whether it sends email."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    email: bool = False

    @property
    def buckets(self) -> list[str]:
        """Every bucket named, in :data:`BUCKETS` order."""
        named = {*self.read, *self.write, *self.delete}
        return [b for b in BUCKETS if b in named]

    def __post_init__(self) -> None:
        unknown = {*self.read, *self.write, *self.delete} - set(BUCKETS)
        if unknown:
            raise ConfigError(f"{PROFILES.name}: unknown buckets {', '.join(sorted(unknown))}")


@dataclass(frozen=True)
class Profile:
    """A pipeline's (or the failure function's) access and sizes."""

    access: Access
    memory_mb: int = 2048
    tmp_mb: int = 1024
    task_cpu: int = 2048
    task_memory_mb: int = 8192


def _profile(where: str, data: dict[str, Any]) -> Profile:
    known = {
        "read",
        "write",
        "delete",
        "email",
        "memory_mb",
        "tmp_mb",
        "task_cpu",
        "task_memory_mb",
    }
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{PROFILES.name}: {where}: unknown keys {', '.join(sorted(unknown))}")
    access = Access(
        read=tuple(data.get("read", ())),
        write=tuple(data.get("write", ())),
        delete=tuple(data.get("delete", ())),
        email=bool(data.get("email", False)),
    )
    sizes = {
        k: int(v) for k, v in data.items() if k in known - {"read", "write", "delete", "email"}
    }
    return Profile(access, **sizes)


@lru_cache(maxsize=1)
def load_profiles() -> tuple[dict[str, Profile], Profile]:
    """Pipeline profiles by name, and the failure function's profile.

    Raises:
        ConfigError: an unknown key or bucket in profiles.yaml.
    """
    data = yaml.safe_load(PROFILES.read_text())
    pipelines = {name: _profile(name, p) for name, p in data["pipelines"].items()}
    return pipelines, _profile("failure", data["failure"])


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DeploySettings:
    """The CDK context a deployment is synthesised with (see the module docstring)."""

    account: str | None = None
    region: str | None = None
    stack_name: str = "Medflow"
    vpc_id: str | None = None
    max_azs: int = 2
    nat_gateways: int = 1
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    certificate_arn: str | None = None
    email_sender: str | None = None
    alarm_email: str | None = None
    db_instance_class: str = "t4g.micro"
    db_multi_az: bool = False
    deletion_protection: bool = True
    sweep_minutes: int = 2
    portal: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_context(cls, get: Any) -> DeploySettings:
        """Read every key with ``get(key)`` (``App.node.try_get_context``); None: default.

        Raises:
            ConfigError: a value of the wrong type.
        """
        values: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name == "extra":
                continue
            raw = get(name)
            if raw is None or raw == "":
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[name] = _bool(raw)
                elif isinstance(default, int):
                    values[name] = int(raw)
                else:
                    values[name] = str(raw)
            except ValueError as exc:
                raise ConfigError(f"CDK context {name}={raw!r}: {exc}") from exc
        settings = cls(**values)
        if settings.vpc_id and not settings.account:
            raise ConfigError("CDK context vpc_id needs account (and region) to look the VPC up")
        if settings.hosted_zone_id and not (settings.domain_name and settings.hosted_zone_name):
            raise ConfigError("CDK context hosted_zone_id needs domain_name and hosted_zone_name")
        return settings
