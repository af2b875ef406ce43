"""Dictation accuracy and speed: Whisper tiny.en against Whisper base on the same clips, in one run.

Baseline (measured in the same run, on the same clips, same settings): Whisper tiny.en, the
bundled model, with medflow's default hints (``prior``: the first terms of the bundled
vocabulary as ``hotwords``). Compared: Whisper base (the ``speech-base`` extra, multilingual),
same hints, its language detected per recording as the dictation pipeline does by default.

Sets:
- dictations (espeak-ng): ``tests/fixtures/audio/dictations.yaml``, English, synthetic voices,
  some with noise or tempo changes;
- real speech (pocketsphinx): Debian pocketsphinx-testdata's LibriVox and "cards" recordings;
- other languages (espeak-ng): ``other_languages`` of the same YAML: Spanish (``-v es``,
  ``-v es-419``) and Brazilian Portuguese. tiny.en cannot transcribe them (it is English only);
  base runs twice: language detected, and language given (``--language``).

WER: pooled over a set, both texts normalised by ``medflow.analyzers.speech.normalizer`` in the
clip's language (numbers, dates, hyphens, units, spellings, case, punctuation); "raw" removes
only case and punctuation. Portuguese has no number tables, so its spelled references count
digits as errors. RTF: wall seconds per audio second; CPU/s: CPU seconds per audio second (all
threads, ffmpeg included): on a loaded machine wall RTF grows, CPU/s much less.
``--hints`` adds issue 3's hint variants (no hints, draft+prior, caller vocabulary) per model.

Nothing was tuned on these clips in this change (the models and decoding options are as they
were; the normaliser was written from its rules, then run here).
Usage: ``nice -n 10 python benchmarks/dictation.py [--threads N] [--show] [--hints]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medflow.analyzers.speech import Transcriber
from medflow.analyzers.speech.engine import WhisperEngine, whisper_engine
from medflow.analyzers.speech.vocabulary import VocabularyIndex, bundled_vocabulary
from medflow.analyzers.speech.wer import WerResult, raw_word_error_rate, word_error_rate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "audio"))
import make_dictations  # noqa: E402  (the fixture generator: espeak-ng + sox)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg, ffprobe), user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Run:
    """Pooled results of one model/variant on one set."""

    wer: WerResult = field(default_factory=lambda: WerResult(0, 0, 0, 0))
    raw: WerResult = field(default_factory=lambda: WerResult(0, 0, 0, 0))
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    languages: dict[str, int] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0


def run_set(
    label: str,
    clips: Sequence[make_dictations.Clip],
    transcriber: Transcriber,
    *,
    oracle: bool = False,
    show: bool = False,
) -> Run:
    """Transcribe every clip; WER in each clip's own language."""
    run = Run()
    cpu_start = cpu_seconds()
    drugs = VocabularyIndex(bundled_vocabulary())
    for clip in clips:
        hints = [m.term for m in drugs.find(clip.reference) if m.score == 1.0] if oracle else None
        data = clip.path.read_bytes()
        start = time.perf_counter()
        result = transcriber.transcribe(data, clip.path.name, vocabulary=hints)
        run.wall_s += time.perf_counter() - start
        run.audio_s += result.duration_s
        wer = word_error_rate(clip.reference, result.text, clip.language)
        run.wer = run.wer + wer
        run.raw = run.raw + raw_word_error_rate(clip.reference, result.text)
        seen = result.language if result.language == clip.language else f"{result.language}!"
        run.languages[seen] = run.languages.get(seen, 0) + 1
        if show:
            p = f" p={result.language_probability:.2f}" if result.language_probability else ""
            print(f"  [{label}] {clip.id} ({result.language}{p}): WER {wer.wer:.1%}  {result.text}")
    run.cpu_s = cpu_seconds() - cpu_start
    return run


HEADER = (
    f"{'set':27} {'model / variant':30} {'clips':>5} {'audio s':>7} {'WER':>6} {'raw':>6} "
    f"{'RTF':>6} {'CPU/s':>6}  languages"
)


def print_row(set_name: str, label: str, clips: int, run: Run) -> None:
    langs = " ".join(f"{k}:{v}" for k, v in sorted(run.languages.items()))
    print(
        f"{set_name:27} {label:30} {clips:5d} {run.audio_s:7.1f} {run.wer.wer:6.1%} "
        f"{run.raw.wer:6.1%} {run.rtf:6.3f} {run.cpu_s / run.audio_s:6.3f}  {langs}",
        flush=True,
    )


def print_ratio(run: Run, base: Run, against: str) -> None:
    ratio = f"x{run.wer.wer / base.wer.wer:.2f}" if base.wer.wer else "n/a (baseline 0)"
    print(
        f"{'':27}   vs {against}: WER {ratio}, RTF x{run.rtf / base.rtf:.2f}, "
        f"CPU x{run.cpu_s / base.cpu_s:.2f}  ({run.wer.substitutions} sub, "
        f"{run.wer.deletions} del, {run.wer.insertions} ins of {run.wer.reference_words} words)",
        flush=True,
    )


def main() -> None:
    """Run every set with both models (and the hint variants when asked); print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for CTranslate2")
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    parser.add_argument("--hints", action="store_true", help="also the issue-3 hint variants")
    args = parser.parse_args()

    audio_dir = ROOT / ".bench" / "audio"
    english = {
        "dictations (espeak-ng)": make_dictations.make_dictations(audio_dir),
        "real speech (pocketsphinx)": make_dictations.pocketsphinx_clips(),
    }
    others = make_dictations.make_other_languages(audio_dir)
    models_dir = ROOT / ".bench" / "models"
    started = time.perf_counter()
    engines: dict[str, WhisperEngine] = {
        "tiny.en": whisper_engine("tiny.en", models_dir, cpu_threads=args.threads),
        "base": whisper_engine("base", models_dir, cpu_threads=args.threads),
    }
    print(f"models loaded (base joined, verified) in {time.perf_counter() - started:.1f} s")
    # Warm-up so that model initialisation is not charged to the first row.
    warm = english["dictations (espeak-ng)"][0].path.read_bytes()
    for engine in engines.values():
        Transcriber(engine, lexicon=()).transcribe(warm, "warmup.wav")

    print(f"CPU: {os.cpu_count()} cores, load average {load()} (start); {args.threads} threads")
    print("WER: normalised; raw: case and punctuation only. RTF: wall s per audio s; CPU/s: CPU")
    print("s per audio s. languages: detected per clip ('!' marks a wrong detection).")
    print(HEADER)
    for set_name, clips in english.items():
        if not clips:
            print(f"{set_name:27} (no clips: is the Debian package installed?)")
            continue
        baseline: Run | None = None
        for model, engine in engines.items():
            variants: dict[str, tuple[Transcriber, bool]] = {
                "prior (default)": (Transcriber(engine), False)
            }
            if args.hints:
                variants = {
                    "no hints": (Transcriber(engine, lexicon=()), False),
                    **variants,
                    "draft+prior": (Transcriber(engine, hint_mode="draft+prior"), False),
                    "caller vocabulary": (Transcriber(engine), True),
                }
            for variant, (transcriber, oracle) in variants.items():
                label = f"{model}, {variant}"
                run = run_set(label, clips, transcriber, oracle=oracle, show=args.show)
                print_row(set_name, label, len(clips), run)
                if model == "tiny.en" and variant == "prior (default)":
                    baseline = run
                elif variant == "prior (default)" and baseline is not None:
                    print_ratio(run, baseline, "tiny.en, prior (default)")

    set_name = "other languages (espeak-ng)"
    print(f"{set_name:27} {'tiny.en':30} {len(others):5d}  n/a: English only (refused)")
    by_language: dict[str, list[make_dictations.Clip]] = {}
    for clip in others:
        by_language.setdefault(clip.language, []).append(clip)
    detected = Transcriber(engines["base"])
    for language, clips in by_language.items():
        row = f"{set_name[:-12]} {language} ({len(clips)})"
        run = run_set(f"base auto {language}", clips, detected, show=args.show)
        print_row(row, "base, language detected", len(clips), run)
        given = whisper_engine("base", models_dir, language=language, cpu_threads=args.threads)
        run = run_set(f"base {language}", clips, Transcriber(given), show=args.show)
        print_row(row, f"base, --language {language}", len(clips), run)
    print(f"load average {load()} (end); {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
