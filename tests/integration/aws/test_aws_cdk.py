"""``medflow aws synth``: the CloudFormation template passes cfn-lint and says what the issue
asks (encryption, no public access, TLS only, least privilege per function, state machines
generated with Retry per RetryPolicy and a Catch on every Task, dead letters, alarms).

One synthesis per session (aws-cdk-lib runs on Node through jsii: ~20-40 s), shared by every
test here, made through the CLI command itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medflow.aws.app import declared_pipelines
from medflow.aws.asl import RETRYABLE_ERROR, retry_block
from medflow.aws.settings import BUCKETS, Access, load_profiles
from medflow.aws.stack import BUCKET_ACTIONS
from medflow.cli import app

pytestmark = pytest.mark.slow

SENDER = "reports@example.org"
PIPELINES = {p.name: p for p in declared_pipelines()}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("cdk")
    result = CliRunner().invoke(
        app,
        [
            "aws",
            "synth",
            "--out",
            str(out),
            "-c",
            f"email_sender={SENDER}",
            "-c",
            "alarm_email=ops@example.org",
            "-c",
            "region=eu-west-1",
        ],
    )
    assert result.exit_code == 0, result.output
    path = Path(result.output.split(" (")[0].strip())
    return path, json.loads(path.read_text())


@pytest.fixture(scope="session")
def template(synthesized: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return synthesized[1]


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _refs(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, Fn::GetAtt), anywhere inside it."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for v in value.values():
            found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _data_buckets(template: dict[str, Any]) -> dict[str, str]:
    """medflow bucket name -> logical id (the access-log bucket is not a data bucket)."""
    ids = {"".join(p.capitalize() for p in name.split("_")) + "Bucket": name for name in BUCKETS}
    out = {}
    for logical in _of_type(template, "AWS::S3::Bucket"):
        for prefix, name in ids.items():
            if logical.startswith(prefix):
                out[name] = logical
    assert sorted(out) == sorted(BUCKETS)
    return out


def test_the_template_passes_cfn_lint(synthesized: tuple[Path, dict[str, Any]]) -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(synthesized[0], config=ManualArgs(regions=["eu-west-1"]))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_data_buckets_are_private_encrypted_tls_only_and_raw_is_versioned(
    template: dict[str, Any],
) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    policies = _of_type(template, "AWS::S3::BucketPolicy")
    for name, logical in _data_buckets(template).items():
        props = buckets[logical]["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert _refs(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        versioned = props.get("VersioningConfiguration", {}).get("Status") == "Enabled"
        assert versioned == (name == "raw"), name
        policy = next(p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": logical})
        denies = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def _policies_of(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    out = []
    for p in _of_type(template, "AWS::IAM::Policy").values():
        roles = {r["Ref"] for r in p["Properties"].get("Roles", []) if "Ref" in r}
        if any(r.startswith(role_prefix) for r in roles):
            out += p["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else list(a)


def test_no_role_has_a_wildcard_action_on_a_data_bucket(template: dict[str, Any]) -> None:
    bucket_ids = set(_data_buckets(template).values())
    checked = 0
    for p in _of_type(template, "AWS::IAM::Policy").values():
        for s in p["Properties"]["PolicyDocument"]["Statement"]:
            if not _refs(s.get("Resource")) & bucket_ids:
                continue
            checked += 1
            for action in _actions(s):
                assert "*" not in action, (s.get("Sid"), action)
                # The one exception: CDK's deploy-time handler that wires raw -> SQS.
                assert action in BUCKET_ACTIONS or action == "s3:PutBucketNotification"
    assert checked >= 20


def _bucket_actions(
    template: dict[str, Any], statements: list[dict[str, Any]]
) -> dict[str, set[str]]:
    """medflow bucket -> the S3 actions ``statements`` grant on it."""
    buckets = _data_buckets(template)
    granted: dict[str, set[str]] = {}
    for s in statements:
        for logical in _refs(s.get("Resource")):
            for bucket, bid in buckets.items():
                if bid == logical:
                    granted.setdefault(bucket, set()).update(_actions(s))
    return granted


def _expected_actions(access: Access) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {}
    for b in access.buckets:
        acts = {"s3:ListBucket"}
        acts |= {"s3:GetObject"} if b in access.read else set()
        acts |= {"s3:PutObject", "s3:AbortMultipartUpload"} if b in access.write else set()
        acts |= {"s3:DeleteObject"} if b in access.delete else set()
        expected[b] = acts
    return expected


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_each_step_function_gets_exactly_its_profile(template: dict[str, Any], name: str) -> None:
    profile = load_profiles()[0][name]
    role = "".join(p.capitalize() for p in name.split("_")) + "StepsServiceRole"
    statements = _policies_of(template, role)
    assert _bucket_actions(template, statements) == _expected_actions(profile.access)
    email = [s for s in statements if "ses:SendRawEmail" in _actions(s)]
    assert bool(email) == profile.access.email
    start = [s for s in statements if "states:StartExecution" in _actions(s)]
    assert start == []  # a step never starts pipelines


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_state_machines_are_the_declarations_with_retry_and_catch(
    template: dict[str, Any], name: str
) -> None:
    pipeline = PIPELINES[name]
    machines = _of_type(template, "AWS::StepFunctions::StateMachine")
    wanted = f"medflow pipeline {name} version {pipeline.version},"
    found = [
        json.loads(m["Properties"]["DefinitionString"])
        for m in machines.values()
        if wanted in m["Properties"]["DefinitionString"]
    ]
    assert len(found) == 1
    states = found[0]["States"]
    for step in pipeline.steps:
        own = [r for r in states[step.name]["Retry"] if RETRYABLE_ERROR in r["ErrorEquals"]]
        assert own == [retry_block(step.retry)]
    for state_name, state in states.items():
        if state["Type"] == "Task":
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], state_name


def test_the_records_machine_runs_its_long_steps_on_fargate_with_the_same_profile(
    template: dict[str, Any],
) -> None:
    machines = _of_type(template, "AWS::StepFunctions::StateMachine")
    [definition] = [
        json.loads(m["Properties"]["DefinitionString"])
        for m in machines.values()
        if "medflow pipeline records version" in m["Properties"]["DefinitionString"]
    ]
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert [n for n in tasks if n != "quarantine"] == ["initiate", "transform", "analyze", "move"]
    fargate = "arn:aws:states:::ecs:runTask.waitForTaskToken"
    assert [n for n, s in tasks.items() if s["Resource"] == fargate] == [
        "initiate",
        "transform",
        "analyze",
    ]
    assert tasks["move"]["Resource"] == "arn:aws:states:::lambda:invoke"
    # The Fargate task role may touch exactly what the Lambda function may: the records
    # profile, work bucket deletes included, nothing else.
    access = load_profiles()[0]["records"].access
    assert "work" in access.delete and "work" in access.read and "work" in access.write
    task_role = _policies_of(template, "RecordsTaskTaskRole")
    assert _bucket_actions(template, task_role) == _expected_actions(access)
    failure = _policies_of(template, "FailureServiceRole")
    assert "s3:DeleteObject" in _bucket_actions(template, failure)["work"]


def test_failed_executions_and_dead_letters_raise_alarms(template: dict[str, Any]) -> None:
    alarms = _of_type(template, "AWS::CloudWatch::Alarm").values()
    topic = next(iter(_of_type(template, "AWS::SNS::Topic")))
    failed = [a for a in alarms if a["Properties"]["MetricName"] == "ExecutionsFailed"]
    assert len(failed) == len(PIPELINES)
    dead = [
        a for a in alarms if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(dead) == 2
    for a in [*failed, *dead]:
        assert _refs(a["Properties"]["AlarmActions"]) == {topic}
    subs = _of_type(template, "AWS::SNS::Subscription").values()
    assert [s["Properties"]["Endpoint"] for s in subs] == ["ops@example.org"]


def test_uploads_reach_ingest_through_a_queue_with_a_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    with_dlq = [q for q in queues.values() if "RedrivePolicy" in q.get("Properties", {})]
    assert len(with_dlq) == 1
    assert with_dlq[0]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    mapping = next(iter(_of_type(template, "AWS::Lambda::EventSourceMapping").values()))
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    functions = _of_type(template, "AWS::Lambda::Function")
    ingest = functions[next(iter(_refs(mapping["Properties"]["FunctionName"])))]
    assert ingest["Properties"]["ImageConfig"]["Command"] == ["medflow.aws.handlers.ingest"]


def test_the_imaging_sweep_is_an_eventbridge_schedule(template: dict[str, Any]) -> None:
    rules = _of_type(template, "AWS::Events::Rule").values()
    functions = _of_type(template, "AWS::Lambda::Function")
    commands = {}
    for r in rules:
        target = r["Properties"]["Targets"][0]
        fn = functions[next(iter(_refs(target["Arn"])))]
        commands[fn["Properties"]["ImageConfig"]["Command"][0]] = r["Properties"]
        assert _refs(target["DeadLetterConfig"])
    assert commands["medflow.aws.handlers.sweep"]["ScheduleExpression"] == "rate(2 minutes)"
    assert "medflow.aws.handlers.retry_notifications" in commands


def test_email_may_be_sent_only_from_the_configured_sender(template: dict[str, Any]) -> None:
    for p in _of_type(template, "AWS::IAM::Policy").values():
        for s in p["Properties"]["PolicyDocument"]["Statement"]:
            if "ses:SendRawEmail" in _actions(s):
                text = json.dumps(s["Resource"])
                assert f"identity/{SENDER}" in text and "identity/*" not in text


def test_the_database_is_private_and_encrypted(template: dict[str, Any]) -> None:
    db = next(iter(_of_type(template, "AWS::RDS::DBInstance").values()))["Properties"]
    assert db["StorageEncrypted"] is True and db["PubliclyAccessible"] is False
    assert db["Engine"] == "postgres"


def test_a_bad_context_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["aws", "synth", "--out", str(tmp_path), "-c", "max_azs=two"])
    assert result.exit_code == 2
    assert "max_azs" in result.output
