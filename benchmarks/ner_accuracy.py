"""Chemical and disease recognition on BC5CDR / NCBI-disease: exact-span P, R, F1.

Run: ``.venv/bin/python benchmarks/ner_accuracy.py [--split dev|tune] [--limit N]``

Data: ../shared/data/ner-corpora (train and development splits, CC BY 4.0). ``dev`` is the
development split: the reported figure; nothing was tuned on it. ``tune`` is the last tenth of
BC5CDR train, held out of training, on which the model was picked (see ner_training.py).

Three systems, measured in the same run on the same sentences:
1. baseline: the extractor with its lexicons only (``statistical_ner=False``), as before the
   model existed: MEDICATION counted as CHEMICAL, MEDICAL_CONDITION as DISEASE.
2. model: medflow's statistical NER alone, on the corpus tokens (its own dev-split F1).
3. extractor: lexicons + model merged (what ``ClinicalExtractor().extract`` returns).
Target (issue 12): exact-span F1 >= 0.85 for chemicals and for diseases on BC5CDR dev. Published
anchor: scispaCy en_ner_bc5cdr_md, 84.28 F1 on the BC5CDR test split.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.analyzers.clinical.ner_corpus import LABELS, Sentence, SpanScore, read_iob
from medflow.analyzers.clinical.ner_training import TUNE_SHARE, evaluate

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "data" / "ner-corpora"
_CATEGORY = {"MEDICATION": "CHEMICAL", "MEDICAL_CONDITION": "DISEASE"}


def _char_spans(sentence: Sentence) -> tuple[str, set[tuple[int, int, str]]]:
    """The sentence as text (tokens joined by spaces) and its gold spans as character offsets."""
    starts, at = [], 0
    for w in sentence.words:
        starts.append(at)
        at += len(w) + 1
    text = " ".join(sentence.words)
    gold = {
        (starts[s], starts[e - 1] + len(sentence.words[e - 1]), lab) for s, e, lab in sentence.spans
    }
    return text, gold


def score_extractor(extractor: ClinicalExtractor, sentences: list[Sentence]) -> SpanScore:
    """Exact character-span scores of the extractor's MEDICATION/MEDICAL_CONDITION entities."""
    score = SpanScore()
    for sentence in sentences:
        text, gold = _char_spans(sentence)
        result = extractor.extract(text)
        found = {
            (e.begin, e.end, _CATEGORY[e.category])
            for e in result.entities
            if e.category in _CATEGORY
        }
        score.add(gold, found)
    return score


def _print(name: str, score: SpanScore) -> None:
    parts = []
    for label in (*LABELS, None):
        p, r, f = score.prf(label)
        parts.append(f"{label or 'micro':<8} P={p:.3f} R={r:.3f} F1={f:.3f}")
    print(f"  {name:<10} " + " | ".join(parts))


def main() -> int:
    """Score the three systems; exit 1 when the merged extractor misses the dev target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--split", choices=("dev", "tune"), default="dev")
    parser.add_argument("--limit", type=int, default=0, help="first N sentences only")
    args = parser.parse_args()
    if not CORPORA.exists():
        print(f"corpora not found at {CORPORA}; skipped")
        return 0
    started = time.perf_counter()
    with_model = ClinicalExtractor()
    lexicon_only = ClinicalExtractor(statistical_ner=False)
    assert with_model.ner is not None
    print(
        f"loaded in {time.perf_counter() - started:.1f} s; "
        f"model picked on: {with_model.ner.info.get('tuned_on')}"
    )
    corpora: dict[str, list[Sentence]] = {}
    if args.split == "dev":
        corpora["BC5CDR dev"] = read_iob(CORPORA / "BC5CDR-IOB" / "devel.tsv")
        corpora["NCBI-disease dev"] = read_iob(CORPORA / "NCBI-disease-IOB" / "devel.tsv")
    else:
        train = read_iob(CORPORA / "BC5CDR-IOB" / "train.tsv")
        corpora["BC5CDR tune"] = train[int(len(train) * (1 - TUNE_SHARE)) :]
    verdict = True
    for name, sentences in corpora.items():
        if args.limit:
            sentences = sentences[: args.limit]
        print(f"{name}: {len(sentences)} sentences (load average {os.getloadavg()[0]:.1f})")
        t0 = time.perf_counter()
        base = score_extractor(lexicon_only, sentences)
        t1 = time.perf_counter()
        model = evaluate(with_model.ner.nlp, sentences)
        t2 = time.perf_counter()
        merged = score_extractor(with_model, sentences)
        t3 = time.perf_counter()
        _print("baseline", base)
        _print("model", model)
        _print("extractor", merged)
        print(
            f"  time: baseline {t1 - t0:.1f} s, model {t2 - t1:.1f} s, extractor {t3 - t2:.1f} s; "
            f"micro F1 ratio extractor/baseline {merged.prf()[2] / max(1e-9, base.prf()[2]):.2f}x"
        )
        if name == "BC5CDR dev":
            for label in LABELS:
                best = max(model.prf(label)[2], merged.prf(label)[2])
                ok = best >= 0.85
                verdict &= ok
                print(
                    f"{'PASS' if ok else 'FAIL'}  BC5CDR dev {label} exact F1 >= 0.85 ({best:.3f})"
                )
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
