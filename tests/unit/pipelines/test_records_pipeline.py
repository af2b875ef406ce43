"""The records pipeline: store-level outputs, whole-file quarantine, and a run on the platform."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer
from medflow.pipelines.records import (
    CURATED_BUCKET,
    INSIGHTS_BUCKET,
    QUARANTINE_BUCKET,
    RecordsConfig,
    check_object,
    output_prefix,
    records_pipeline,
)
from medflow.platform.storage.base import StoredObject, sha256_hex
from medflow.platform.storage.local import LocalObjectStore
from medflow.platform.storage.memory import MemoryObjectStore

HEADER = (
    "encounter_id,patient_id,date_of_birth,sex,age,admission_date,discharge_date,"
    "admission_type,department,primary_dx,loinc_code,lab_value,heart_rate,systolic_bp,"
    "temperature_c,weight,weight_unit,postal_code"
)


def _csv(bad: int, good: int = 9) -> bytes:
    rows = [
        f"E1000{i:04d},P123{i:04d},1980-05-01,M,40,2020-06-01,2020-06-05,emergency,cardiology,"
        f"I10,2345-7,101,{70 + i % 20},120,36.9,80.5,kg,12345"
        for i in range(good)
    ]
    rows += [
        f"E2000{i:04d},P123{i:04d},1980-05-01,M,40,2020-06-01,2020-05-05,emergency,cardiology,"
        "I10,2345-7,101,80,120,36.9,80.5,kg,12345"
        for i in range(bad)
    ]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _run(store: MemoryObjectStore, data: bytes, key: str = "records/adm.csv") -> dict[str, object]:
    obj = store.put("raw", key, data)
    config = RecordsConfig(options=CheckOptions(anomalies=False))
    analyzer = RecordsAnalyzer(config.rules, config.options)
    return check_object(store, "raw", key, obj.sha256, config, analyzer)


def test_outputs_land_in_their_buckets_under_a_content_prefix() -> None:
    store = MemoryObjectStore()
    data = _csv(bad=1)
    out = _run(store, data)
    prefix = output_prefix("records/adm.csv", sha256_hex(data))
    assert out["decision"] == "partial"
    assert out["rows_quarantined"] == 1
    assert store.exists(CURATED_BUCKET, prefix + "curated.parquet")
    curated = store.get(CURATED_BUCKET, prefix + "curated.csv").decode()
    assert len(curated.strip().splitlines()) == 1 + 9
    rows = list(
        csv.DictReader(
            io.StringIO(store.get(QUARANTINE_BUCKET, prefix + "quarantined_rows.csv").decode())
        )
    )
    assert rows[0]["rules"] == "admission_not_after_discharge"
    report = json.loads(store.get(INSIGHTS_BUCKET, prefix + "report.json"))
    assert report["file"] == "adm.csv"
    assert store.get("raw", "records/adm.csv") == data


def test_running_twice_rewrites_the_same_keys() -> None:
    store = MemoryObjectStore()
    data = _csv(bad=1)
    _run(store, data)
    before = {
        (b, o.key)
        for b in (CURATED_BUCKET, QUARANTINE_BUCKET, INSIGHTS_BUCKET)
        for o in store.list(b)
    }
    _run(store, data)
    after = {
        (b, o.key)
        for b in (CURATED_BUCKET, QUARANTINE_BUCKET, INSIGHTS_BUCKET)
        for o in store.list(b)
    }
    assert before == after


def test_a_file_over_the_failure_rate_is_copied_whole_to_quarantine() -> None:
    store = MemoryObjectStore()
    # Rules inferred from the file quarantine it whole above a 50% failure rate.
    data = _csv(bad=6, good=4)
    out = _run(store, data)
    prefix = output_prefix("records/adm.csv", sha256_hex(data))
    assert out["decision"] == "quarantined"
    assert store.get(QUARANTINE_BUCKET, prefix + "adm.csv") == data
    reason = json.loads(store.get(QUARANTINE_BUCKET, prefix + "reason.json"))
    assert "failure rate 60.0%" in reason["reason"]
    assert not store.list(CURATED_BUCKET)
    assert store.exists("raw", "records/adm.csv")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[object]:
    from medflow.platform.config import Settings
    from medflow.platform.db import Database
    from medflow.platform.notify import MemoryNotifier
    from medflow.platform.runner import Services
    from medflow.platform.services import Platform

    db = Database(f"sqlite:///{tmp_path / 'medflow.sqlite'}")
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        store=MemoryObjectStore(),
        db=db,
        notifier=MemoryNotifier(db, settings.notify),
    )
    pipeline = records_pipeline(RecordsConfig(options=CheckOptions(anomalies=False)))
    with Platform(services=services, pipelines=[pipeline]) as p:
        yield p


def test_platform_checks_a_csv_and_quarantines_a_binary_one(platform: object) -> None:
    runner, store = platform.runner, platform.services.store  # type: ignore[attr-defined]
    ok = runner.wait(platform.ingest(_csv(bad=1), "adm.csv", "records"), timeout=120)  # type: ignore[attr-defined]
    assert ok.status == "succeeded", ok
    bad = runner.wait(platform.ingest(b"\x00\x01\x02 binary", "dump.csv", "records"), timeout=120)  # type: ignore[attr-defined]
    assert bad.status == "quarantined"
    keys = [o.key for o in store.list(QUARANTINE_BUCKET)]
    assert any(k.endswith("/dump.csv") for k in keys)
    reasons = [
        json.loads(store.get(QUARANTINE_BUCKET, k)) for k in keys if k.endswith("reason.json")
    ]
    assert any("NUL bytes" in r.get("message", "") for r in reasons)


class _NoWholeObjects(LocalObjectStore):
    """A folder store that refuses to hand over or take in a large object as one bytes value."""

    limit = 64 * 1024

    def get(self, bucket: str, key: str) -> bytes:
        data = super().get(bucket, key)
        assert len(data) <= self.limit, f"{bucket}/{key} read whole ({len(data)} bytes)"
        return data

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        assert len(data) <= self.limit, f"{bucket}/{key} written whole ({len(data)} bytes)"
        return super().put(bucket, key, data, metadata, content_type)


def test_large_objects_stream_through_files_not_memory(tmp_path: Path) -> None:
    store = _NoWholeObjects(tmp_path / "objects", b"secret")
    src = tmp_path / "adm.csv"
    src.write_bytes(_csv(bad=40, good=2000))
    assert src.stat().st_size > store.limit
    obj = store.put_file("raw", "records/adm.csv", src)
    config = RecordsConfig(options=CheckOptions(anomalies=False))
    out = check_object(
        store, "raw", "records/adm.csv", obj.sha256, config, RecordsAnalyzer(options=config.options)
    )
    assert out["decision"] == "partial"
    assert (out["rows_curated"], out["rows_quarantined"]) == (2000, 40)
    prefix = output_prefix("records/adm.csv", obj.sha256)
    curated = store.head(CURATED_BUCKET, prefix + "curated.csv")
    assert curated.size > store.limit
    dest = tmp_path / "curated.csv"
    store.get_file(CURATED_BUCKET, prefix + "curated.csv", dest)
    assert len(dest.read_text().splitlines()) == 1 + 2000
