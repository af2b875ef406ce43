"""What the S3 adapter does beyond the ObjectStore contract, against a real S3 endpoint (moto's
standalone server): metadata S3 cannot carry as headers, multipart, encryption, presigned URLs,
the start check, and S3 event notifications consumed from SQS."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, s3_settings, s3_store

from medflow.errors import ConfigError, ObjectNotFoundError
from medflow.platform.storage import ObjectEvent, sha256_hex
from medflow.platform.storage.s3 import SHA_HEADER, S3ObjectStore
from medflow.platform.storage.s3_events import S3EventQueue, records_of

pytestmark = pytest.mark.service("s3")

SECRET = b"s3-secret"
BUCKETS = ("raw", "results", "quarantine")


@pytest.fixture
def store(s3_endpoint: str) -> S3ObjectStore:
    return s3_store(s3_endpoint, SECRET, buckets=BUCKETS)


def _client(endpoint: str, service: str = "s3") -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def test_non_ascii_metadata_round_trips_and_is_readable_by_other_tools(
    store: S3ObjectStore,
) -> None:
    meta = {"patient_name": "José Ñúñez", "patient_id": "P-7"}
    store.put("raw", "labs/a.pdf", b"%PDF", meta, "application/pdf")
    assert dict(store.head("raw", "labs/a.pdf").metadata) == meta
    raw = store.client.head_object(Bucket=store.physical("raw"), Key="labs/a.pdf")["Metadata"]
    assert raw["patient_id"] == "P-7"
    assert raw["patient_name"].startswith("=?utf-8?")  # RFC 2047, as S3 itself encodes
    assert raw[SHA_HEADER] == sha256_hex(b"%PDF")


def test_metadata_over_the_header_limit_goes_to_a_hidden_sidecar(store: S3ObjectStore) -> None:
    meta = {"vocabulary": ", ".join(f"drug{i}" for i in range(600)), "Odd Key": "x"}
    store.put("raw", "dictation/a.wav", b"RIFF", meta)
    store.copy("raw", "dictation/a.wav", "quarantine", "dictation/a.wav")
    assert dict(store.head("raw", "dictation/a.wav").metadata) == meta
    assert dict(store.head("quarantine", "dictation/a.wav").metadata) == meta
    assert [o.key for o in store.list("raw")] == ["dictation/a.wav"]
    store.delete("raw", "dictation/a.wav")
    listed = store.client.list_objects_v2(Bucket=store.physical("raw")).get("Contents", [])
    assert listed == []


def test_put_file_above_the_threshold_is_a_multipart_upload(
    s3_endpoint: str, tmp_path: Path
) -> None:
    store = s3_store(
        s3_endpoint,
        SECRET,
        buckets=BUCKETS,
        s3_multipart_threshold_bytes=5 * 1024 * 1024,
        s3_multipart_chunk_bytes=5 * 1024 * 1024,
    )
    src = tmp_path / "big.bin"
    data = bytes(range(256)) * (11 * 1024 * 4)  # 11 MiB: three parts
    src.write_bytes(data)
    obj = store.put_file("raw", "records/big.bin", src, {"k": "v"})
    etag = store.client.head_object(Bucket=store.physical("raw"), Key="records/big.bin")["ETag"]
    assert etag.strip('"').endswith("-3")  # S3's multipart ETag: md5-of-parts + part count
    assert obj.sha256 == sha256_hex(data) == store.head("raw", "records/big.bin").sha256
    store.copy("raw", "records/big.bin", "quarantine", "records/big.bin")
    out = tmp_path / "back.bin"
    store.get_file("quarantine", "records/big.bin", out)
    assert out.read_bytes() == data


def test_server_side_encryption_is_asked_on_every_write(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, SECRET, buckets=BUCKETS, s3_sse="AES256")
    store.put("raw", "labs/a.pdf", b"x")
    store.copy("raw", "labs/a.pdf", "quarantine", "labs/a.pdf")
    for bucket in ("raw", "quarantine"):
        head = store.client.head_object(Bucket=store.physical(bucket), Key="labs/a.pdf")
        assert head["ServerSideEncryption"] == "AES256"


def test_presigned_put_and_get_reach_the_bucket_directly(store: S3ObjectStore) -> None:
    put_url = store.presigned_url("raw", "labs/direct.pdf", "PUT", 60, "application/pdf")
    resp = httpx.put(put_url, content=b"%PDF-direct", headers={"Content-Type": "application/pdf"})
    assert resp.status_code == 200
    head = store.head("raw", "labs/direct.pdf")  # no medflow hash: computed from the bytes
    assert head.sha256 == sha256_hex(b"%PDF-direct")
    assert httpx.get(store.presigned_url("raw", "labs/direct.pdf")).content == b"%PDF-direct"


def test_start_check_names_the_setting_for_a_missing_bucket(s3_endpoint: str) -> None:
    store = S3ObjectStore(s3_settings(s3_endpoint, buckets=("raw",)), SECRET)
    with pytest.raises(ConfigError, match=r"storage\.s3_bucket_prefix: bucket '.*raw'"):
        store.check()
    named = S3ObjectStore(
        s3_settings(s3_endpoint, buckets=("raw",), s3_buckets={"raw": "no-such-bucket-x"}),
        SECRET,
    )
    with pytest.raises(ConfigError, match=r"storage\.s3_buckets: bucket 'no-such-bucket-x'"):
        named.check()


def test_start_check_names_the_endpoint_when_nothing_answers() -> None:
    from tests.s3_server import free_port

    store = S3ObjectStore(s3_settings(f"http://127.0.0.1:{free_port()}"), SECRET)
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(ConfigError, match=r"storage\.s3_endpoint_url: cannot reach"):
        store.check()


def test_missing_objects_and_buckets(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get("results", "none")
    assert store.list("curated") == []  # a bucket that does not exist lists as empty


def _queue(store: S3ObjectStore, endpoint: str) -> str:
    sqs = _client(endpoint, "sqs")
    url = str(sqs.create_queue(QueueName=f"{store.physical('raw')}-events")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    store.client.put_bucket_notification_configuration(
        Bucket=store.physical("raw"),
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return url


def test_objects_dropped_by_other_systems_arrive_from_sqs_with_their_hash(
    store: S3ObjectStore, s3_endpoint: str
) -> None:
    url = _queue(store, s3_endpoint)
    seen: list[ObjectEvent] = []
    consumer = S3EventQueue(store, url, seen.append, sqs_client=_client(s3_endpoint, "sqs"))
    consumer.poll_once(wait_s=1)  # S3's s3:TestEvent, if the endpoint sends one
    seen.clear()
    other = _client(s3_endpoint)
    other.put_object(
        Bucket=store.physical("raw"),
        Key="labs/from lab system.pdf",
        Body=b"%PDF-from-elsewhere",
        Metadata={"patient_id": "P9"},
    )
    for _ in range(5):
        consumer.poll_once(wait_s=1)
        if seen:
            break
    assert [(e.bucket, e.key, e.sha256, e.event_name) for e in seen] == [
        ("raw", "labs/from lab system.pdf", sha256_hex(b"%PDF-from-elsewhere"), "ObjectCreated:Put")
    ]
    assert dict(seen[0].metadata) == {"patient_id": "P9"}
    raw = other.head_object(Bucket=store.physical("raw"), Key="labs/from lab system.pdf")
    assert raw["Metadata"][SHA_HEADER] == sha256_hex(b"%PDF-from-elsewhere")
    # The hash write-back is a Copy event: it starts nothing, and the queue is drained.
    seen.clear()
    consumer.poll_once(wait_s=1)
    assert seen == []


def test_an_event_whose_handler_fails_stays_on_the_queue(
    store: S3ObjectStore, s3_endpoint: str
) -> None:
    url = _queue(store, s3_endpoint)

    def refuse(event: ObjectEvent) -> None:
        raise ConfigError("runner down")

    sqs = _client(s3_endpoint, "sqs")
    failing = S3EventQueue(store, url, refuse, sqs_client=sqs, visibility_s=1)
    failing.poll_once(wait_s=1)
    store.put("raw", "labs/a.pdf", b"%PDF-a")
    for _ in range(3):
        failing.poll_once(wait_s=1)
    seen: list[ObjectEvent] = []
    time.sleep(1.2)
    ok = S3EventQueue(store, url, seen.append, sqs_client=sqs)
    for _ in range(5):
        ok.poll_once(wait_s=1)
        if seen:
            break
    assert [e.key for e in seen] == ["labs/a.pdf"]


def test_records_of_reads_s3_and_sns_wrapped_bodies() -> None:
    s3_body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "labs/a+b%C3%A9.pdf"}},
            }
        ]
    }
    wrapped = {"Type": "Notification", "Message": json.dumps(s3_body)}
    expected = [("ObjectCreated:Put", "b", "labs/a bé.pdf")]
    assert records_of(json.dumps(s3_body)) == expected
    assert records_of(json.dumps(wrapped)) == expected
    assert records_of(json.dumps({"Event": "s3:TestEvent"})) == []


def test_platform_starts_a_pipeline_for_an_object_dropped_into_the_bucket(
    s3_endpoint: str, tmp_path: Path
) -> None:
    from medflow.platform import Pipeline, Platform, Settings, Step, StepContext

    probe = s3_store(s3_endpoint, SECRET, buckets=BUCKETS)
    url = _queue(probe, s3_endpoint)
    storage = s3_settings(
        s3_endpoint,
        prefix=probe.settings.s3_bucket_prefix,
        buckets=BUCKETS,
        s3_events_queue_url=url,
    )

    def size(ctx: StepContext) -> dict[str, Any]:
        return {"size": len(ctx.services.store.get("raw", ctx.object_event.key))}

    pipeline = Pipeline("labs", "1", (Step("size", size),))
    with Platform(Settings(data_dir=tmp_path, storage=storage), pipelines=[pipeline]) as platform:
        assert platform.s3_events is not None
        platform.s3_events.wait_s = 1
        platform.start(inbox=False)
        _client(s3_endpoint).put_object(
            Bucket=probe.physical("raw"), Key="labs/dropped.pdf", Body=b"%PDF-dropped"
        )
        executions: list[Any] = []
        deadline = time.monotonic() + 30
        while not executions and time.monotonic() < deadline:
            executions = platform.runner.list_executions(status="succeeded")
            time.sleep(0.2)
        [rec] = executions
        assert rec.state == {"size": 12}
        assert rec.event["sha256"] == sha256_hex(b"%PDF-dropped")
