"""Document structure and context: tokens, sentences, sections, ConText, in one pass each.

Built on ``medspacy.load()``'s tokenizer with no statistical model (FINDINGS.md: that works
offline on spaCy 3.7.5). Nothing runs as a spaCy pipeline component: the steps here return
plain lists instead of writing token/span extension attributes, which cost more than the work
itself (measured on 2 KB notes: medspaCy's sectionizer set ``token._.section`` on every token,
~0.7 ms a note; ``doc.sents`` and ``Span.sent`` walk tokens on every call).

- Sentences: one regular expression over the text (end punctuation, line breaks), mapped to
  tokens by bisection. medspaCy's PyRuSH splitter took ~80 ms on a 2 KB note.
- Sections: medspaCy's section rules and matcher (``MedspacyMatcher``, longest match wins), a
  section running from its header to the next header, as medspaCy's ``Sectionizer`` does with
  its defaults (no start-of-line requirement, no sentence boundary at headers, no parents).
- ConText: medspaCy's rules, modifiers and graph, one graph per sentence that holds a target
  (medspaCy's component compares every modifier with every other of the whole document).
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

import yaml

from medflow.analyzers.clinical.lexicon import Lexicon
from medflow.errors import DependencyMissingError

# End-of-sentence punctuation (not in "p.o." or after a title such as "Dr."), or a line break;
# then the spaces before the next token.
_BOUNDARY = re.compile(
    r"(?:(?<=[^\s.][.!?])(?<!\.\w\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)|(?<=\n))"
    r"\s*(?=\S)"
)


@dataclass(frozen=True)
class FoundSection:
    """A section found by its header.

    Attributes:
        category: medspaCy section category, e.g. ``"past_medical_history"``.
        title_start: first token of the header.
        title_end: one past the header's last token.
        body_end: one past the section's last token.
    """

    category: str
    title_start: int
    title_end: int
    body_end: int


@dataclass(frozen=True)
class Compact:
    """A doc's tokens without its whitespace tokens, for matching phrases across extra spaces.

    spaCy keeps a run of spaces or a line break inside a phrase as a token of its own, so
    "staph   bacteremia" or "rule\nout" (wrapped or PDF-extracted text) would not match the
    phrases "staph bacteremia" and "rule out". Matchers run on this doc instead and their
    matches are mapped back to the original tokens, so offsets stay exact.

    Attributes:
        doc: the doc to match on (the original one when it has no whitespace tokens).
        index: compact token index -> original token index; None when nothing was dropped.
        hyphens: compact token indices followed by a dropped joining hyphen ("amoxicillin" of
            "amoxicillin-clavulanate").
    """

    doc: Any
    index: list[int] | None
    hyphens: frozenset[int] = frozenset()

    def remap(self, start: int, end: int) -> tuple[int, int]:
        """Map a compact token span to the original doc's tokens."""
        if self.index is None:
            return start, end
        return self.index[start], self.index[end - 1] + 1


def bigrams(words: list[str]) -> list[str]:
    """Return the "word word" pairs of consecutive words."""
    return [f"{a} {b}" for a, b in pairwise(words)]


@cache
def _british() -> tuple[re.Pattern[str], list[tuple[re.Pattern[str], str]]]:
    """The British -> American rewrites of ``data/spelling_variants.yaml``."""
    raw = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "spelling_variants.yaml")
        .read_text("utf-8")
    )
    rules = [(re.compile(k), str(v)) for k, v in raw["british_to_american"].items()]
    # A quick test on the whole text: only these letter pairs start a British spelling.
    return re.compile(r"ae|oe|our\b|ours\b|paed"), rules


@cache
def _word_synonyms() -> dict[str, str]:
    raw = yaml.safe_load(
        resources.files("medflow.analyzers.clinical")
        .joinpath("data", "spelling_variants.yaml")
        .read_text("utf-8")
    )
    pairs = {str(k): str(v) for k, v in raw["word_synonyms"].items()}
    return {**pairs, **{v: k for k, v in pairs.items()}}


def word_variants(term: str) -> list[str]:
    """The term with each synonym word swapped ("renal failure" -> "kidney failure")."""
    words = term.lower().split()
    swap = _word_synonyms()
    return [
        " ".join([*words[:i], swap[w], *words[i + 1 :]]) for i, w in enumerate(words) if w in swap
    ]


@lru_cache(maxsize=8192)
def americanize(word: str) -> str:
    """A word in American spelling ("haemorrhage" -> "hemorrhage"; others unchanged)."""
    low = word.lower()
    for pattern, repl in _british()[1]:
        low = pattern.sub(repl, low)
    return low if low != word.lower() else word


def _joiners(rows: list[list[int]], text: str) -> list[int]:
    """Indices of hyphen tokens that join two pieces of one word ("ataxia-telangiectasia")."""
    out = []
    for i in range(1, len(rows) - 1):
        b, n = rows[i][0], rows[i][1]
        if n == 1 and text[b] == "-" and not rows[i][2]:
            before, after = rows[i - 1], rows[i + 1]
            if before[0] + before[1] == b and after[0] == b + 1 and not before[2] and not after[2]:
                out.append(i)
    return out


def pattern_doc(nlp: Any, phrase: str) -> Any:
    """A phrase as a matcher pattern: tokenised, its joining hyphens dropped (see :func:`compact`).

    "x-ray" and "stevens-johnson syndrome" become "x ray" and "stevens johnson syndrome", the
    form the compact doc gives "X-ray", "x ray" and "Stevens-Johnson syndrome" alike.
    """
    from spacy.attrs import IDX, IS_SPACE, LENGTH
    from spacy.tokens import Doc

    doc = nlp.make_doc(phrase)
    if "-" not in phrase:
        return doc
    rows = doc.to_array([IDX, LENGTH, IS_SPACE]).tolist()
    drop = set(_joiners(rows, phrase))
    words = [t.text for i, t in enumerate(doc) if i not in drop]
    return Doc(nlp.vocab, words=words, spaces=[True] * len(words)) if drop else doc


def compact(doc: Any, text: str, joinable: frozenset[str] | None = None) -> Compact:
    """Build the doc's compact form (see :class:`Compact`).

    Args:
        doc: a tokenised spaCy ``Doc``.
        text: its text.
        joinable: "word word" pairs (lower case) that follow each other in a phrase matched
            later. A whitespace token matters only between such a pair ("staph   bacteremia");
            when no whitespace token does ("daily.\nLisinopril"), the doc itself is used and no
            second doc is built. None: always compact.

    Returns:
        The compact form.
    """
    from spacy.attrs import IDX, IS_SPACE, LENGTH
    from spacy.tokens import Doc

    rows = doc.to_array([IDX, LENGTH, IS_SPACE]).tolist() if len(doc) else []
    gaps = [i for i in range(1, len(rows) - 1) if rows[i][2]]
    if joinable is not None:
        low = text.lower()

        def word(i: int) -> str:
            return low[rows[i][0] : rows[i][0] + rows[i][1]]

        gaps = [i for i in gaps if f"{word(i - 1)} {word(i + 1)}" in joinable]
    # Hyphens inside a word always go: patterns are built without them (pattern_doc).
    gaps += _joiners(rows, text) if "-" in text else []
    # British spellings are rewritten in the compact doc's words (offsets map by index).
    british = bool(_british()[0].search(text.lower()))
    if not gaps and not british:
        return Compact(doc, None)
    dropped = set(gaps)
    index = [i for i, row in enumerate(rows) if not row[2] and i not in dropped]
    joined = frozenset(k for k, i in enumerate(index) if i + 1 in dropped and not rows[i + 1][2])
    words = [text[rows[i][0] : rows[i][0] + rows[i][1]] for i in index]
    if british:
        hint = _british()[0]
        words = [americanize(w) if hint.search(w.lower()) else w for w in words]
    return Compact(Doc(doc.vocab, words=words, spaces=[True] * len(words)), index, joined)


@dataclass(frozen=True)
class Structure:
    """Sentences and sections of one doc.

    Attributes:
        sentences: ``(first token, one past last token)`` per sentence, in order.
        sentence_chars: ``(begin, end)`` character offsets per sentence (the end is where the
            next sentence begins, so it may include trailing spaces).
        sections: sections in order.
        compact: the doc without whitespace tokens, for the matchers.
    """

    sentences: list[tuple[int, int]]
    sentence_chars: list[tuple[int, int]]
    sections: list[FoundSection]
    compact: Compact | None = None

    def sentence_of(self, token: int) -> int:
        """Return the index of the sentence holding a token (bisection over sentence starts)."""
        return bisect_right(self.sentences, (token, 1 << 62)) - 1


def split_sentences(doc: Any, text: str) -> Structure:
    """Find sentence bounds: after . ! ? (and any spaces), and after a line break.

    Args:
        doc: a tokenised spaCy ``Doc``.
        text: its text (``doc.text`` rebuilds the string from every token on each call).

    Returns:
        A structure with sentences only (no sections).
    """
    from spacy.attrs import IDX, IS_SPACE

    n = len(doc)
    if n == 0:
        return Structure([], [], [])
    arr = doc.to_array([IDX, IS_SPACE]).tolist()
    idx = [row[0] for row in arr]
    starts = [0]
    for match in _BOUNDARY.finditer(text):
        i = bisect_left(idx, match.end())
        if starts[-1] < i < n and idx[i] == match.end() and not arr[i][1]:
            starts.append(i)
    ends = [*starts[1:], n]
    char_ends = [*(idx[s] for s in starts[1:]), len(text)]
    return Structure(
        list(zip(starts, ends, strict=True)),
        [(idx[s], e) for s, e in zip(starts, char_ends, strict=True)],
        [],
    )


class RuleMatcher:
    """medspaCy rules (ConText or section) matched in a doc, longest match winning overlaps.

    Does what medspaCy's ``MedspacyMatcher`` does for literal and token-pattern rules, minus
    its calls to empty matchers: literals go to one ``PhraseMatcher`` on lower-case text, token
    patterns (if any) to a ``Matcher``.
    """

    def __init__(self, nlp: Any, rules: list[Any]) -> None:
        """Compile the rules.

        Args:
            nlp: the pipeline (tokenizer and vocabulary).
            rules: ``ConTextRule`` or ``SectionRule`` objects (literal or token ``pattern``).

        Raises:
            ValueError: a rule uses a regular-expression pattern (none of ours or medspaCy's
                English defaults does).
        """
        from spacy.matcher import Matcher, PhraseMatcher

        self._vocab = nlp.vocab
        self._rules = list(rules)
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._patterns: Any = None
        for i, rule in enumerate(self._rules):
            if rule.pattern is None:
                self._phrases.add(str(i), [pattern_doc(nlp, rule.literal)])
            elif isinstance(rule.pattern, list):
                if self._patterns is None:
                    self._patterns = Matcher(nlp.vocab)
                self._patterns.add(str(i), [rule.pattern])
            else:
                raise ValueError(f"rule {rule.literal!r}: regular-expression patterns unsupported")

    def phrases(self) -> list[str]:
        """Return the literal rules' text (lower case)."""
        return [r.literal.lower() for r in self._rules if r.pattern is None]

    def __call__(self, doc: Compact) -> list[tuple[Any, int, int]]:
        """Return ``(rule, start token, end token)`` matches, overlaps pruned, in text order.

        Args:
            doc: the compact form of the doc; matches are returned on the original tokens.
        """
        from medspacy.common.util import prune_overlapping_matches

        matches = list(self._phrases(doc.doc))
        if self._patterns is not None:
            matches += self._patterns(doc.doc)
        strings = self._vocab.strings
        return [
            (self._rules[int(strings[m])], *doc.remap(start, end))
            for m, start, end in prune_overlapping_matches(matches)
        ]


class DocAnalyzer:
    """Sentences, sections and ConText modifiers for a tokenised doc.

    Loaded once per extractor: the section and ConText rules are compiled into medspaCy
    matchers at construction.
    """

    def __init__(self, nlp: Any, context_rules: list[Any], section_rules: list[Any]) -> None:
        """Compile the rules.

        Args:
            nlp: the pipeline (for its vocabulary).
            context_rules: ``ConTextRule`` objects.
            section_rules: ``SectionRule`` objects.
        """
        from medspacy.context import ConTextRule

        self._vocab = nlp.vocab
        self._context = RuleMatcher(nlp, context_rules)
        self._sections = RuleMatcher(nlp, section_rules)
        #: "word word" pairs of the section and ConText rules (see :func:`compact`).
        self.joinable = frozenset(pair for p in self.phrases() for pair in bigrams(p.split()))
        # medspaCy's ": no" negates backward ("Fever: no."); before a word it is the "no" of
        # "Extremities: No clubbing or cyanosis." and negates forward.
        self._colon_no = ConTextRule(": no", "NEGATED_EXISTENCE", direction="FORWARD")

    def phrases(self) -> list[str]:
        """Return the section and ConText rules' literal text (lower case)."""
        return [*self._context.phrases(), *self._sections.phrases()]

    def structure(self, doc: Any, text: str, joinable: frozenset[str] | None = None) -> Structure:
        """Split a doc into sentences and sections.

        Args:
            doc: a tokenised spaCy ``Doc``.
            text: its text.
            joinable: word pairs of every phrase matched on the doc (see :func:`compact`); by
                default those of the section and ConText rules.

        Returns:
            Its structure.
        """
        found = split_sentences(doc, text)
        packed = compact(doc, text, self.joinable if joinable is None else joinable)
        matches = self._sections(packed)
        sections: list[FoundSection] = []
        for i, (rule, start, end) in enumerate(matches):
            body_end = matches[i + 1][1] if i + 1 < len(matches) else len(doc)
            sections.append(FoundSection(rule.category, start, end, body_end))
        return Structure(found.sentences, found.sentence_chars, sections, packed)

    def context(self, doc: Any, targets: list[Any], structure: Structure) -> list[frozenset[str]]:
        """Apply ConText to targets, one sentence at a time.

        Args:
            doc: the doc.
            targets: spans (``label_`` holds ``CATEGORY|TYPE``), in token order or not.
            structure: the doc's sentences.

        Returns:
            For each target, the ConText categories that modify it (e.g. NEGATED_EXISTENCE).
        """
        from medspacy.context.context_graph import ConTextGraph
        from medspacy.context.context_modifier import ConTextModifier

        out: list[set[str]] = [set() for _ in targets]
        by_sentence: dict[int, list[int]] = {}
        for i, t in enumerate(targets):
            by_sentence.setdefault(structure.sentence_of(t.start), []).append(i)
        modifiers: dict[int, list[Any]] = {}
        # A section header is not a ConText cue: "History:" or "Family History:" says where the
        # text is; the section itself gives the trait (context.py), only where it should.
        headers = [(sec.title_start, sec.title_end) for sec in structure.sections]
        for rule, start, end in self._context(structure.compact or compact(doc, doc.text)):
            s = structure.sentence_of(start)
            if s not in by_sentence or any(b <= start and end <= e for b, e in headers):
                continue
            if rule.literal == ": no" and _word_follows(doc, end, structure.sentences[s][1]):
                rule = self._colon_no
            scope = _fence(doc, *_scope(rule, start, end, structure.sentences[s]), start, end)
            modifiers.setdefault(s, []).append(
                ConTextModifier(rule, start, end, doc, scope_start=scope[0], scope_end=scope[1])
            )
        for s, mods in modifiers.items():
            graph = ConTextGraph(prune_on_modifier_overlap=False)
            graph.targets = [targets[i] for i in by_sentence[s]]
            graph.modifiers = mods
            graph.update_scopes()
            graph.apply_modifiers()
            index = {id(targets[i]): i for i in by_sentence[s]}
            for target, modifier in graph.edges:
                out[index[id(target)]].add(modifier.category)
        return [frozenset(o) for o in out]


def _word_follows(doc: Any, end: int, sentence_end: int) -> bool:
    """Tell whether the first non-space token from ``end`` in the sentence is a word."""
    for i in range(end, sentence_end):
        if not doc[i].is_space:
            return bool(doc[i].is_alpha)
    return False


_BULLETS = frozenset({"-", "*", "•", "·"})


def _fence(doc: Any, lo: int, hi: int, start: int, end: int) -> tuple[int, int]:
    """Clip a modifier's scope at field labels and bullets on either side of it.

    A scope that crossed "since last visit: no Immunomeds: Prograf 2 mg" negated the active
    medication; "q4h Labs: None today" negated the dose before it. A label ("Immunomeds:",
    a word then a colon) or a bullet starts a new statement: the scope ends before the next
    one after the modifier and begins at the last one before it.
    """
    for i in range(end, hi):
        if _starts_item(doc, i):
            hi = i
            break
    for i in range(start - 1, lo - 1, -1):
        if _starts_item(doc, i):
            lo = i
            break
    return lo, hi


def _starts_item(doc: Any, i: int) -> bool:
    """A token that starts a field label ("Labs" of "Labs:") or a bullet."""
    token = doc[i]
    if token.text in _BULLETS:
        if i == 0 or doc[i - 1].is_space:
            return True  # at a line start
        # mid-line: " - Aspirin 81 mg" (spaces around it, a capital after it)
        return bool(
            doc[i - 1].whitespace_
            and token.whitespace_
            and i + 1 < len(doc)
            and doc[i + 1].text[:1].isupper()
        )
    return (
        token.is_alpha
        and i + 1 < len(doc)
        and doc[i + 1].text == ":"
        and not token.whitespace_
        and token.text[:1].isupper()
    )


def _scope(rule: Any, start: int, end: int, sentence: tuple[int, int]) -> tuple[int, int]:
    """A modifier's scope within its sentence, as ``ConTextModifier`` sets it from ``.sent``."""
    direction = rule.direction.lower()
    max_scope = rule.max_scope
    if direction == "forward":
        lo, hi = end, sentence[1]
        if max_scope is not None and hi - lo > max_scope:
            hi = end + max_scope
    elif direction == "backward":
        lo, hi = sentence[0], start
        if max_scope is not None and hi - lo > max_scope:
            lo = start - max_scope
    else:
        lo, hi = sentence
        if max_scope is not None and start - lo > max_scope:
            lo = start - max_scope
        if max_scope is not None and hi - end > max_scope:
            hi = end + max_scope
    return lo, hi


def expand_rule(rule: dict[str, Any], limit: int = 256) -> list[dict[str, Any]]:
    """Rewrite a token-pattern ConText rule as the literal phrases it matches, when it can.

    medspaCy matches ``pattern`` rules with spaCy's token ``Matcher``; its 55 default pattern
    rules (``{"LOWER": {"IN": [...]}}``, optional tokens) made that matcher ~85% of the
    ConText time. A pattern built only of LOWER equalities, IN-lists and ``"OP": "?"`` matches
    a finite set of phrases, which the ``PhraseMatcher`` finds far faster, with the same result.

    Args:
        rule: a rule as in medspaCy's ``context_rules.json``.
        limit: most phrases a rule may expand to; past it the pattern is kept.

    Returns:
        Literal rules (no ``pattern``), or ``[rule]`` unchanged when it cannot be expanded.
    """
    pattern = rule.get("pattern")
    if not pattern or not isinstance(pattern, list):
        return [rule]
    phrases: list[list[str]] = [[]]
    for spec in pattern:
        if set(spec) - {"LOWER", "OP"} or spec.get("OP", "?") != "?":
            return [rule]
        value = spec["LOWER"]
        options = [value] if isinstance(value, str) else list(value.get("IN", []))
        if not options or (isinstance(value, dict) and set(value) != {"IN"}):
            return [rule]
        choices: list[list[str]] = [[o] for o in options] + ([[]] if "OP" in spec else [])
        phrases = [p + c for p in phrases for c in choices]
        if len(phrases) > limit:
            return [rule]
    base = {k: v for k, v in rule.items() if k != "pattern"}
    return [{**base, "literal": " ".join(p)} for p in phrases if p]


def build_nlp(lexicon: Lexicon) -> tuple[Any, DocAnalyzer]:
    """Build the tokenizer and the rule matchers, loading everything once.

    Args:
        lexicon: vocabularies holding our ConText and section rules.

    Returns:
        A blank English spaCy ``Language`` (its tokenizer and vocabulary; the same tokenizer
        ``medspacy.load()`` gives) and the analyzer of sentences, sections and context.

    Raises:
        DependencyMissingError: medspacy or spacy is not installed.
    """
    # Single-threaded numeric libraries: extraction is called from worker processes/threads
    # that already parallelise across documents.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from loguru import logger

        logger.disable("PyRuSH")  # PyRuSH logs every sentence at import/load (FINDINGS.md)
        import spacy
        from medspacy.context import ConText, ConTextRule
        from medspacy.section_detection import Sectionizer, SectionRule
    except ModuleNotFoundError as exc:
        raise DependencyMissingError("clinical extraction", "nlp", exc.name or "medspacy") from exc

    nlp = spacy.blank("en")
    ConText.register_graph_attributes()  # medspaCy's graph code expects them registered
    # "as needed" in medspaCy's defaults marks a drug's indication ("PRN for pain") as
    # hypothetical; Comprehend reports the indication as a plain finding, so it is left out.
    with open(ConText(nlp, rules=None).DEFAULT_RULES_FILEPATH, encoding="utf-8") as fh:
        defaults = json.load(fh)["context_rules"]
    # A medflow rule replaces a default literal rule with the same text (e.g. "prophylaxis": the
    # default negates everything before it in the sentence; ours marks the next two tokens
    # hypothetical, as Comprehend reports "DVT prophylaxis").
    ours = {r["literal"].lower() for r in lexicon.context_rules}
    dicts = [
        r for r in defaults if r.get("pattern") or r["literal"].lower() not in ours | {"as needed"}
    ]
    dicts += list(lexicon.context_rules)
    context_rules = [ConTextRule.from_dict(e) for r in dicts for e in expand_rule(r)]
    # Section rules: medspaCy's defaults, except those whose header text (any case) one of ours
    # redefines (e.g. a bare "History:" heading: see data/section_rules.json).
    with open(Sectionizer(nlp, rules=None).DEFAULT_RULES_FILEPATH, encoding="utf-8") as fh:
        section_defaults = json.load(fh)["section_rules"]
    ours = {r["literal"].lower() for r in lexicon.section_rules}
    section_dicts = [r for r in section_defaults if r["literal"].lower() not in ours]
    section_dicts += list(lexicon.section_rules)
    section_rules = [SectionRule.from_dict(r) for r in section_dicts]
    return nlp, DocAnalyzer(nlp, context_rules, section_rules)
