"""Dictation accuracy and speed: word error rate with and without vocabulary hints, and RTF.

Baseline (measured in the same run, on the same clips, with the same loaded model): one
beam-search pass of Whisper tiny.en with no hints (``Transcriber(lexicon=())``). Variants:
- ``prior`` (medflow's default): the first terms of the bundled vocabulary (the most prescribed
  drugs) as ``hotwords``, one pass;
- ``draft+prior``: a greedy draft pass first; bundled terms the draft *sounds like* go first;
- ``caller vocabulary``: the default plus the terms of the clip's own text that are in the
  bundled vocabulary passed as ``vocabulary=`` -- what a caller reaches by passing the patient's
  medication and problem lists (an upper bound for hints; the words are known to be spoken).

Clips: the espeak-ng dictations of ``tests/fixtures/audio/dictations.yaml`` (synthetic) and the
real LibriVox and "cards" recordings of Debian's pocketsphinx-testdata.
WER: normalised words, Levenshtein alignment (``medflow.analyzers.speech.wer``), pooled per set.
RTF: processing seconds / audio seconds (lower is faster), per variant, whole set.
Targets (issue 3): WER <= 10 % on the dictations, RTF <= 0.3 on this CPU.

The machine's load average is printed: on a shared machine RTF grows with the load.
Usage: ``python benchmarks/dictation.py [--threads N] [--show]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from medflow.analyzers.speech import Transcriber, WhisperEngine
from medflow.analyzers.speech.vocabulary import VocabularyIndex, bundled_vocabulary
from medflow.analyzers.speech.wer import WerResult, word_error_rate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "audio"))
import make_dictations  # noqa: E402  (the fixture generator: espeak-ng + sox)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg, ffprobe), user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_set(
    name: str,
    clips: Sequence[make_dictations.Clip],
    transcriber: Transcriber,
    *,
    oracle: bool = False,
    show: bool = False,
) -> tuple[WerResult, float, float, float]:
    """Transcribe every clip; return pooled WER, audio seconds, wall seconds, CPU seconds."""
    total = WerResult(0, 0, 0, 0)
    audio_s = proc_s = 0.0
    cpu_start = cpu_seconds()
    drugs = VocabularyIndex(bundled_vocabulary())
    for clip in clips:
        hints = [m.term for m in drugs.find(clip.reference) if m.score == 1.0] if oracle else None
        data = clip.path.read_bytes()
        start = time.perf_counter()
        result = transcriber.transcribe(data, clip.path.name, vocabulary=hints)
        proc_s += time.perf_counter() - start
        audio_s += result.duration_s
        wer = word_error_rate(clip.reference, result.text)
        total = total + wer
        if show:
            print(f"  [{name}] {clip.id}: WER {wer.wer:.1%}  {result.text}")
    return total, audio_s, proc_s, cpu_seconds() - cpu_start


def main() -> None:
    """Run every set with every variant and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for CTranslate2")
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    args = parser.parse_args()

    dictations = make_dictations.make_dictations(ROOT / ".bench" / "audio")
    sets = {"dictations (espeak-ng)": dictations, "real speech (pocketsphinx)": []}
    sets["real speech (pocketsphinx)"] = make_dictations.pocketsphinx_clips()
    engine = WhisperEngine(cpu_threads=args.threads)
    variants: dict[str, tuple[Transcriber, bool]] = {
        "baseline: no hints": (Transcriber(engine, lexicon=()), False),
        "prior (default)": (Transcriber(engine), False),
        "draft+prior": (Transcriber(engine, hint_mode="draft+prior"), False),
        "caller vocabulary": (Transcriber(engine), True),
    }
    # Warm-up so that model initialisation is not charged to the first variant.
    variants["baseline: no hints"][0].transcribe(dictations[0].path.read_bytes(), "warmup.wav")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPU: {os.cpu_count()} cores, load average {load}; {args.threads} threads")
    print("RTF: wall seconds per audio second; CPU/s: CPU seconds per audio second (all threads,")
    print("     ffmpeg included) -- on a loaded machine wall RTF grows, CPU/s does not.")
    print(
        f"{'set':28} {'variant':24} {'clips':>5} {'audio s':>8} {'WER':>7} {'RTF':>6} {'CPU/s':>6}"
    )
    for set_name, clips in sets.items():
        if not clips:
            print(f"{set_name:28} (no clips: is the Debian package installed?)")
            continue
        base_wer = base_rtf = 0.0
        for variant, (transcriber, oracle) in variants.items():
            wer, audio_s, proc_s, cpu_s = run_set(
                variant, clips, transcriber, oracle=oracle, show=args.show
            )
            rtf = proc_s / audio_s
            print(
                f"{set_name:28} {variant:24} {len(clips):5d} {audio_s:8.1f} "
                f"{wer.wer:7.1%} {rtf:6.3f} {cpu_s / audio_s:6.3f}"
            )
            if variant.startswith("baseline"):
                base_wer, base_rtf = wer.wer, rtf
            else:
                ratio = f"{wer.wer / base_wer:.2f}" if base_wer else "n/a (baseline 0)"
                print(
                    f"{'':28}   ratio vs baseline: WER x{ratio}, RTF x{rtf / base_rtf:.2f}"
                    f"  ({wer.substitutions} sub, {wer.deletions} del, {wer.insertions} ins"
                    f" of {wer.reference_words} words)"
                )


if __name__ == "__main__":
    main()
