"""Results of a document: lab observations and clinical findings.

Writes replace a document's rows inside one transaction (delete, then insert), so a step that
runs twice leaves one copy, and a reader never sees half of a document's results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from medflow.platform.db.models import FindingRow, ObservationRow
from medflow.platform.db.records import Finding, Observation

if TYPE_CHECKING:
    from medflow.platform.db.database import Database

_OBS_FIELDS = (
    "name",
    "value",
    "value_text",
    "unit",
    "loinc",
    "test_id",
    "flag",
    "significance",
    "ref_low",
    "ref_high",
    "collected_at",
    "patient_id",
)


def _observation(row: ObservationRow) -> Observation:
    values = {f: getattr(row, f) for f in _OBS_FIELDS}
    return Observation(document_id=row.document_id, **values)


class ResultRepository:
    """Observations and findings per document."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_observations(
        self, document_id: str, observations: Sequence[Observation], patient_id: str | None = None
    ) -> int:
        """Make ``observations`` the document's only observations, in the given order.

        Args:
            document_id: the document they come from.
            observations: the rows; their own ``document_id`` is ignored.
            patient_id: stored on every row when given (else each row's own).

        Returns:
            The number of rows written.
        """
        with self._db.transaction() as s:
            s.execute(delete(ObservationRow).where(ObservationRow.document_id == document_id))
            for i, o in enumerate(observations):
                values = {f: getattr(o, f) for f in _OBS_FIELDS}
                if patient_id is not None:
                    values["patient_id"] = patient_id
                s.add(ObservationRow(document_id=document_id, position=i, **values))
        return len(observations)

    def observations(
        self,
        *,
        document_id: str | None = None,
        patient_id: str | None = None,
        loinc: str | None = None,
    ) -> list[Observation]:
        """Observations filtered by document, patient and/or LOINC code.

        Ordered by collection time (unknown last) then position, so a series reads as a trend.
        """
        q = select(ObservationRow)
        if document_id is not None:
            q = q.where(ObservationRow.document_id == document_id)
        if patient_id is not None:
            q = q.where(ObservationRow.patient_id == patient_id)
        if loinc is not None:
            q = q.where(ObservationRow.loinc == loinc)
        q = q.order_by(
            ObservationRow.collected_at.asc().nulls_last(),
            ObservationRow.document_id,
            ObservationRow.position,
        )
        with self._db.reading() as s:
            return [_observation(r) for r in s.scalars(q)]

    def replace_findings(self, document_id: str, findings: Sequence[Finding]) -> int:
        """Make ``findings`` the document's only findings, in the given order."""
        with self._db.transaction() as s:
            s.execute(delete(FindingRow).where(FindingRow.document_id == document_id))
            for i, f in enumerate(findings):
                s.add(
                    FindingRow(
                        document_id=document_id,
                        position=i,
                        code=f.code,
                        title=f.title,
                        severity=f.severity,
                        explanation=f.explanation,
                        evidence=dict(f.evidence),
                    )
                )
        return len(findings)

    def findings(self, document_id: str) -> list[Finding]:
        """The document's findings in the order written."""
        q = (
            select(FindingRow)
            .where(FindingRow.document_id == document_id)
            .order_by(FindingRow.position)
        )
        with self._db.reading() as s:
            return [
                Finding(
                    code=r.code,
                    title=r.title,
                    severity=r.severity,
                    explanation=r.explanation,
                    evidence=dict(r.evidence),
                    document_id=r.document_id,
                )
                for r in s.scalars(q)
            ]
