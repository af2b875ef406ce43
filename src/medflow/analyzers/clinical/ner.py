"""medflow's statistical NER: CHEMICAL and DISEASE spans beside the lexicon matches.

The model (spaCy tok2vec + NER, about 11 MB) ships inside the package in ``models/ner`` and is
rebuilt by ``python -m medflow.analyzers.clinical.ner_training`` (see that module for the data,
the split it was tuned on and the command). It loads from the package folder: nothing is
downloaded. ``training.json`` beside it records what it was trained and tuned on.

The extractor merges its spans with the lexicon's (``merge.py``): lexicon codes and categories
win; the model adds mentions the lexicons lack and the modifiers they cut off.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from medflow.analyzers.clinical.ner_features import default_flags, uses_flags
from medflow.errors import AnalyzerError, DependencyMissingError

#: NER label -> Comprehend category and type.
LABEL_TYPE = {
    "CHEMICAL": ("MEDICATION", "GENERIC_NAME"),
    "DISEASE": ("MEDICAL_CONDITION", "DX_NAME"),
}


@dataclass(frozen=True)
class NerSpan:
    """A span the model found (character offsets into the text it was given).

    Attributes:
        begin: first character.
        end: one past the last character.
        label: ``CHEMICAL`` or ``DISEASE``.
    """

    begin: int
    end: int
    label: str


def default_model_path() -> Path:
    """The folder of the model that ships with medflow."""
    return Path(str(resources.files("medflow.analyzers.clinical").joinpath("models", "ner")))


class NerModel:
    """The statistical NER, loaded once, run on texts or on docs the extractor already made."""

    def __init__(
        self, path: Path | None = None, flags: dict[int, Callable[[str], bool]] | None = None
    ) -> None:
        """Load the model.

        Args:
            path: a model folder written by ``ner_training``; the bundled one by default.
            flags: the lexicon flag getters (``ner_features.lexicon_flags``) when the caller
                has the vocabularies loaded already; built from the bundled ones otherwise.

        Raises:
            DependencyMissingError: spaCy is not installed (the ``nlp`` extra).
            AnalyzerError: the folder holds no usable model.
        """
        folder = path or default_model_path()
        try:
            import spacy
        except ModuleNotFoundError as exc:
            raise DependencyMissingError("clinical NER", "nlp", exc.name or "spacy") from exc
        if not (folder / "config.cfg").is_file():
            raise AnalyzerError(f"no NER model in {folder}: rebuild it with ner_training")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # version-range notes (W095)
            self.nlp: Any = spacy.load(folder)
        if uses_flags(self.nlp):
            self.nlp.vocab.lex_attr_getters.update(flags or default_flags())  # type: ignore[attr-defined]
        info = folder / "training.json"
        self.info: dict[str, Any] = (
            json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
        )

    def find(self, text: str) -> list[NerSpan]:
        """Find chemicals and diseases in a text.

        Args:
            text: any text.

        Returns:
            Spans in text order.
        """
        return self.find_in_doc(self.nlp.make_doc(text))

    def find_in_doc(self, doc: Any) -> list[NerSpan]:
        """Run the model on a doc tokenised by a blank English tokenizer (same rules as ours).

        Args:
            doc: a spaCy ``Doc`` (its vocabulary may be another pipeline's).

        Returns:
            Spans in text order.
        """
        from spacy.tokens import Doc

        own = Doc(
            self.nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc]
        )
        for _, component in self.nlp.pipeline:
            own = component(own)
        return [NerSpan(e.start_char, e.end_char, e.label_) for e in own.ents]
