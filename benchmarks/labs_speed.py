"""Lab-report reading speed: text reports per second end to end, seconds per OCR page.

End to end = ``read_lab_pdf`` (input checks, PDFium text, row parser) plus ``interpret`` with
the knowledge base when that module is present (email and storage excluded), one process, one
core. Baseline, measured in the same run on the same reports: the seed project's approach,
``pypdf`` ``extract_text()`` and one regular expression per line (its accuracy is printed by
``labs_accuracy.py``: it finds a few percent of the rows these layouts hold).

``--compare-extractors`` also times pypdfium2 against pdfplumber for words with positions on
the same pages and checks that both give the same words at the same places (the measurement
behind the choice documented in ``medflow.analyzers.labs.pdftext``).

Usage: ``python benchmarks/labs_speed.py [--reports N] [--ocr-reports N] [--compare-extractors]``.
Target: >= 20 text reports/s on one core.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labs_accuracy import TEXT_LAYOUTS, load_generator, load_interpret, seed_rows

from medflow.analyzers.labs.parser import read_lab_pdf
from medflow.domain.patient import PatientInfo


def _best_rate(fn: Callable[[bytes], Any], docs: list[bytes], rounds: int) -> tuple[float, float]:
    """Documents per second, (per CPU second of this process, per wall second): medians.

    CPU time is what one core delivers when the machine is shared; wall time is printed too.
    """
    cpu, wall = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for data in docs:
            fn(data)
        cpu.append(len(docs) / (time.process_time() - start_cpu))
        wall.append(len(docs) / (time.perf_counter() - start))
    return statistics.median(cpu), statistics.median(wall)


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (Tesseract runs as a child)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def compare_extractors(docs: list[bytes]) -> None:
    """pypdfium2 vs pdfplumber: CPU ms per page and agreement of words and x positions."""
    import pdfplumber

    from medflow.analyzers.labs.pdftext import open_pdf, page_text

    pages = 0
    t_pdfium = t_plumber = 0.0
    same_words = same_pos = total = 0
    for data in docs:
        start = time.process_time()
        doc = open_pdf(data, "bench.pdf")
        ours = [page_text(doc[i], i + 1) for i in range(len(doc))]
        doc.close()
        t_pdfium += time.process_time() - start
        start = time.process_time()
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            theirs = [p.extract_words() for p in pdf.pages]
        t_plumber += time.process_time() - start
        pages += len(ours)
        for mine, other in zip(ours, theirs, strict=True):
            a = sorted((w.text, round(w.x0)) for ln in mine.lines for w in ln.words)
            b = sorted((w["text"], round(float(w["x0"]))) for w in other)
            total += max(len(a), len(b))
            texts_b = sorted(t for t, _ in b)
            same_words += sum(
                1 for x, y in zip(sorted(t for t, _ in a), texts_b, strict=False) if x == y
            )
            same_pos += sum(
                1
                for (ta, xa), (tb, xb) in zip(a, b, strict=False)
                if ta == tb and abs(xa - xb) <= 1
            )
    print(
        f"  extractors on {pages} pages: pypdfium2 {1000 * t_pdfium / pages:.1f} ms/page, "
        f"pdfplumber {1000 * t_plumber / pages:.1f} ms/page "
        f"({t_plumber / t_pdfium:.1f}x slower); same words {100 * same_words / total:.1f}%, "
        f"same words at the same x (±1 pt) {100 * same_pos / total:.1f}%"
    )


def _full_chain() -> Callable[[bytes], None]:
    """The whole analysis of one text report as the pipeline does it, without storage/sending."""
    from datetime import UTC, datetime

    from medflow.analyzers.labs.analyzer import LabAnalyzer
    from medflow.domain import Sex
    from medflow.reports.email import render_doctor_email
    from medflow.reports.fhir_labs import lab_bundle
    from medflow.reports.html import render_lab_html
    from medflow.reports.jsonout import lab_json

    analyzer = LabAnalyzer(ocr=False)
    patient = PatientInfo(patient_id="BENCH", sex=Sex.FEMALE, age=50)

    def run(data: bytes) -> None:
        report = analyzer.analyze(data, "bench.pdf", patient)
        lab_json(report, document_id="bench")
        lab_bundle(report, document_id="bench", pdf=data, issued=datetime.now(UTC), validate=False)
        render_lab_html(report)
        render_doctor_email(report, report_url="https://medflow.example/r/bench")

    return run


def main(argv: list[str] | None = None) -> int:
    """Generate reports, time both readers, print rates and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=42, help="text reports (cycled over layouts)")
    ap.add_argument("--ocr-reports", type=int, default=2, help="scanned reports to OCR")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--compare-extractors", action="store_true")
    args = ap.parse_args(argv)
    gen = load_generator()
    docs = [
        gen.build_report(TEXT_LAYOUTS[i % len(TEXT_LAYOUTS)], args.seed * 1000 + i)[0]
        for i in range(args.reports)
    ]
    kb = load_interpret()
    patient = PatientInfo()

    def ours(data: bytes) -> None:
        rows, _ = read_lab_pdf(data, "bench.pdf", ocr=False)
        if kb is not None:
            kb[0](rows, patient, kb[1])

    full = _full_chain()
    ours(docs[0])  # warm caches: lexicon, knowledge base, PDFium
    full(docs[0])
    seed_rows(docs[0])
    rate, rate_wall = _best_rate(ours, docs, args.rounds)
    full_rate, full_wall = _best_rate(full, docs, args.rounds)
    base, base_wall = _best_rate(seed_rows, docs, args.rounds)
    what = "rows + interpret" if kb is not None else "rows only (interpret not present)"
    verdict = "PASS" if rate >= 20 else "FAIL"
    print(f"labs speed, {args.reports} text reports ({what}), one process, one core:")
    print(
        f"  medflow: {rate:.1f} reports per CPU second ({rate_wall:.1f}/s wall) "
        f"(target >= 20: {verdict})"
    )
    print(
        f"  seed baseline (pypdf extract_text + one line regex): {base:.1f} reports per CPU "
        f"second ({base_wall:.1f}/s wall)"
    )
    print(f"  ratio medflow / seed: {rate / base:.2f}x")
    full_verdict = "PASS" if full_rate >= 20 else "FAIL"
    print(
        f"  medflow end to end (read, interpret, synthesise, JSON + FHIR R4 + HTML + email "
        f"rendered; storage and sending excluded): {full_rate:.1f} reports per CPU second "
        f"({full_wall:.1f}/s wall), {full_rate / base:.2f}x the seed (target >= 20: "
        f"{full_verdict})"
    )
    if args.compare_extractors:
        compare_extractors(docs)
    if args.ocr_reports:
        from medflow.analyzers.labs.ocr import TesseractOcr

        engine = TesseractOcr()
        pages = 0
        start = time.perf_counter()
        cpu = _cpu_with_children()
        for i in range(args.ocr_reports):
            layout = ("scanned", "noisy_scan")[i % 2]
            data, truth = gen.build_report(layout, args.seed * 1000 + i)
            read_lab_pdf(data, "scan.pdf", ocr_engine=engine)
            pages += truth["pages"]
        wall = (time.perf_counter() - start) / pages
        per_page = (_cpu_with_children() - cpu) / pages
        print(
            f"  OCR: {per_page:.2f} CPU s/page ({wall:.2f} s/page wall) over {pages} scanned "
            "pages (300 dpi, Tesseract --psm 4, clean and noisy); the seed approach reads no "
            "rows from a scan"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
