"""What ``medflow analyze`` shows for a clinical document or a dictation once its pipeline ran.

Table format: the entities table (documents and dictations), the transcript (dictations) and
where the results were written. ``json``: the Comprehend-shaped entities (documents) or
``{"transcript", "resume", "entities", "notes"}`` (dictations). ``fhir``: the stored FHIR R4 Bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from medflow.cli.clinical import entities_table
from medflow.cli.common import err_console, out_console
from medflow.domain.clinical import ClinicalResult
from medflow.platform.config import Settings
from medflow.platform.storage import ObjectStore

RESULTS_BUCKET = "results"


@dataclass(frozen=True)
class ClinicalOutput:
    """The stored outputs of one document of the ``documents`` or ``dictation`` pipeline.

    Attributes:
        settings: where the data lives.
        store: the object store holding the results.
        pipeline: ``"documents"`` or ``"dictation"``.
        document_id: the document.
        filename: the name the user gave the file.
    """

    settings: Settings
    store: ObjectStore
    pipeline: str
    document_id: str
    filename: str

    def _get(self, name: str) -> Any:
        key = f"{self.pipeline}/{self.document_id}/{name}"
        return json.loads(self.store.get(RESULTS_BUCKET, key))

    def print(self) -> None:
        """Print the entities table (and the transcript of a dictation) and the result paths."""
        result = ClinicalResult.model_validate(self._get("result.json"))
        folder = f"{self.settings.data_dir}/objects/{RESULTS_BUCKET}/{self.pipeline}/"
        if self.pipeline == "dictation":
            transcript = self._get("transcript.json")
            out_console.print(f"[bold]{self.filename}[/bold] transcript:", highlight=False)
            out_console.print(transcript["text"], markup=False, highlight=False)
            out_console.print(entities_table(result, self.filename))
            for warning in result.warnings:
                err_console.print(f"medflow: {self.filename}: {warning}", markup=False)
            out_console.print(
                f"[dim]document {self.document_id}: medical resume in "
                f"{folder}{self.document_id}/resume.html; health record stored[/dim]",
                soft_wrap=True,
            )
            return
        out_console.print(entities_table(result, self.filename))
        out_console.print(
            f"[dim]document {self.document_id}: results in {folder}{self.document_id}/ "
            "(entities.json, fhir.json, summary.html)[/dim]",
            soft_wrap=True,
        )

    def payload(self, output_format: str) -> Any:
        """The JSON document ``--format json`` or ``--format fhir`` prints for this file."""
        if output_format == "fhir":
            return self._get("fhir.json")
        if self.pipeline == "dictation":
            resume = self._get("resume.json")
            return {
                "transcript": self._get("transcript.json"),
                "resume": resume,
                "entities": self._get("entities.json"),
                "notes": resume.get("notes", []),  # e.g. why a Spanish recording has no entities
            }
        return self._get("entities.json")


def clinical_output(
    settings: Settings, store: ObjectStore, pipeline: str, document_id: str, filename: str
) -> ClinicalOutput:
    """The outputs of ``document_id`` as ``medflow analyze`` shows them."""
    return ClinicalOutput(settings, store, pipeline, document_id, filename)
