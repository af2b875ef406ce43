"""Lexicon features of the statistical NER: is a word a drug name, a condition word?

Dictionary membership is a strong cue in biomedical NER (most chemicals of BC5CDR are in
DrugBank and MeSH, which the bundled drug dictionary draws from). Four spaCy lexeme flags carry
it into the model's hash embeddings beside NORM, PREFIX, SUFFIX and SHAPE; they are computed
from medflow's own vocabularies, at training time and at run time alike:

- ``FLAG40`` a drug name on its own ("aspirin", "cbz"), by :func:`drugs.key`;
- ``FLAG41`` the first piece of a longer drug name ("valproic" of "valproic acid");
- ``FLAG42`` the last word of a condition term ("failure", "syndrome", "toxicity");
- ``FLAG43`` another word of a condition term ("renal", "acute").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from medflow.analyzers.clinical.coding import Icd10Index
from medflow.analyzers.clinical.drugs import DrugDictionary, key
from medflow.analyzers.clinical.lexicon import Lexicon, load_lexicon

#: Flag name -> spaCy attribute id (``spacy.attrs.FLAG40`` ...), as the model config names them.
FLAG_NAMES = ("FLAG40", "FLAG41", "FLAG42", "FLAG43")


def lexicon_flags(
    drugs: DrugDictionary, condition_terms: Iterable[str], stop: Iterable[str]
) -> dict[int, Callable[[str], bool]]:
    """The lexeme flag getters, ready for ``vocab.lex_attr_getters``.

    Args:
        drugs: the drug dictionary.
        condition_terms: condition terms (lower case), from the lexicon and ICD-10-CM.
        stop: English stop words (never flagged).

    Returns:
        spaCy attribute id -> getter of the lexeme's text.
    """
    from spacy import attrs

    stop_words = frozenset(stop)
    names = frozenset(drugs.names())
    first = frozenset(p.split()[0] for p in drugs.phrases())
    last: set[str] = set()
    other: set[str] = set()
    for term in condition_terms:
        words = term.lower().split()
        if words:
            last.add(words[-1])
            other.update(words[:-1])

    def drug(text: str) -> bool:
        low = text.lower()
        return low not in stop_words and len(low) > 2 and key(low) in names

    def drug_start(text: str) -> bool:
        low = text.lower()
        return low not in stop_words and low in first

    def head(text: str) -> bool:
        low = text.lower()
        return low not in stop_words and low in last

    def modifier(text: str) -> bool:
        low = text.lower()
        return low not in stop_words and low in other

    ids = [getattr(attrs, name) for name in FLAG_NAMES]
    return dict(zip(ids, (drug, drug_start, head, modifier), strict=True))


def uses_flags(nlp: object) -> bool:
    """Tell whether a pipeline's tok2vec embeds the lexicon flags (models before them do not)."""
    config = getattr(nlp, "config", {})
    embed = config.get("components", {}).get("tok2vec", {}).get("model", {}).get("embed", {})
    return any(a in FLAG_NAMES for a in embed.get("attrs", []))


def condition_vocabulary(lexicon: Lexicon, icd: Icd10Index | None = None) -> list[str]:
    """The condition terms the flags are built from: the lexicon's and ICD-10-CM's.

    Args:
        lexicon: the loaded vocabularies.
        icd: an index already built from them (built here when None).

    Returns:
        Terms, lower case.
    """
    index = icd or Icd10Index({c.term: c.code for c in lexicon.conditions})
    return [*index.condition_terms(), *(c.term.lower() for c in lexicon.conditions)]


def default_flags() -> dict[int, Callable[[str], bool]]:
    """The flags from medflow's bundled vocabularies (loads the drug dictionary: seconds)."""
    import spacy

    lexicon = load_lexicon()
    drugs = DrugDictionary.from_lexicon(lexicon)
    return lexicon_flags(
        drugs, condition_vocabulary(lexicon), spacy.blank("en").Defaults.stop_words
    )
