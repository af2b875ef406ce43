"""The labs analyzer: a lab report PDF in, a :class:`~medflow.domain.LabReport` out.

Pure: bytes in, typed results out. It composes the reader (text layer or OCR, row parser), the
interpretation against the knowledge base and the synthesis of findings. The knowledge base and
the OCR engine are loaded once, at construction, and reused for every report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medflow.analyzers.labs.inputcheck import PdfLimits
from medflow.analyzers.labs.interpret import interpret, printed_flag_code
from medflow.analyzers.labs.kb import KnowledgeBase
from medflow.analyzers.labs.language import detect_language
from medflow.analyzers.labs.parser import LabDocument, read_lab_document
from medflow.analyzers.labs.synthesis import synthesize
from medflow.analyzers.labs.trends import HistoricalResult
from medflow.domain import ExtractionInfo, LabReport, PatientInfo, RawLabRow

if TYPE_CHECKING:
    from medflow.analyzers.labs.ocr import TesseractOcr


class LabAnalyzer:
    """Reads, interprets and summarises lab reports.

    Args:
        overrides: per-lab reference ranges and critical limits (a mapping, or a YAML/JSON file);
            see :meth:`KnowledgeBase.load` for the format.
        limits: size, page and pixel limits applied before a PDF is read.
        ocr: OCR pages with no text layer (needs Tesseract).
    """

    def __init__(
        self,
        overrides: Mapping[str, Any] | str | Path | None = None,
        *,
        limits: PdfLimits | None = None,
        ocr: bool = True,
    ) -> None:
        self.kb = KnowledgeBase.load(overrides)
        self.limits = limits or PdfLimits()
        self.ocr = ocr
        self._ocr_engine: TesseractOcr | None = None

    def read(self, data: bytes, filename: str) -> LabDocument:
        """The rows as printed, how the text was read, and the letterhead (lab, date).

        Tesseract is started only when a page has no text layer, and then kept for later
        reports; text PDFs never need it.

        Raises:
            InputError: a subclass naming the file and the problem (see ``read_lab_document``).
            DependencyMissingError: a scanned page needs OCR and Tesseract is missing.
        """
        document = read_lab_document(
            data,
            filename,
            ocr=self.ocr,
            limits=self.limits,
            ocr_engine=self._ocr_engine,
            kb=self.kb,
        )
        if document.extraction.ocr_pages and self._ocr_engine is None:
            from medflow.analyzers.labs.ocr import TesseractOcr

            self._ocr_engine = TesseractOcr()
        return document

    def interpret(
        self,
        rows: Sequence[RawLabRow],
        patient: PatientInfo,
        *,
        history: Sequence[HistoricalResult] = (),
        extraction: ExtractionInfo | None = None,
        collected_at: datetime | None = None,
        lab_name: str = "",
        unread: Sequence[RawLabRow | str] = (),
    ) -> LabReport:
        """Identify, flag and summarise rows already read.

        Args:
            rows: the rows as printed.
            patient: who the report is about (sex and age select ranges).
            history: the patient's earlier results, for trends.
            extraction: how the rows were read, kept on the report.
            collected_at: when the samples were taken (trend windows); now when None.
            lab_name: the laboratory, when known.
            unread: lines holding numbers that the reader could not split into rows (rows
                or their text); they join ``unrecognized`` and are counted and screened like
                unrecognised rows.
        """
        results, unrecognized = interpret(rows, patient, self.kb)
        unrecognized += [unread_row(item) for item in unread]
        texts = [t for r in rows for t in (r.name, r.line, r.section)]
        texts += [t for r in unrecognized for t in (r.name, r.line)]
        language = detect_language(texts)
        summary = synthesize(
            results,
            patient,
            history,
            kb=self.kb,
            collected_at=collected_at,
            unrecognized=unrecognized,
            language=language,
        )
        return LabReport(
            patient=patient,
            results=tuple(results),
            unrecognized=tuple(unrecognized),
            summary=summary,
            lab_name=lab_name,
            collected_at=collected_at,
            extraction=extraction or ExtractionInfo(),
            language=language.code if language is not None else "",
        )

    def analyze(
        self,
        data: bytes,
        filename: str,
        patient: PatientInfo,
        *,
        history: Sequence[HistoricalResult] = (),
        collected_at: datetime | None = None,
    ) -> LabReport:
        """Read and interpret one report.

        Raises:
            InputError: a subclass naming the file and the problem.
        """
        document = self.read(data, filename)
        return self.interpret(
            document.rows,
            patient,
            history=history,
            extraction=document.extraction,
            collected_at=collected_at or document.header.collected_at,
            lab_name=document.header.lab_name,
            unread=document_unread(document),
        )


def document_unread(document: LabDocument) -> list[RawLabRow]:
    """The lines with numbers a reader kept as not read (``LabDocument.unread``, when the
    reader provides it), as rows."""
    rows: list[RawLabRow] = []
    for item in document.unread:
        row = unread_row(item.text)
        rows.append(
            row.model_copy(update={"bbox": item.bbox, "section": item.section, "ocr": item.ocr})
        )
    return rows


def unread_row(item: RawLabRow | str) -> RawLabRow:
    """A line the reader could not split into a row, as a row: the text before its first
    number is the name, the whole line is kept as evidence."""
    if isinstance(item, RawLabRow):
        return item
    line = " ".join(str(item).split())
    words = re.split(r"\s(?=[-<>≤≥]?\d)", line, maxsplit=1)[0].split()
    while len(words) > 1 and printed_flag_code(words[-1]):
        words.pop()  # a flag printed before the value is not part of the name
    return RawLabRow(name=" ".join(words) or line, value_text="", line=line)
