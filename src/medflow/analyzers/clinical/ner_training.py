"""Train medflow's statistical NER (CHEMICAL, DISEASE) on CPU, from files anyone can get.

Run (about 20-30 minutes at low priority on a busy two-core machine; prints each epoch)::

    nice -n 10 .venv/bin/python -m medflow.analyzers.clinical.ner_training \\
        --corpora ../shared/data/ner-corpora \\
        --notes tests/fixtures/clinical/annotated.jsonl \\
        --out src/medflow/analyzers/clinical/models/ner

Data: BC5CDR train (chemicals and diseases) and NCBI-disease train (diseases; its sentences
name chemicals without tagging them, so words our drug dictionary knows are marked *unknown*
there rather than "not an entity"), plus medflow's hand-annotated notes (MEDICATION ->
CHEMICAL, MEDICAL_CONDITION -> DISEASE). The last tenth of BC5CDR train is held out as the
*tune* slice: the best model is picked on it, never on the development split, which stays for
reporting (``benchmarks/ner_accuracy.py``). Test splits are not read at all.

Model: spaCy tok2vec (hash embeddings of NORM, PREFIX, SUFFIX, SHAPE and four lexicon flags,
``ner_features.py``; a CNN encoder) + the transition-based NER, about 11 MB (width 96, four CNN
layers: width 128 with six layers scored the same on the tune slice at 1.8x the run-time cost).
Training sentences are also shown upper-cased or lower-cased now and then (``CASE_NOISE``), as
notes are often written in capitals ("SHORTNESS OF BREATH").
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from medflow.analyzers.clinical.ner_corpus import Sentence, SpanScore, read_iob
from medflow.analyzers.clinical.ner_features import condition_vocabulary, lexicon_flags

TUNE_SHARE = 0.1
CASE_NOISE = 0.08
#: Medflow note categories -> NER labels.
NOTE_LABELS = {"MEDICATION": "CHEMICAL", "MEDICAL_CONDITION": "DISEASE"}

CONFIG = """
[nlp]
lang = "en"
pipeline = ["tok2vec", "ner"]
batch_size = 256

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE", "FLAG40", "FLAG41", "FLAG42", "FLAG43"]
rows = [{rows}, 2500, 5000, 2500, 8, 8, 8, 8]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {width}
depth = {depth}
window_size = 1
maxout_pieces = 3

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = true

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = {width}
upstream = "*"
"""


def _example(
    nlp: Any, words: list[str], spans: list[tuple[int, int, str]], unknown: set[int]
) -> Any:
    """A spaCy Example: entity tags from spans, ``unknown`` tokens left unannotated."""
    from spacy.tokens import Doc
    from spacy.training import Example

    tags = ["O"] * len(words)
    for start, end, label in spans:
        tags[start] = f"B-{label}" if end - start > 1 else f"U-{label}"
        for i in range(start + 1, end - 1):
            tags[i] = f"I-{label}"
        if end - start > 1:
            tags[end - 1] = f"L-{label}"
    for i in unknown:
        if tags[i] == "O":
            tags[i] = "-"  # spaCy: missing annotation, neither entity nor "O"
    predicted = Doc(nlp.vocab, words=words)
    return Example.from_dict(predicted, {"words": words, "entities": tags})


def _sentence_examples(
    nlp: Any, sentences: list[Sentence], unknown_words: frozenset[str]
) -> list[Any]:
    out = []
    for s in sentences:
        unknown = {i for i, w in enumerate(s.words) if w.lower() in unknown_words}
        out.append(_example(nlp, list(s.words), list(s.spans), unknown))
    return out


def _note_examples(nlp: Any, path: Path) -> list[Any]:
    """Annotated notes (Comprehend-shaped gold) as examples, tokenised by spaCy."""
    from spacy.training import Example

    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        doc = nlp.make_doc(record["text"])
        ents = [
            (e["BeginOffset"], e["EndOffset"], NOTE_LABELS[e["Category"]])
            for e in record["entities"]
            if e["Category"] in NOTE_LABELS
        ]
        out.append(Example.from_dict(doc, {"entities": ents}))
    return out


def _recased(nlp: Any, example: Any, upper: bool) -> Any:
    """The same sentence upper- or lower-cased, with the same entity tags."""
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.training.iob_utils import doc_to_biluo_tags

    ref = example.reference
    words = [t.text.upper() if upper else t.text.lower() for t in ref]
    doc = Doc(nlp.vocab, words=words, spaces=[bool(t.whitespace_) for t in ref])
    return Example.from_dict(doc, {"entities": doc_to_biluo_tags(ref, missing="-")})


def evaluate(nlp: Any, sentences: list[Sentence]) -> SpanScore:
    """Exact-span scores of a pipeline on gold sentences (tokens as given).

    Args:
        nlp: a pipeline with an ``ner`` component.
        sentences: gold sentences.

    Returns:
        The tallies.
    """
    from spacy.tokens import Doc

    score = SpanScore()
    docs = (Doc(nlp.vocab, words=list(s.words)) for s in sentences)
    for s, doc in zip(sentences, nlp.pipe(docs, batch_size=256), strict=True):
        score.add(s.spans, [(e.start, e.end, e.label_) for e in doc.ents])
    return score


def train(
    corpora: Path,
    out: Path,
    notes: Path | None = None,
    minutes: float = 30.0,
    seed: int = 0,
    width: int = 96,
    depth: int = 4,
    rows: int = 10000,
    use_ncbi: bool = True,
    patience: int = 6,
) -> dict[str, Any]:
    """Train, keep the best model on the tune slice, write it to ``out``.

    Args:
        corpora: folder holding ``BC5CDR-IOB`` and ``NCBI-disease-IOB``.
        out: where the model is written (replaced).
        notes: medflow's annotated notes (JSON lines), or None.
        minutes: wall-clock budget; training stops at the end of the epoch past it.
        seed: random seed (shuffling, dropout, initial weights).
        width: tok2vec width.
        depth: CNN layers.
        rows: hash-embedding rows for NORM.
        use_ncbi: add NCBI-disease train.
        patience: epochs without a better tune F1 before stopping.

    Returns:
        What was trained and how it scored on the tune slice (also written to ``out``).
    """
    from spacy.util import (  # type: ignore[attr-defined]
        fix_random_seed,
        load_config_from_str,
        load_model_from_config,
        minibatch,
    )
    from thinc.api import compounding

    from medflow.analyzers.clinical.drugs import DrugDictionary
    from medflow.analyzers.clinical.lexicon import load_lexicon

    fix_random_seed(seed)
    rng = random.Random(seed)
    bc5 = read_iob(corpora / "BC5CDR-IOB" / "train.tsv")
    cut = int(len(bc5) * (1 - TUNE_SHARE))
    train_part, tune = bc5[:cut], bc5[cut:]
    config = load_config_from_str(CONFIG.format(width=width, depth=depth, rows=rows))
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    lexicon = load_lexicon()
    drugs = DrugDictionary.from_lexicon(lexicon)
    flags = lexicon_flags(drugs, condition_vocabulary(lexicon), nlp.Defaults.stop_words)
    nlp.vocab.lex_attr_getters.update(flags)  # type: ignore[attr-defined]
    examples = _sentence_examples(nlp, train_part, frozenset())
    if use_ncbi:
        chemical_words = frozenset(p for p in drugs.names() if " " not in p)
        ncbi = read_iob(corpora / "NCBI-disease-IOB" / "train.tsv")
        # NCBI tags diseases only: a chemical there is untagged, not "no entity".
        examples += _sentence_examples(nlp, ncbi, chemical_words)
    if notes is not None:
        examples += _note_examples(nlp, notes)
    print(f"training examples: {len(examples)}; tune sentences: {len(tune)}", flush=True)
    optimizer = nlp.initialize(lambda: examples[:2000], sgd=None)
    optimizer.learn_rate = 0.001
    started = time.monotonic()
    best, best_epoch, history = -1.0, -1, []
    work = out.with_name(out.name + ".tmp")
    for epoch in range(1000):
        batch_examples = list(examples)
        for ex in examples:
            draw = rng.random()
            if draw < CASE_NOISE:
                batch_examples.append(_recased(nlp, ex, upper=draw < CASE_NOISE / 2))
        rng.shuffle(batch_examples)
        losses: dict[str, float] = {}
        sizes = compounding(200.0, 1000.0, 1.001)
        for batch in minibatch(batch_examples, size=sizes):  # type: ignore[no-untyped-call]
            nlp.update(batch, drop=0.15, sgd=optimizer, losses=losses)
        with nlp.use_params(optimizer.averages):
            p, r, f = evaluate(nlp, tune).prf()
            if f > best:
                best, best_epoch = f, epoch
                if work.exists():
                    shutil.rmtree(work)
                nlp.to_disk(work)
        elapsed = (time.monotonic() - started) / 60
        history.append({"epoch": epoch, "loss": round(losses.get("ner", 0.0), 1), "tune_f1": f})
        print(
            f"epoch {epoch:2d}  loss {losses.get('ner', 0.0):9.1f}  tune P={p:.3f} R={r:.3f} "
            f"F1={f:.3f}  best {best:.3f} (epoch {best_epoch})  {elapsed:5.1f} min",
            flush=True,
        )
        if elapsed > minutes or epoch - best_epoch >= patience:
            break
    info = {
        "trained_on": ["BC5CDR train (first 90%)"]
        + (["NCBI-disease train"] if use_ncbi else [])
        + ([str(notes.name)] if notes else []),
        "tuned_on": "BC5CDR train, last 10% (model picked by tune F1)",
        "tune_f1": round(best, 4),
        "best_epoch": best_epoch,
        "seed": seed,
        "width": width,
        "depth": depth,
        "rows": rows,
        "history": history,
    }
    (work / "training.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    return info


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--notes", type=Path)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--no-ncbi", action="store_true")
    args = parser.parse_args(argv)
    info = train(
        args.corpora,
        args.out,
        args.notes,
        args.minutes,
        args.seed,
        args.width,
        args.depth,
        args.rows,
        not args.no_ncbi,
    )
    print(f"best tune F1 {info['tune_f1']:.3f} at epoch {info['best_epoch']}; model in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
