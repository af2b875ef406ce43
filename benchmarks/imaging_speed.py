"""Imaging speed: de-identification and full analysis, in images per second, on one machine.

Baseline (measured in the same run, on the same files, from memory): plain pydicom reading each
file, walking every element at every depth (touching each value, as any tag-by-tag tool must)
and writing it back. medflow's de-identification does that walk plus the PS3.15 Annex E actions,
UID remapping and its safety checks, so the ratio says what the profile costs over the bare walk.

Full analysis: read, decode, render, quality checks, one small ONNX model (a test instrument
built with the onnx helper API) and the thumbnail, on every test file that holds an image.

Files: every pydicom / pydicom-data test file medflow accepts (no network, no patient data).

Burned-in text detector (``--text-lines``): the text-line finder (``text_lines.find_lines``)
and the stroke images OCR reads (``text_structure.stroke_images``), in seconds per image on the
generated burned-in set (``tests/fixtures/imaging/burned_in_set.py``, PHI and text-free seeds
0-14 by default), against the code before ``scipy.ndimage`` (``text_lines_reference.py``: PIL
Min/MaxFilter top-hats, a Python loop over the components) in the same run; it also checks both
find the same lines and stroke images on every image. 2026-12-06, 2 shared CPU cores: find_lines
0.304 -> 0.060 s/image (5.0x), identical lines (98 on seeds 0-14).

Usage: ``python benchmarks/imaging_speed.py [--rounds N] [--text-lines [--seeds N]]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset

from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.models import ModelRunner
from medflow.domain.imaging import DeidOptions
from medflow.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "imaging"))
import imaging_fixtures  # the ONNX test-instrument builder

SECRET = b"benchmark-secret-0123456789abcdef"


def _walk(ds: Dataset) -> int:
    touched = 0
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                touched += _walk(item)
        else:
            _ = elem.value
        touched += 1
    return touched


def baseline(data: bytes) -> None:
    """Plain pydicom: read, walk every element, write back."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        _walk(ds)
        ds.save_as(io.BytesIO())


def _rate(fn: Callable[[bytes], object], files: list[bytes], rounds: int) -> float:
    """Median images/s over ``rounds`` passes through ``files``."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for data in files:
            fn(data)
        rates.append(len(files) / (time.perf_counter() - start))
    return statistics.median(rates)


def text_lines_speed(seeds: range, rounds: int) -> None:
    """Time the text-line finder and the stroke images, current vs reference, and check they
    give the same output on every image (PHI and text-free cases of ``seeds``)."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import burned_in_set as bs
    import text_lines_reference as ref

    from medflow.analyzers.imaging.pixel_clean import load_pixel_rules
    from medflow.analyzers.imaging.text_lines import find_lines
    from medflow.analyzers.imaging.text_structure import stroke_images

    rules = load_pixel_rules()
    assert rules.lines is not None
    line_rules = rules.lines
    frames = [bs.display(bs.phi_case(s).data) for s in seeds]
    frames += [bs.display(bs.free_case(s).data) for s in seeds]

    def square(grey: np.ndarray) -> int:
        short = min(grey.shape[:2])
        return max(rules.strokes_min_size, round(rules.strokes_size_fraction * short)) | 1

    same_lines = same_strokes = 0
    found = 0
    for grey in frames:
        lines = find_lines(grey, line_rules)
        found += len(lines)
        same_lines += lines == ref.find_lines(grey, line_rules)
        new, old = stroke_images(grey, square(grey)), ref.stroke_images(grey, square(grey))
        same_strokes += all(np.array_equal(a, b) for a, b in zip(new, old, strict=True))

    def per_image(fn: Callable[[np.ndarray], object]) -> float:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for grey in frames:
                fn(grey)
            times.append((time.perf_counter() - start) / len(frames))
        return statistics.median(times)

    timings = {
        "find_lines": (
            per_image(lambda g: ref.find_lines(g, line_rules)),
            per_image(lambda g: find_lines(g, line_rules)),
        ),
        "stroke_images": (
            per_image(lambda g: ref.stroke_images(g, square(g))),
            per_image(lambda g: stroke_images(g, square(g))),
        ),
    }
    print(
        f"burned-in set seeds {seeds.start}-{seeds.stop - 1} (PHI and text-free): "
        f"{len(frames)} frames, {found} lines found"
    )
    print(
        f"same lines as the reference: {same_lines}/{len(frames)}; same stroke images: "
        f"{same_strokes}/{len(frames)}"
    )
    for name, (old, new) in timings.items():
        print(
            f"{name:14s} reference {old:.3f} s/image, current {new:.3f} s/image, "
            f"new/old {new / old:.3f} ({old / new:.1f}x faster)"
        )


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--text-lines", action="store_true", help="time the burned-in text detector only"
    )
    parser.add_argument("--seeds", type=int, default=15, help="with --text-lines: seeds 0..N-1")
    args = parser.parse_args()
    if args.text_lines:
        text_lines_speed(range(args.seeds), args.rounds)
        return

    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="off"))
    candidates = [Path(f) for f in get_testdata_files() if Path(f).is_file()]
    deid_files: list[bytes] = []
    for path in candidates:
        data = path.read_bytes()
        try:
            deid.deidentify_file(data, path.name)
        except InputError:
            continue
        deid_files.append(data)

    with tempfile.TemporaryDirectory() as tmp:
        imaging_fixtures.write_model(Path(tmp), modalities=("CT", "MR", "CR", "DX", "OT", "US"))
        analyzer = ImagingAnalyzer(ModelRunner(Path(tmp)))
        image_files: list[bytes] = []
        for data in deid_files:
            try:
                analyzer.analyze(data, "bench.dcm")
            except InputError:
                continue
            image_files.append(data)

        base = _rate(baseline, deid_files, args.rounds)
        ours = _rate(lambda d: deid.deidentify_file(d, "bench.dcm"), deid_files, args.rounds)
        full = _rate(lambda d: analyzer.analyze(d, "bench.dcm"), image_files, args.rounds)
        pipeline = _rate(
            lambda d: analyzer.analyze(deid.deidentify_file(d, "bench.dcm")[0], "bench.dcm"),
            image_files,
            args.rounds,
        )

    mib = sum(len(d) for d in deid_files) / (1 << 20)
    print(f"files: {len(deid_files)} DICOM ({mib:.1f} MiB), {len(image_files)} with images")
    print(f"baseline  pydicom read + walk every tag + write: {base:8.1f} images/s")
    print(f"medflow   de-identification (Annex E, no OCR):   {ours:8.1f} images/s")
    print(f"ratio     de-identification / baseline:           {ours / base:8.2f}")
    print(f"medflow   full analysis (quality + model):        {full:8.1f} images/s")
    print(f"medflow   de-identify then analyse:               {pipeline:8.1f} images/s")


if __name__ == "__main__":
    main()
