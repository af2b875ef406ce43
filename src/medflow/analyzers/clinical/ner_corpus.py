"""Read biomedical NER corpora in IOB form and score predicted spans against them.

Format (``../shared/data/ner-corpora``, from cambridgeltl/MTL-Bioinformatics-2016, CC BY 4.0):
one ``token<TAB>tag`` per line (``B-Chemical``, ``I-Disease``, ``O`` ...), a blank line between
sentences. Corpora: BioCreative V CDR (Li et al., Database 2016) and NCBI-disease (Dogan et al.,
J Biomed Inform 2014). Labels are mapped to medflow's NER labels, ``CHEMICAL`` and ``DISEASE``.

Scoring is exact span and label, micro-averaged per label, as the CoNLL-2003 script and the
BC5CDR papers report it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medflow.errors import InputError

LABELS = ("CHEMICAL", "DISEASE")
_LABEL = {"chemical": "CHEMICAL", "disease": "DISEASE"}

#: A span as ``(first token, one past last token, label)``.
TokenSpan = tuple[int, int, str]


@dataclass(frozen=True)
class Sentence:
    """One tokenised sentence with its gold entity spans.

    Attributes:
        words: the tokens.
        spans: gold entities as ``(start, end, label)`` token spans.
    """

    words: tuple[str, ...]
    spans: tuple[TokenSpan, ...]


class CorpusFormatError(InputError):
    """An IOB file line is not ``token<TAB>tag`` with a known tag."""


def read_iob(path: Path) -> list[Sentence]:
    """Read an IOB file.

    Args:
        path: the ``.tsv`` file.

    Returns:
        Its sentences, in order.

    Raises:
        CorpusFormatError: a line is malformed or a tag unknown (the message names the file
            and line).
    """
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    sentences.append(Sentence(tuple(words), tuple(_spans(tags))))
                words, tags = [], []
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise CorpusFormatError(
                    str(path), f"line {number}: expected 'token<TAB>tag', got {line!r}"
                )
            tag = parts[1]
            if tag != "O" and (tag[:2] not in ("B-", "I-") or tag[2:].lower() not in _LABEL):
                raise CorpusFormatError(str(path), f"line {number}: unknown tag {tag!r}")
            words.append(parts[0])
            tags.append(tag)
    if words:
        sentences.append(Sentence(tuple(words), tuple(_spans(tags))))
    return sentences


def _spans(tags: list[str]) -> Iterator[TokenSpan]:
    """IOB tags -> spans; an ``I-`` without a matching ``B-`` opens a span (IOB1 leniency)."""
    start: int | None = None
    label = ""
    for i, tag in enumerate([*tags, "O"]):
        kind = _LABEL.get(tag[2:].lower(), "") if tag != "O" else ""
        if start is not None and (tag == "O" or tag.startswith("B-") or kind != label):
            yield start, i, label
            start = None
        if tag != "O" and start is None:
            start, label = i, kind


@dataclass
class SpanScore:
    """Exact-span tallies per label."""

    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    fn: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))

    def add(self, gold: Iterable[TokenSpan], predicted: Iterable[TokenSpan]) -> None:
        """Count one sentence's spans (exact start, end and label)."""
        g, p = set(gold), set(predicted)
        for s in g & p:
            self.tp[s[2]] = self.tp.get(s[2], 0) + 1
        for s in p - g:
            self.fp[s[2]] = self.fp.get(s[2], 0) + 1
        for s in g - p:
            self.fn[s[2]] = self.fn.get(s[2], 0) + 1

    def prf(self, label: str | None = None) -> tuple[float, float, float]:
        """Precision, recall and F1 of one label, or micro-averaged over all when None."""
        labels = [label] if label else list(self.tp)
        tp = sum(self.tp.get(k, 0) for k in labels)
        fp = sum(self.fp.get(k, 0) for k in labels)
        fn = sum(self.fn.get(k, 0) for k in labels)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)
