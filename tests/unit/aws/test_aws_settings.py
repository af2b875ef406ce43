"""Deployment settings: CDK context, pipeline profiles, the database secret RDS generates."""

from __future__ import annotations

import json

import pytest

from medflow.aws.app import declared_pipelines
from medflow.aws.runtime import database_url_from_secret
from medflow.aws.settings import Access, DeploySettings, load_profiles
from medflow.errors import ConfigError


def test_every_deployed_pipeline_has_a_profile_naming_known_buckets() -> None:
    profiles, failure = load_profiles()
    assert {p.name for p in declared_pipelines()} <= set(profiles)
    assert failure.access.write == ("quarantine", "work")


def test_a_profile_with_an_unknown_bucket_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown buckets secrets"):
        Access(read=("raw", "secrets"))


def test_context_values_are_typed_and_checked() -> None:
    context = {"max_azs": "3", "db_multi_az": "true", "portal": "false", "region": "eu-west-1"}
    deploy = DeploySettings.from_context(context.get)
    assert (deploy.max_azs, deploy.db_multi_az, deploy.portal) == (3, True, False)
    with pytest.raises(ConfigError, match="max_azs"):
        DeploySettings.from_context({"max_azs": "two"}.get)
    with pytest.raises(ConfigError, match="vpc_id needs account"):
        DeploySettings.from_context({"vpc_id": "vpc-123"}.get)


def test_the_rds_secret_becomes_a_url_with_its_password_escaped() -> None:
    secret = {
        "username": "medflow",
        "password": "p@ss/w:rd",
        "host": "db.internal",
        "port": 5432,
        "dbname": "medflow",
        "engine": "postgres",
    }
    url = database_url_from_secret(json.dumps(secret))
    assert url == "postgresql+psycopg://medflow:p%40ss%2Fw%3Ard@db.internal:5432/medflow"
    with pytest.raises(ConfigError, match="not an RDS credentials secret"):
        database_url_from_secret('{"username": "x"}')
