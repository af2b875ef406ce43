"""The records pipeline as four steps (initiate -> transform -> analyze -> move): the same
outputs as the one-step pipeline it replaced, steps that run from the object store and a small
JSON state alone, retry-safe, and nothing left in the work bucket."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.records.records_outputs import (
    CASES,
    TODAY,
    Case,
    cli_outputs,
    config_of,
    pipeline_outputs,
    stored_outputs,
)

from medflow.analyzers.records import CheckOptions, RecordsAnalyzer, builtin_rules
from medflow.pipelines.records import (
    PIPELINE,
    WORK_BUCKET,
    RecordsConfig,
    StagedOutputLostError,
    analyze_object,
    initiate_object,
    move_object,
    output_prefix,
    records_pipeline,
    transform_object,
)
from medflow.platform.storage.memory import MemoryObjectStore

BASELINE = json.loads((Path(__file__).parent / "data" / "records_one_step.json").read_text())
"""Written by the one-step pipeline (tests/fixtures/records/records_outputs.py)."""
SAMPLE = next(c for c in CASES if c.name == "sample-inferred")
STEPS = ("initiate", "transform", "analyze", "move")


def test_the_declaration_is_the_seeds_four_steps_with_quarantine_on_failure() -> None:
    pipeline = records_pipeline()
    assert pipeline.name == PIPELINE and pipeline.version == "2"
    assert tuple(s.name for s in pipeline.steps) == STEPS
    assert pipeline.on_failure is not None and pipeline.on_failure.name == "quarantine"
    for step in pipeline.steps:
        assert step.retry.max_attempts == 3 and step.retry.timeout_s is not None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_outputs_match_the_one_step_pipeline(case: Case) -> None:
    store = MemoryObjectStore()
    assert pipeline_outputs(case, store) == BASELINE["pipeline"][case.name]
    assert store.list(WORK_BUCKET) == []  # the work objects are cleaned


def test_the_records_cli_prints_and_writes_what_it_did_before() -> None:
    # A temporary folder of the baseline's path length: tables wrap where they wrapped.
    with tempfile.TemporaryDirectory() as tmp:
        assert cli_outputs(Path(tmp)) == BASELINE["cli"]


@pytest.fixture
def fresh_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Path]:
    """Give each step its own temporary folder, deleted before the next step starts."""
    made: list[Path] = []

    def use(step: str) -> Path:
        for old in made:
            assert not any(old.iterdir()), f"{old.name} left files behind"
            old.rmdir()
        made.clear()
        folder = tmp_path / f"tmp-{step}"
        folder.mkdir()
        made.append(folder)
        monkeypatch.setattr(tempfile, "tempdir", str(folder))
        return folder

    return use


def _state(value: dict[str, Any]) -> dict[str, Any]:
    """What survives the trip through the executions table."""
    text = json.dumps(value)
    assert len(text) < 4096, "the state must stay small"
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_each_step_runs_from_the_store_and_the_json_state_alone(
    fresh_tmp: Callable[[str], Path],
) -> None:
    store = MemoryObjectStore()
    data = SAMPLE.data()
    obj = store.put("raw", SAMPLE.key, data)
    config = config_of(SAMPLE)
    # Each step gets its own analyzer, as a worker in another process would build it.
    state: dict[str, Any] = {}
    fresh_tmp("initiate")
    state["initiated"] = _state(
        initiate_object(
            store, "raw", SAMPLE.key, obj.sha256, config, RecordsAnalyzer(options=config.options)
        )
    )
    fresh_tmp("transform")
    state["transformed"] = _state(transform_object(store, "raw", SAMPLE.key, obj.sha256, config))
    fresh_tmp("analyze")
    state.update(_state(analyze_object(store, SAMPLE.key, obj.sha256, config)))
    fresh_tmp("move")
    state.update(_state(move_object(store, "raw", SAMPLE.key, obj.sha256, state)))
    fresh_tmp("done")
    expected = BASELINE["pipeline"][SAMPLE.name]
    assert stored_outputs(store) == expected["objects"]
    assert {k: state[k] for k in expected["returned"]} == expected["returned"]
    assert state["initiated"]["rules"] == "inferred"
    assert state["initiated"]["missing_required"] == []
    assert state["transformed"]["records"] == 600
    assert store.list(WORK_BUCKET) == []


def test_the_state_holds_no_cell_of_the_file() -> None:
    store = MemoryObjectStore()
    data = SAMPLE.data().decode()
    obj = store.put("raw", SAMPLE.key, data.encode())
    config = config_of(SAMPLE)
    state = {
        "initiated": initiate_object(
            store, "raw", SAMPLE.key, obj.sha256, config, RecordsAnalyzer(options=config.options)
        ),
        "transformed": transform_object(store, "raw", SAMPLE.key, obj.sha256, config),
    }
    state.update(analyze_object(store, SAMPLE.key, obj.sha256, config))
    state.update(move_object(store, "raw", SAMPLE.key, obj.sha256, state))
    text = json.dumps(state)
    lines = data.splitlines()
    header = set(lines[0].split(","))
    # Identifiers and dates: cells long enough not to occur in a count or a name by chance.
    cells = {c for ln in lines[1:] for c in ln.split(",") if len(c) >= 7 and c not in header}
    assert len(cells) > 1000
    assert [c for c in cells if c in text] == []


class _DeleteFailsOnce(MemoryObjectStore):
    """A store whose second delete fails, as a worker dies part-way through ``move``."""

    def __init__(self) -> None:
        super().__init__()
        self.deletes = 0

    def delete(self, bucket: str, key: str) -> None:
        self.deletes += 1
        if self.deletes == 2:
            raise RuntimeError("worker lost")
        super().delete(bucket, key)


def _up_to_move(store: MemoryObjectStore, case: Case) -> tuple[str, dict[str, Any]]:
    obj = store.put("raw", case.key, case.data())
    config = config_of(case)
    analyzer = RecordsAnalyzer(config.rules, config.options)
    initiate_object(store, "raw", case.key, obj.sha256, config, analyzer)
    transform_object(store, "raw", case.key, obj.sha256, config)
    return obj.sha256, analyze_object(store, case.key, obj.sha256, config)


def test_a_move_retried_after_dying_half_way_publishes_everything() -> None:
    store = _DeleteFailsOnce()
    sha, analysed = _up_to_move(store, SAMPLE)
    with pytest.raises(RuntimeError):
        move_object(store, "raw", SAMPLE.key, sha, analysed)
    # A staged object is gone already; the retry finds it at its destination.
    assert store.list(WORK_BUCKET)
    moved = move_object(store, "raw", SAMPLE.key, sha, analysed)
    expected = BASELINE["pipeline"][SAMPLE.name]
    assert moved["outputs"] == expected["returned"]["outputs"]
    assert stored_outputs(store) == expected["objects"]
    assert store.list(WORK_BUCKET) == []
    # And once more (a task delivered twice): the same outputs, nothing to clean.
    assert move_object(store, "raw", SAMPLE.key, sha, analysed) == moved


def test_every_step_but_move_can_run_twice_with_the_same_result() -> None:
    store = MemoryObjectStore()
    sha, analysed = _up_to_move(store, SAMPLE)
    before = {o.key: o.sha256 for o in store.list(WORK_BUCKET) if "report" not in o.key}
    config = config_of(SAMPLE)
    transform_object(store, "raw", SAMPLE.key, sha, config)
    again = analyze_object(store, SAMPLE.key, sha, config)
    after = {o.key: o.sha256 for o in store.list(WORK_BUCKET) if "report" not in o.key}
    assert again == analysed and after == before


def test_a_staged_output_lost_before_move_is_a_clear_error() -> None:
    store = MemoryObjectStore()
    sha, analysed = _up_to_move(store, SAMPLE)
    prefix = output_prefix(SAMPLE.key, sha)
    store.delete(WORK_BUCKET, prefix + "staged/curated.csv")
    with pytest.raises(StagedOutputLostError, match=r"curated\.csv of admissions_sample\.csv"):
        move_object(store, "raw", SAMPLE.key, sha, analysed)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Any]:
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
    config = RecordsConfig(rules=builtin_rules("admissions"), options=CheckOptions(today=TODAY))
    with Platform(services=services, pipelines=[records_pipeline(config)]) as p:
        yield p


def test_the_runner_runs_the_four_steps_and_publishes_the_one_step_outputs(platform: Any) -> None:
    case = next(c for c in CASES if c.name == "sample-builtin")
    eid = platform.ingest(case.data(), "admissions_sample.csv", "records")
    rec = platform.runner.wait(eid, timeout=120)
    assert rec.status == "succeeded", rec
    assert [(s.step, s.status) for s in rec.steps] == [(s, "succeeded") for s in STEPS]
    expected = BASELINE["pipeline"][case.name]
    assert {k: rec.state[k] for k in expected["returned"]} == expected["returned"]
    store = platform.services.store
    published = {k: v for k, v in stored_outputs(store).items() if not k.startswith("raw/")}
    assert published == {k: v for k, v in expected["objects"].items() if not k.startswith("raw/")}
    assert store.list(WORK_BUCKET) == []


def test_a_file_failing_hard_in_initiate_is_quarantined_as_before(platform: Any) -> None:
    eid = platform.ingest(b"\x00\x01\x02 binary", "dump.csv", "records")
    rec = platform.runner.wait(eid, timeout=60)
    assert rec.status == "quarantined"
    store = platform.services.store
    [reason_key] = [o.key for o in store.list("quarantine") if o.key.endswith("reason.json")]
    reason = json.loads(store.get("quarantine", reason_key))
    # The error as the one-step pipeline reported it; only the step's name is new.
    assert {k: reason[k] for k in ("type", "message")} == BASELINE["pipeline"]["binary"]["error"]
    assert reason["step"] == "initiate"
    assert store.get("quarantine", reason_key.replace("reason.json", "dump.csv")).startswith(
        b"\x00"
    )


def test_a_file_failing_hard_in_transform_is_quarantined_and_its_work_cleaned(
    platform: Any,
) -> None:
    # The header and first rows read well; the last record opens a quote it never closes,
    # which only the full read of the rows finds.
    good = SAMPLE.data().decode().splitlines()[:31]
    data = ("\n".join(good) + '\nE9,P9,"1980-05-01,M,40\n').encode()
    eid = platform.ingest(data, "broken.csv", "records")
    rec = platform.runner.wait(eid, timeout=60)
    assert rec.status == "quarantined"
    assert [(s.step, s.status) for s in rec.steps] == [
        ("initiate", "succeeded"),
        ("transform", "failed"),
        ("quarantine", "succeeded"),
    ]
    store = platform.services.store
    [reason_key] = [o.key for o in store.list("quarantine") if o.key.endswith("reason.json")]
    reason = json.loads(store.get("quarantine", reason_key))
    assert reason["step"] == "transform" and reason["type"] == "CsvParseError"
    assert "broken.csv" in reason["message"] and "quoting" in reason["message"]
    assert store.get("quarantine", reason_key.replace("reason.json", "broken.csv")) == data
    assert store.list(WORK_BUCKET) == []  # the plan written by initiate is gone
    assert store.list("curated") == [] and store.list("insights") == []
