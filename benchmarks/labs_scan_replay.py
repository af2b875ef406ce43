"""Scanned randomised lab reports scored per family on a chosen list of seeds, OCR cached.

For tuning the reading of scanned tables (issue 11): ``labs_accuracy.py --random-scanned``
scores contiguous seeds and runs Tesseract every time; this scores any seed list (a family's
seeds: ``7:300-399`` is every seed from 300 to 399 with ``seed % 10 == 7``, the ``leaders``
family) with the same scoring (``labs_accuracy.score_random``), and keeps every Tesseract
reading (whole pages and re-read boxes, keyed by the image's bytes and the options) and every
generated report in ``--cache``, so that a second run after a parser change replays them in a
fraction of the time. A change to the page preparation (rendering, deskew, rule removal) gives
new images and runs Tesseract again.

Usage: ``python benchmarks/labs_scan_replay.py 7:300-399,9:300-399 [--misses FILE]
[--cache DIR]``; ``--misses`` writes one line per wrong field (seed, family, field, truth
name, printed, read, name read). Tune on seeds below 1000 only (see ``labs_accuracy.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labs_accuracy as la

from medflow.analyzers.labs import ocr
from medflow.analyzers.labs.parser import read_lab_document
from medflow.errors import InputError


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that another run sharing the cache never reads a half-written file."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


def cache_tesseract(folder: Path) -> None:
    """Make ``TesseractOcr.image_to_data`` read its answers from ``folder`` when it has them."""
    original = ocr.TesseractOcr.image_to_data

    def cached(
        self: ocr.TesseractOcr, image: Any, timeout_s: float = 300.0, config: str | None = None
    ) -> dict[str, list[str]]:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        options = repr((self.config if config is None else config, self.lang)).encode()
        path = folder / f"ocr-{hashlib.sha1(buf.getvalue() + options).hexdigest()}.pkl"
        if path.exists():
            data: dict[str, list[str]] = pickle.loads(path.read_bytes())
            return data
        data = original(self, image, timeout_s, config)
        _write_atomic(path, pickle.dumps(data))
        return data

    ocr.TesseractOcr.image_to_data = cached  # type: ignore[method-assign]


def scanned_report(seed: int, folder: Path) -> tuple[bytes, dict[str, Any]]:
    """The scanned variant of one randomised report (PDF bytes, truth), cached."""
    path = folder / f"rep-{seed}.pkl"
    if path.exists():
        report: tuple[bytes, dict[str, Any]] = pickle.loads(path.read_bytes())
        return report
    report = la.load_randomized().build_random_report(seed, scanned=True)
    _write_atomic(path, pickle.dumps(report))
    return report


def parse_seeds(spec: str) -> list[int]:
    """``"7:300-399,400-459,12"`` -> seeds (``F:A-B``: those of family F between A and B)."""
    out: list[int] = []
    for part in spec.split(","):
        if ":" in part:
            family, span = part.split(":")
            a, b = map(int, span.split("-"))
            out += [s for s in range(a, b + 1) if s % 10 == int(family)]
        elif "-" in part:
            a, b = map(int, part.split("-"))
            out += range(a, b + 1)
        else:
            out.append(int(part))
    return out


def misses(truth: dict[str, Any], rows: list[Any]) -> list[tuple[str, str, str, str, str]]:
    """(field, truth name, printed, read, name read) for each wrong field of one report."""
    sex = truth["patient"]["sex"]
    out = []
    for t, r in zip(truth["rows"], la.align(truth["rows"], rows, lambda r: r.name), strict=True):
        if r is None:
            out.append(("found", t["name"], t["value_text"], "", ""))
            continue
        limits = (t["low"], t["high"])
        want = limits if limits != (None, None) else t["range_text"].casefold()
        checks = (
            ("value", la.signed_value(r.value_text) == la.signed_value(t["value_text"])),
            ("unit", r.unit_text == t["unit_text"]),
            ("range", la.signed_limits(r.range_text, sex) == want),
            ("flag", r.flag_text == t["printed_flag"]),
        )
        printed = {"value": "value_text", "unit": "unit_text", "range": "range_text"}
        for field, ok in checks:
            if not ok:
                key = printed.get(field, "printed_flag")
                read = getattr(r, key if field != "flag" else "flag_text")
                out.append((field, t["name"], t[key], read, r.name))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", help='e.g. "7:300-399,400-459"')
    ap.add_argument("--cache", type=Path, default=Path("/tmp/medflow-labs-scan-cache"))
    ap.add_argument("--misses", type=Path, default=None)
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache_tesseract(args.cache)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lines: list[str] = []
    for seed in parse_seeds(args.seeds):
        data, truth = scanned_report(seed, args.cache)
        try:
            doc = read_lab_document(data, f"random-{seed}.pdf")
            rows, unread = list(doc.rows), "\n".join(u.text for u in doc.unread)
        except InputError as exc:
            rows, unread = [], str(exc)
        for key in (truth["family"], "all"):
            for field, ok in la.score_random(truth, rows, unread).items():
                totals[key][field] += ok
        for miss in misses(truth, rows):
            lines.append("\t".join(map(str, (seed, truth["family"], *miss))))
    for key in [*sorted(k for k in totals if k != "all"), "all"]:
        t = totals[key]
        cells = " ".join(f"{f}={100 * t[f] / t['n']:6.2f}" for f in la.RANDOM_FIELDS)
        print(
            f"{key:12s} rows={t['n']:5d} {cells} vanished={t['vanished']} misnamed={t['misnamed']}"
        )
    if args.misses is not None:
        args.misses.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
