"""The labs and records pipelines end to end through the handlers against moto's server (S3,
SQS, Step Functions, SES, Secrets Manager on one loopback port; no AWS client is patched):

upload to the raw bucket -> S3 event on SQS -> ``ingest`` handler (document recorded, state
machine started in Step Functions) -> the generated state machine walked by the local
interpreter, each Lambda Task calling the ``step`` / ``failure`` handler and each Fargate Task
running ``medflow.aws.task`` (answering with its task token) -> results in their buckets -> for
labs, the doctor's email sent through SES.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from tests.fixtures.records.records_outputs import stored_outputs
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, bucket_prefix
from tests.sfn_driver import LocalStateMachine, Outcome

from medflow.analyzers.records import RecordsAnalyzer
from medflow.aws import handlers, task
from medflow.aws.asl import placeholders, state_machine, substitute
from medflow.aws.runtime import runtime
from medflow.pipelines.labs import build_pipeline
from medflow.pipelines.records import WORK_BUCKET, RecordsConfig, check_object, records_pipeline
from medflow.platform.runner import Pipeline
from medflow.platform.storage.memory import MemoryObjectStore

pytestmark = [pytest.mark.service("s3"), pytest.mark.slow]

SENDER = "reports@example.org"
DOCTOR = "dr.house@example.org"
STEPS_FN = "medflow-labs-steps"
FAILURE_FN = "medflow-failure"


class Aws:
    """Clients on moto's server and the names this test deployed."""

    def __init__(self, endpoint: str, prefix: str) -> None:
        self.endpoint = endpoint
        self.prefix = prefix

        def client(service: str) -> Any:
            return boto3.session.Session().client(
                service,
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
            )

        self.s3, self.sqs, self.sfn = client("s3"), client("sqs"), client("stepfunctions")
        self.ses, self.secrets = client("ses"), client("secretsmanager")
        self.queue_url = ""
        self.machine_arn = ""
        self.ran_as: dict[str, str] = {}

    def bucket(self, name: str) -> str:
        return self.prefix + name

    def s3_event_for_lambda(self) -> dict[str, Any]:
        """The SQS batch Lambda would receive (S3's test message left out by the handler)."""
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        return {
            "Records": [
                {"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}
                for m in got.get("Messages", [])
            ]
        }

    def run(self, execution_id: str) -> Outcome:
        """Walk the deployed state machine for the Step Functions execution named
        ``execution_id``, as the service would."""
        arn = self.machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_id}"
        described = self.sfn.describe_execution(executionArn=arn)
        definition = json.loads(
            self.sfn.describe_state_machine(stateMachineArn=self.machine_arn)["definition"]
        )
        machine = LocalStateMachine(
            definition,
            {STEPS_FN: handlers.step, FAILURE_FN: handlers.failure},
            # A Fargate task runs the image's other entry point, python -m medflow.aws.task.
            container=lambda env, tokens: task.run(env, client=tokens),
        )
        outcome = machine.run(json.loads(described["input"]), described["executionArn"])
        self.ran_as = dict(machine.ran_as)
        return outcome

    def sent_emails(self) -> list[dict[str, Any]]:
        data = httpx.get(f"{self.endpoint}/moto-api/data.json").json()
        return list(data["ses"].get("RawMessage", []))


def _deploy(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pipeline: Pipeline,
    buckets: tuple[str, ...],
) -> Aws:
    """What the CDK app deploys for ``pipeline``, made by hand on moto: ``buckets``, the raw
    bucket's events on SQS, the state machine generated from the declaration, the SES identity,
    the signing secret; and the environment its functions get."""
    prefix = bucket_prefix()
    env = Aws(endpoint, prefix)
    for name, value in {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    for name in buckets:
        env.s3.create_bucket(Bucket=env.bucket(name))
    env.queue_url = env.sqs.create_queue(QueueName=f"{prefix}ingest")["QueueUrl"]
    queue_arn = env.sqs.get_queue_attributes(QueueUrl=env.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    env.s3.put_bucket_notification_configuration(
        Bucket=env.bucket("raw"),
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    definition = state_machine(pipeline)
    names = dict.fromkeys(placeholders(definition), STEPS_FN)
    names["FailureFunction"] = FAILURE_FN  # the CDK app substitutes the functions' ARNs
    deployed = substitute(definition, names)
    env.machine_arn = env.sfn.create_state_machine(
        name=f"{prefix}{pipeline.name}",
        definition=json.dumps(deployed),
        roleArn=f"arn:aws:iam::123456789012:role/medflow-{pipeline.name}",
    )["stateMachineArn"]
    env.ses.verify_email_identity(EmailAddress=SENDER)
    secret = env.secrets.create_secret(Name=f"{prefix}signing", SecretString="9" * 64)["ARN"]
    for name, value in {
        "MEDFLOW_ENVIRONMENT": "production",
        "MEDFLOW_DATA_DIR": str(tmp_path / "data"),
        "MEDFLOW_DATABASE__URL": f"sqlite:///{tmp_path / 'medflow.db'}",
        "MEDFLOW_STORAGE__BACKEND": "s3",
        "MEDFLOW_STORAGE__S3_ENDPOINT_URL": endpoint,
        "MEDFLOW_STORAGE__S3_REGION": REGION,
        "MEDFLOW_STORAGE__S3_BUCKET_PREFIX": prefix,
        "MEDFLOW_STORAGE__BUCKETS": json.dumps(list(buckets)),
        "MEDFLOW_RUNNER__BACKEND": "stepfunctions",
        "MEDFLOW_AWS__STATE_MACHINES": json.dumps({pipeline.name: env.machine_arn}),
        "MEDFLOW_AWS__SIGNING_SECRET_ARN": secret,
        "MEDFLOW_NOTIFY__BACKEND": "ses",
        "MEDFLOW_NOTIFY__FROM_ADDRESS": SENDER,
        "MEDFLOW_TRIGGERS": json.dumps(
            [{"bucket": "raw", "prefix": f"{pipeline.name}/", "pipeline": pipeline.name}]
        ),
    }.items():
        monkeypatch.setenv(name, value)
    runtime.cache_clear()
    return env


@pytest.fixture
def aws(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    yield _deploy(
        s3_endpoint, tmp_path, monkeypatch, build_pipeline(), ("raw", "results", "quarantine")
    )
    rt = runtime()
    rt.services.close()
    runtime.cache_clear()


def _upload(aws: Aws, key: str, data: bytes, meta: dict[str, str]) -> None:
    aws.s3.put_object(Bucket=aws.bucket("raw"), Key=key, Body=data, Metadata=meta)


def test_a_lab_report_runs_end_to_end_through_the_handlers(aws: Aws) -> None:
    pdf = resources.files("medflow.samples").joinpath("labs/us-reference-lab.pdf").read_bytes()
    _upload(
        aws,
        "labs/2026/report one.pdf",
        pdf,
        {"patient_id": "P-1001", "doctor_email": DOCTOR, "filename": "report one.pdf"},
    )

    started = handlers.ingest(aws.s3_event_for_lambda())
    assert started["batchItemFailures"] == []
    [execution_id] = started["executions"]
    runs = aws.sfn.list_executions(stateMachineArn=aws.machine_arn)["executions"]
    assert [r["name"] for r in runs] == [execution_id]  # one Step Functions run, named after it

    outcome = aws.run(execution_id)
    assert outcome.status == "SUCCEEDED", outcome
    assert outcome.states == ["read", "interpret", "publish", "notify"]

    rec = runtime().services.db.executions.get(execution_id)
    assert rec.status == "succeeded"
    assert [(s.step, s.status) for s in rec.steps] == [
        ("read", "succeeded"),
        ("interpret", "succeeded"),
        ("publish", "succeeded"),
        ("notify", "succeeded"),
    ]
    doc = rec.document_id
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket("results"), Prefix=f"labs/{doc}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"labs/{doc}/fhir.json",
        f"labs/{doc}/report.html",
        f"labs/{doc}/report.json",
    ]
    report = json.loads(
        aws.s3.get_object(Bucket=aws.bucket("results"), Key=f"labs/{doc}/report.json")[
            "Body"
        ].read()
    )
    assert len(report["results"]) == rec.state["results"] > 5
    bundle = json.loads(
        aws.s3.get_object(Bucket=aws.bucket("results"), Key=f"labs/{doc}/fhir.json")["Body"].read()
    )
    assert bundle["resourceType"] == "Bundle"

    [email] = [m for m in aws.sent_emails() if DOCTOR in m["destinations"]]
    assert email["source"] == SENDER
    assert f"/reports/{doc}" in email["raw_data"].replace("=\r\n", "")
    notification = runtime().services.db.notifications.get(rec.state["notified"])
    assert notification.status == "sent"

    # The same upload again (S3 redelivers; a user uploads twice): not processed twice.
    again = handlers.ingest(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": aws.bucket("raw")},
                        "object": {"key": "labs/2026/report+one.pdf"},
                    },
                }
            ]
        }
    )
    assert again["executions"] == [execution_id]
    assert len(aws.sfn.list_executions(stateMachineArn=aws.machine_arn)["executions"]) == 1


def test_a_file_that_is_not_a_pdf_is_quarantined_with_its_reason(aws: Aws) -> None:
    _upload(aws, "labs/notes.pdf", b"these are my notes, not a PDF", {"filename": "notes.pdf"})
    [execution_id] = handlers.ingest(aws.s3_event_for_lambda())["executions"]
    outcome = aws.run(execution_id)
    assert outcome.status == "FAILED" and outcome.error == "medflow.Quarantined"
    assert outcome.states == ["read", "quarantine", "Quarantined"]
    rec = runtime().services.db.executions.get(execution_id)
    assert rec.status == "quarantined"
    body = aws.s3.get_object(Bucket=aws.bucket("quarantine"), Key="labs/notes.pdf.reason.json")
    reason = json.loads(body["Body"].read())
    assert reason["file"] == "notes.pdf" and reason["step"] == "read"
    assert "notes.pdf" in reason["reason"]
    kept = aws.s3.get_object(Bucket=aws.bucket("raw"), Key="labs/notes.pdf")["Body"].read()
    assert kept == b"these are my notes, not a PDF"  # the original stays


def test_objects_that_start_nothing_are_left_alone(aws: Aws) -> None:
    _upload(aws, "elsewhere/file.txt", b"x", {})
    assert handlers.ingest(aws.s3_event_for_lambda())["executions"] == []
    foreign = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "someone-elses-bucket"}, "object": {"key": "labs/a.pdf"}},
            }
        ]
    }
    assert handlers.ingest(foreign)["executions"] == []


RECORDS_BUCKETS = ("raw", "work", "curated", "quarantine", "insights")


@pytest.fixture
def records_aws(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    yield _deploy(s3_endpoint, tmp_path, monkeypatch, records_pipeline(), RECORDS_BUCKETS)
    rt = runtime()
    rt.services.close()
    runtime.cache_clear()


def test_a_records_csv_runs_its_four_steps_on_fargate_and_lambda(records_aws: Aws) -> None:
    samples = resources.files("medflow.analyzers.records").joinpath("data", "samples")
    data = samples.joinpath("admissions_sample.csv").read_bytes()
    _upload(records_aws, "records/admissions_sample.csv", data, {"filename": "admissions.csv"})
    [execution_id] = handlers.ingest(records_aws.s3_event_for_lambda())["executions"]

    outcome = records_aws.run(execution_id)
    assert outcome.status == "SUCCEEDED", outcome
    assert outcome.states == ["initiate", "transform", "analyze", "move"]
    assert records_aws.ran_as == {
        "initiate": "fargate",
        "transform": "fargate",
        "analyze": "fargate",
        "move": "lambda",
    }
    rec = runtime().services.db.executions.get(execution_id)
    assert [(s.step, s.status) for s in rec.steps] == [
        ("initiate", "succeeded"),
        ("transform", "succeeded"),
        ("analyze", "succeeded"),
        ("move", "succeeded"),
    ]
    # Each step ran in its own invocation, handing over through the work bucket: the outputs
    # are those of the same check run in one process.
    local = MemoryObjectStore()
    obj = local.put("raw", "records/admissions_sample.csv", data)
    expected = check_object(local, "raw", obj.key, obj.sha256, RecordsConfig(), RecordsAnalyzer())
    assert {k: rec.state[k] for k in expected} == expected
    store = runtime().services.store

    def published(s: Any) -> dict[str, str]:
        return {k: v for k, v in stored_outputs(s).items() if not k.startswith("raw/")}

    assert published(store) == published(local)
    assert store.list(WORK_BUCKET) == []


def test_a_binary_records_file_fails_in_its_fargate_task_and_is_quarantined(
    records_aws: Aws,
) -> None:
    _upload(records_aws, "records/dump.csv", b"\x00\x01\x02 binary", {"filename": "dump.csv"})
    [execution_id] = handlers.ingest(records_aws.s3_event_for_lambda())["executions"]
    outcome = records_aws.run(execution_id)
    assert outcome.status == "FAILED" and outcome.error == "medflow.Quarantined"
    assert outcome.states == ["initiate", "quarantine", "Quarantined"]
    assert outcome.tries["initiate"] == 1  # a bad file is not retried
    rec = runtime().services.db.executions.get(execution_id)
    assert rec.status == "quarantined"
    store = runtime().services.store
    [reason_key] = [o.key for o in store.list("quarantine") if o.key.endswith("reason.json")]
    reason = json.loads(store.get("quarantine", reason_key))
    assert reason["step"] == "initiate" and reason["type"] == "NotCsvError"
    assert "dump.csv" in reason["message"] and "NUL bytes" in reason["message"]
    assert store.list(WORK_BUCKET) == []
