"""Which language a lab report is printed in, from its words (cheaply: no model).

Only used to say clearly that a report's language is not (fully) supported when few of its rows
are recognised, rather than return an empty or normal-looking result. The words per language
are in ``knowledge/languages.yaml`` (sources named there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from medflow.analyzers.labs.kb_errors import KnowledgeBaseError

_FILE = "languages.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WORD = re.compile(r"[^\W\d_]+")
_MIN_HITS = 3


@dataclass(frozen=True)
class Language:
    """A detected language: its ISO 639-1 code and English name."""

    code: str
    name: str


@dataclass(frozen=True)
class _Lexicon:
    english: frozenset[str]
    languages: dict[str, tuple[str, frozenset[str]]]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    pkg = "medflow.analyzers.labs.knowledge"
    data = yaml.load(resources.files(pkg).joinpath(_FILE).read_text("utf-8"), Loader=_LOADER)
    if not isinstance(data, dict) or set(data) != {"english", "languages"}:
        raise KnowledgeBaseError(f"{_FILE}: needs exactly 'english' and 'languages'")

    def words(spec: dict[str, object]) -> frozenset[str]:
        return frozenset(str(w).lower() for w in spec["words"])  # type: ignore[attr-defined]

    languages = {
        str(code): (str(spec["name"]), words(spec)) for code, spec in data["languages"].items()
    }
    return _Lexicon(english=words(data["english"]), languages=languages)


def detect_language(texts: Iterable[str]) -> Language | None:
    """The language other than English that ``texts`` are written in, or None.

    Counts each text's words found in each language's list; a language wins with at least
    three hits and more hits than English (words shared by the two count for neither).

    Args:
        texts: the report's printed text (row names, lines, section headings).

    Returns:
        The language, or None for English or when the evidence is too thin.
    """
    lexicon = _lexicon()
    tokens = [t.lower() for text in texts for t in _WORD.findall(text)]
    english = sum(t in lexicon.english for t in tokens)
    best: tuple[int, str, str] | None = None
    for code, (name, words) in lexicon.languages.items():
        hits = sum(t in words and t not in lexicon.english for t in tokens)
        if hits >= _MIN_HITS and hits > english and (best is None or hits > best[0]):
            best = (hits, code, name)
    return None if best is None else Language(best[1], best[2])
