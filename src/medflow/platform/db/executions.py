"""Executions and step runs: the durable state of every runner.

Workers claim an execution with a lease (owner id + heartbeat). Every write a worker makes is
conditional on still holding the lease, so a worker that stalled past its lease and was taken
over cannot overwrite the new owner's progress (it gets :class:`LeaseLostError` instead). Claims
are single conditional ``UPDATE`` statements, atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from medflow.platform.db.documents import document_in_session
from medflow.platform.db.errors import LeaseLostError, RecordNotFoundError
from medflow.platform.db.models import DocumentRow, ExecutionRow, StepRunRow, utcnow
from medflow.platform.db.records import ExecutionRecord, StepRunRecord

# Hot paths use Core statements on the tables: the ORM's bulk-update machinery costs more CPU
# than SQLite spends on the statement itself.
_E = cast(Table, ExecutionRow.__table__)
_R = cast(Table, StepRunRow.__table__)
_D = cast(Table, DocumentRow.__table__)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from medflow.platform.db.database import Database


@dataclass(frozen=True)
class Dispatch:
    """An execution that owes a task message for its step ``next_step``."""

    execution_id: str
    pipeline: str
    next_step: int


class ExecutionRepository:
    """Executions of pipelines and the runs of their steps."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- submission -------------------------------------------------------------------------

    def submit(
        self,
        *,
        sha256: str,
        pipeline: str,
        pipeline_version: str,
        event: Mapping[str, Any],
        document_id: str | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """A pending execution for these bytes and pipeline version, or the existing one.

        Args:
            sha256: the content hash (with pipeline and version: the dedupe key).
            pipeline: the pipeline name.
            pipeline_version: its version.
            event: the starting event (JSON-serialisable).
            document_id: the document, when already recorded.
            document: fields for ``DocumentRepository.get_or_create`` (``bucket``, ``key``,
                ``size``, ``filename``...), to record the document in the same transaction.

        Returns:
            The execution and whether it was created now (False: the document was already
            submitted to this pipeline version; nothing is processed twice).
        """
        key = (
            ExecutionRow.sha256 == sha256,
            ExecutionRow.pipeline == pipeline,
            ExecutionRow.pipeline_version == pipeline_version,
        )
        with self._db.transaction() as s:
            if document is not None:
                doc, _ = document_in_session(s, sha256=sha256, **document)
                document_id = doc.id
            found = s.scalar(select(ExecutionRow).where(*key))
            if found is not None:
                return ExecutionRecord.from_row(found), False
            row = ExecutionRow(
                sha256=sha256,
                pipeline=pipeline,
                pipeline_version=pipeline_version,
                event=dict(event),
                state={},
                document_id=document_id,
                status="pending",
                next_step=0,
                attempt=0,
                progress=0.0,
                progress_message="",
                next_run_at=utcnow(),
            )
            try:
                with s.begin_nested():
                    s.add(row)
            except IntegrityError:
                # Lost a race with another submitter (PostgreSQL; SQLite serialises writers).
                won = s.scalar(select(ExecutionRow).where(*key))
                if won is None:
                    raise
                return ExecutionRecord.from_row(won), False
            return ExecutionRecord.from_row(row), True

    # -- leases -----------------------------------------------------------------------------

    def _claimable(self, lease_s: float, pipelines: Collection[str] | None) -> ColumnElement[bool]:
        now = utcnow()
        cutoff = now - timedelta(seconds=lease_s)
        cond = or_(
            and_(_E.c.status == "pending", _E.c.next_run_at <= now),
            and_(
                _E.c.status == "running",
                or_(_E.c.heartbeat_at.is_(None), _E.c.heartbeat_at < cutoff),
            ),
        )
        if pipelines is not None:
            cond = and_(cond, _E.c.pipeline.in_(list(pipelines)))
        return cond

    def claim(
        self, owner: str, lease_s: float, pipelines: Collection[str] | None = None
    ) -> ExecutionRecord | None:
        """Take the oldest due execution: pending and due, or running with an expired lease.

        Step runs left ``running`` by a previous owner (a dead process) are marked
        ``abandoned``. Returns None when nothing is due.
        """
        with self._db.transaction() as s:
            query = (
                select(_E.c.id, _E.c.status, _E.c.started_at)
                .where(self._claimable(lease_s, pipelines))
                .order_by(_E.c.next_run_at, _E.c.created_at)
            )
            if self._db.is_sqlite:
                # SQLite has one writer at a time (BEGIN IMMEDIATE): no row can be contended.
                query = query.limit(8)
            else:
                # PostgreSQL: the queue idiom. Rows another worker is claiming right now are
                # skipped instead of waited on, so workers never queue behind each other.
                query = query.limit(1).with_for_update(skip_locked=True)
            for execution_id, previous, started_at in s.connection().execute(query).all():
                rec = self._take(s, execution_id, previous, started_at, owner, lease_s, pipelines)
                if rec is not None:
                    return rec
        return None

    def _take(
        self,
        s: Session,
        execution_id: str,
        previous: str,
        started_at: Any,
        owner: str,
        lease_s: float,
        pipelines: Collection[str] | None,
        extra: ColumnElement[bool] | None = None,
    ) -> ExecutionRecord | None:
        """Claim one execution with a conditional UPDATE; None if it is no longer claimable."""
        conn = s.connection()
        now = utcnow()
        values: dict[str, Any] = {"status": "running", "lease_owner": owner, "heartbeat_at": now}
        if started_at is None:
            values["started_at"] = now
        cond = and_(_E.c.id == execution_id, self._claimable(lease_s, pipelines))
        if extra is not None:
            cond = and_(cond, extra)
        if conn.execute(update(_E).where(cond).values(**values)).rowcount != 1:
            return None  # another worker was quicker
        if previous == "running":
            conn.execute(
                update(_R)
                .where(_R.c.execution_id == execution_id, _R.c.status == "running")
                .values(status="abandoned", error="worker lost its lease", finished_at=now)
            )
        row = s.get(ExecutionRow, execution_id, populate_existing=True)
        assert row is not None
        return ExecutionRecord.from_row(row)

    def claim_one(
        self, execution_id: str, owner: str, lease_s: float, step: int
    ) -> ExecutionRecord | None:
        """Take one named execution if it is due and still at step index ``step``.

        What a queue-driven worker does with a task message: the message names the execution
        and step; a duplicate or late message finds the execution moved on (or held by a live
        worker) and gets None. Running step runs of a dead previous owner become
        ``abandoned``, as in :meth:`claim`.
        """
        with self._db.transaction() as s:
            found = (
                s.connection()
                .execute(select(_E.c.status, _E.c.started_at).where(_E.c.id == execution_id))
                .first()
            )
            if found is None:
                return None
            previous, started_at = found
            return self._take(
                s, execution_id, previous, started_at, owner, lease_s, None, _E.c.next_step == step
            )

    def _update_owned(self, s: Session, execution_id: str, owner: str, **values: Any) -> None:
        """One conditional UPDATE: applies only while ``owner`` holds the running execution."""
        result = s.connection().execute(
            update(_E)
            .where(_E.c.id == execution_id, _E.c.lease_owner == owner, _E.c.status == "running")
            .values(**values)
        )
        if result.rowcount != 1:
            if s.get(ExecutionRow, execution_id) is None:
                raise RecordNotFoundError(f"no execution {execution_id}")
            raise LeaseLostError(f"execution {execution_id} is no longer held by {owner}")

    def heartbeat(self, execution_id: str, owner: str) -> bool:
        """Renew the lease; False if another worker holds it now (or it has finished)."""
        with self._db.transaction() as s:
            result = s.execute(
                update(ExecutionRow)
                .where(
                    ExecutionRow.id == execution_id,
                    ExecutionRow.lease_owner == owner,
                    ExecutionRow.status == "running",
                )
                .values(heartbeat_at=utcnow())
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def acquire(self, execution_id: str, owner: str) -> ExecutionRecord:
        """Hold one named execution for ``owner``, for orchestrators that decide what runs
        (a Step Functions execution owns its medflow execution from first step to last).

        A pending execution becomes ``running`` under ``owner``; one ``owner`` already holds
        is returned as it is (a retried or repeated task). A finished one is returned
        unchanged: the caller sees ``done`` and does nothing.

        Raises:
            RecordNotFoundError: no such execution.
            LeaseLostError: another owner holds it.
        """
        with self._db.transaction() as s:
            now = utcnow()
            mine = and_(_E.c.status == "running", _E.c.lease_owner == owner)
            conn = s.connection()
            taken = conn.execute(
                update(_E)
                .where(_E.c.id == execution_id, _E.c.status == "pending")
                .values(
                    status="running",
                    lease_owner=owner,
                    heartbeat_at=now,
                    started_at=func.coalesce(_E.c.started_at, now),
                )
            ).rowcount
            if not taken:
                conn.execute(
                    update(_E).where(_E.c.id == execution_id, mine).values(heartbeat_at=now)
                )
            row = s.get(ExecutionRow, execution_id, populate_existing=True)
            if row is None:
                raise RecordNotFoundError(f"no execution {execution_id}")
            if row.status == "running" and row.lease_owner != owner:
                raise LeaseLostError(f"execution {execution_id} is held by another worker")
            return ExecutionRecord.from_row(row)

    # -- step runs --------------------------------------------------------------------------

    @staticmethod
    def _insert_run(s: Session, execution_id: str, step: str, attempt: int) -> int:
        run_id = (
            s.connection()
            .execute(
                insert(_R)
                .values(
                    execution_id=execution_id,
                    step=step,
                    attempt=attempt,
                    status="running",
                    started_at=utcnow(),
                )
                .returning(_R.c.id)
            )
            .scalar_one()
        )
        return int(run_id)

    @staticmethod
    def _end_run(
        s: Session, step_run_id: int, status: str, error: str | None, duration_s: float | None
    ) -> None:
        now = utcnow()
        if duration_s is None:
            started = s.scalar(select(StepRunRow.started_at).where(StepRunRow.id == step_run_id))
            duration_s = (now - started).total_seconds() if started is not None else None
        s.connection().execute(
            update(_R)
            .where(_R.c.id == step_run_id)
            .values(status=status, error=error, finished_at=now, duration_s=duration_s)
        )

    def start_step(self, execution_id: str, owner: str, step: str, attempt: int) -> int:
        """Record the start of a try; returns the step run id. Raises LeaseLostError."""
        with self._db.transaction() as s:
            self._update_owned(s, execution_id, owner, attempt=attempt, heartbeat_at=utcnow())
            return self._insert_run(s, execution_id, step, attempt)

    def complete_step(
        self,
        execution_id: str,
        owner: str,
        step_run_id: int,
        next_step: int,
        state: Mapping[str, Any],
        progress: float,
        duration_s: float | None = None,
    ) -> None:
        """In one transaction: the try succeeded, the state is saved, the cursor moves on.

        A process killed after this resumes at ``next_step``; killed before, it redoes the step.
        """
        self.advance(execution_id, owner, step_run_id, next_step, state, progress, duration_s, None)

    def advance(
        self,
        execution_id: str,
        owner: str,
        step_run_id: int,
        next_step: int,
        state: Mapping[str, Any],
        progress: float,
        duration_s: float | None,
        start: str | None,
    ) -> int | None:
        """:meth:`complete_step`, and when ``start`` names a step, :meth:`start_step` of it
        (attempt 1), all in one transaction. Returns the new step run id, if one was started.
        """
        with self._db.transaction() as s:
            self._update_owned(
                s,
                execution_id,
                owner,
                state=dict(state),
                next_step=next_step,
                attempt=1 if start is not None else 0,
                progress=progress,
                heartbeat_at=utcnow(),
            )
            self._end_run(s, step_run_id, "succeeded", None, duration_s)
            return self._insert_run(s, execution_id, start, 1) if start is not None else None

    def handover(
        self,
        execution_id: str,
        owner: str,
        step_run_id: int,
        next_step: int,
        state: Mapping[str, Any],
        progress: float,
        duration_s: float | None,
    ) -> None:
        """In one transaction: the try succeeded, the state is saved, and the lease is given
        up so that any worker may take step ``next_step`` (a queue-driven runner: each step is
        its own task). The execution stays ``running``; with no heartbeat it is claimable at
        once, and it owes a task message (``dispatched_at`` cleared).
        """
        with self._db.transaction() as s:
            self._update_owned(
                s,
                execution_id,
                owner,
                state=dict(state),
                next_step=next_step,
                attempt=0,
                progress=progress,
                lease_owner=None,
                heartbeat_at=None,
                next_run_at=utcnow(),
                dispatched_at=None,
            )
            self._end_run(s, step_run_id, "succeeded", None, duration_s)

    def release(self, execution_id: str, owner: str) -> None:
        """Give a claimed execution back untouched (claimable at once by any worker)."""
        with self._db.transaction() as s:
            self._update_owned(s, execution_id, owner, lease_owner=None, heartbeat_at=None)

    def mark_dispatched(self, execution_id: str, step: int, dispatched: bool = True) -> None:
        """Record that a task message for step ``step`` was published (or, with
        ``dispatched=False``, that the publish failed and a message is still owed)."""
        with self._db.transaction() as s:
            s.connection().execute(
                update(_E)
                .where(_E.c.id == execution_id, _E.c.next_step == step)
                .values(dispatched_at=utcnow() if dispatched else None)
            )

    def take_for_dispatch(
        self,
        *,
        lease_s: float,
        grace_s: float,
        redispatch_s: float,
        pipelines: Collection[str] | None = None,
        limit: int = 100,
    ) -> list[Dispatch]:
        """Executions that owe a task message, each marked dispatched now (the caller
        publishes, and calls :meth:`mark_dispatched` with False if that fails).

        Owed: no message was recorded as published for ``grace_s`` after the execution became
        due; a running execution whose worker stopped renewing its lease; or a message
        published ``redispatch_s`` ago for an execution still not taken (a lost message).
        Rows other sweepers hold are skipped (PostgreSQL ``FOR UPDATE SKIP LOCKED``).
        """
        now = utcnow()
        grace = now - timedelta(seconds=grace_s)
        lapsed = now - timedelta(seconds=lease_s)
        stale = now - timedelta(seconds=redispatch_s)
        waiting = or_(
            _E.c.status == "pending",
            and_(_E.c.status == "running", _E.c.heartbeat_at.is_(None)),
        )
        owed = or_(
            and_(waiting, _E.c.dispatched_at.is_(None), _E.c.next_run_at <= grace),
            and_(waiting, _E.c.dispatched_at < stale, _E.c.next_run_at <= stale),
            and_(
                _E.c.status == "running",
                _E.c.heartbeat_at < lapsed,
                or_(_E.c.dispatched_at.is_(None), _E.c.dispatched_at < lapsed),
            ),
        )
        if pipelines is not None:
            owed = and_(owed, _E.c.pipeline.in_(list(pipelines)))
        query = (
            select(_E.c.id, _E.c.pipeline, _E.c.next_step)
            .where(owed)
            .order_by(_E.c.next_run_at)
            .limit(limit)
        )
        if not self._db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        with self._db.transaction() as s:
            conn = s.connection()
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(_E).where(_E.c.id.in_([r[0] for r in rows])).values(dispatched_at=now)
                )
        return [Dispatch(str(i), str(p), int(n)) for i, p, n in rows]

    def peek(self, execution_id: str) -> ExecutionRecord | None:
        """The execution without its step runs, or None (one cheap query)."""
        with self._db.reading() as s:
            row = s.get(ExecutionRow, execution_id)
            return None if row is None else ExecutionRecord.from_row(row)

    def abandoned_count(self, execution_id: str, step: str) -> int:
        """How many tries of ``step`` were cut off by a lost worker."""
        q = select(func.count()).where(
            _R.c.execution_id == execution_id, _R.c.step == step, _R.c.status == "abandoned"
        )
        with self._db.reading() as s:
            return int(s.connection().execute(q).scalar_one())

    def retry_later(
        self,
        execution_id: str,
        owner: str,
        step_run_id: int,
        delay_s: float,
        error: str,
        duration_s: float | None = None,
    ) -> None:
        """The try failed transiently: release the lease and make the job due after a delay."""
        with self._db.transaction() as s:
            self._update_owned(
                s,
                execution_id,
                owner,
                status="pending",
                lease_owner=None,
                error=error,
                next_run_at=utcnow() + timedelta(seconds=delay_s),
                dispatched_at=None,
            )
            self._end_run(s, step_run_id, "retrying", error, duration_s)

    def end_step(
        self,
        execution_id: str,
        owner: str,
        step_run_id: int,
        status: str,
        error: str | None,
        duration_s: float | None = None,
    ) -> None:
        """Close a try with ``status`` (``failed``, ``retrying``) while keeping the lease."""
        with self._db.transaction() as s:
            self._update_owned(s, execution_id, owner, heartbeat_at=utcnow())
            self._end_run(s, step_run_id, status, error, duration_s)

    def fail_step(self, execution_id: str, owner: str, step_run_id: int, error: str) -> None:
        """Record a permanently failed try (the execution stays held for ``on_failure``)."""
        self.end_step(execution_id, owner, step_run_id, "failed", error)

    def finish(
        self,
        execution_id: str,
        owner: str,
        status: str,
        *,
        error: str | None = None,
        state: Mapping[str, Any] | None = None,
        document_status: str | None = None,
        document_id: str | None = None,
    ) -> None:
        """Close the execution (``succeeded``, ``failed`` or ``quarantined``).

        Args:
            execution_id: the execution.
            owner: the lease holder.
            status: the final status.
            error: the error text, for failures.
            state: the final state, if it changed.
            document_status: set on the execution's document in the same transaction.
            document_id: the execution's document, when the caller knows it (saves a query).
        """
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "lease_owner": None,
            "finished_at": utcnow(),
        }
        if status == "succeeded":
            values["progress"] = 1.0
        if state is not None:
            values["state"] = dict(state)
        with self._db.transaction() as s:
            self._update_owned(s, execution_id, owner, **values)
            if document_status is not None:
                doc_id = document_id or s.scalar(
                    select(ExecutionRow.document_id).where(ExecutionRow.id == execution_id)
                )
                if doc_id is not None:
                    s.connection().execute(
                        update(_D).where(_D.c.id == doc_id).values(status=document_status)
                    )

    def set_progress(self, execution_id: str, fraction: float, message: str = "") -> None:
        """Record progress (0..1) and a short message for the status page."""
        with self._db.transaction() as s:
            s.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == execution_id)
                .values(progress=max(0.0, min(1.0, fraction)), progress_message=message[:512])
            )

    def requeue(self, execution_id: str, from_step: int | None = None) -> ExecutionRecord:
        """Make a finished execution pending again (the "retry" button).

        Args:
            execution_id: the execution.
            from_step: restart at this step index; default the step it stopped at.

        Raises:
            RecordNotFoundError: no such execution.
            ValueError: it is still pending or running.
        """
        with self._db.transaction() as s:
            row = s.get(ExecutionRow, execution_id)
            if row is None:
                raise RecordNotFoundError(f"no execution {execution_id}")
            if row.status in ("pending", "running"):
                raise ValueError(f"execution {execution_id} is {row.status}, not finished")
            row.status = "pending"
            row.error = None
            row.attempt = 0
            row.finished_at = None
            row.next_run_at = utcnow()
            row.dispatched_at = None
            row.state = {k: v for k, v in row.state.items() if k != "error"}
            if from_step is not None:
                row.next_step = from_step
            s.flush()
            return ExecutionRecord.from_row(row)

    # -- queries ----------------------------------------------------------------------------

    def get(self, execution_id: str) -> ExecutionRecord:
        """The execution with its step runs in order. Raises RecordNotFoundError."""
        with self._db.reading() as s:
            row = s.get(ExecutionRow, execution_id)
            if row is None:
                raise RecordNotFoundError(f"no execution {execution_id}")
            return self._with_steps(s, [row])[0]

    @staticmethod
    def _with_steps(s: Session, rows: list[ExecutionRow]) -> list[ExecutionRecord]:
        ids = [r.id for r in rows]
        runs: dict[str, list[StepRunRecord]] = {i: [] for i in ids}
        if ids:
            q = select(StepRunRow).where(StepRunRow.execution_id.in_(ids)).order_by(StepRunRow.id)
            for run in s.scalars(q):
                runs[run.execution_id].append(StepRunRecord.from_row(run))
        out = []
        for r in rows:
            rec = ExecutionRecord.from_row(r)
            out.append(ExecutionRecord(**{**rec.__dict__, "steps": tuple(runs[r.id])}))
        return out

    def list(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        document_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        with_steps: bool = False,
    ) -> list[ExecutionRecord]:
        """Executions, newest first, optionally filtered; with their step runs on request."""
        q = select(ExecutionRow)
        if status is not None:
            q = q.where(ExecutionRow.status == status)
        if pipeline is not None:
            q = q.where(ExecutionRow.pipeline == pipeline)
        if document_id is not None:
            q = q.where(ExecutionRow.document_id == document_id)
        q = q.order_by(ExecutionRow.created_at.desc(), ExecutionRow.id).limit(limit).offset(offset)
        with self._db.reading() as s:
            rows = list(s.scalars(q))
            if with_steps:
                return self._with_steps(s, rows)
            return [ExecutionRecord.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many executions are in each status."""
        q = select(ExecutionRow.status, func.count()).group_by(ExecutionRow.status)
        with self._db.reading() as s:
            return {status: int(n) for status, n in s.execute(q).all()}
