"""The spaCy/medspaCy pipeline: tokenizer, a fast rule sentence splitter, sections, ConText.

Built with ``medspacy.load()`` and no statistical model (FINDINGS.md: that works offline on
spaCy 3.7.5). medspaCy's PyRuSH sentence splitter is not used: measured here it took ~80 ms on
a 2 KB note, four times the whole budget of the 50 notes/s target, and it floods stderr; a
rule splitter on sentence punctuation and line structure does what ConText needs (a scope
boundary) in well under a millisecond.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_left
from typing import Any

from medflow.analyzers.clinical.lexicon import Lexicon
from medflow.errors import DependencyMissingError

SENTENCE_COMPONENT = "medflow_sentences"
# End-of-sentence punctuation (not in "p.o." or after a title such as "Dr."), or a line break;
# then the spaces before the next token.
_BOUNDARY = re.compile(
    r"(?:(?<=[^\s.][.!?])(?<!\.\w\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)|(?<=\n))"
    r"\s*(?=\S)"
)


def _split_sentences(doc: Any) -> Any:
    """Mark sentence starts: after . ! ? (and any spaces), and after a line break.

    Boundaries are found on the text with one regular expression and mapped to tokens by
    bisection over token offsets; only starts are set (unset tokens read as "not a start").
    A Python loop over every token cost more than the rest of this step.
    """
    if len(doc) == 0:
        return doc
    starts = doc.to_array("IDX").tolist()
    doc[0].is_sent_start = True
    if len(doc) > 1:
        # spaCy ignores the first token when asking whether boundaries are set; an explicit
        # "not a start" on the second makes a one-sentence doc count as split.
        doc[1].is_sent_start = False
    for match in _BOUNDARY.finditer(doc.text):
        i = bisect_left(starts, match.end())
        if 0 < i < len(starts) and starts[i] == match.end() and not doc[i].is_space:
            doc[i].is_sent_start = True
    return doc


class SentenceScopedContext:
    """medspaCy's ConText applied one sentence at a time.

    Same rules (``ConTextRule``), matcher (``MedspacyMatcher``), modifiers
    (``ConTextModifier``) and graph (``ConTextGraph``) as medspaCy's ``ConText`` component, but
    the graph is built per sentence that holds a target: medspaCy's component compares every
    modifier with every other modifier and every target of the whole document (quadratic; it
    was most of the extraction time on a 2 KB note), although a scope never leaves its sentence.
    """

    def __init__(self, nlp: Any, rules: list[Any]) -> None:
        """Compile the rules.

        Args:
            nlp: the pipeline (for its vocabulary).
            rules: ``ConTextRule`` objects.
        """
        from medspacy.common.medspacy_matcher import MedspacyMatcher
        from medspacy.context import ConText

        ConText.register_graph_attributes()  # Span._.modifiers, Doc._.context_graph
        self._matcher = MedspacyMatcher(
            nlp, name="medflow_context", phrase_matcher_attr="LOWER", prune=True
        )
        self._matcher.add(rules)
        self._vocab = nlp.vocab

    def __call__(self, doc: Any) -> Any:
        """Attach ConText modifiers to ``doc.ents`` (``ent._.modifiers``)."""
        from medspacy.context.context_graph import ConTextGraph
        from medspacy.context.context_modifier import ConTextModifier

        ents = doc.ents
        if not ents:
            return doc
        sentence_of: dict[int, int] = {}
        targets: dict[int, list[Any]] = {}
        for sent in doc.sents:
            for i in range(sent.start, sent.end):
                sentence_of[i] = sent.start
        for ent in ents:
            targets.setdefault(sentence_of[ent.start], []).append(ent)
        modifiers: dict[int, list[Any]] = {}
        for match_id, start, end in self._matcher(doc):
            sent_start = sentence_of[start]
            if sent_start not in targets:
                continue
            rule = self._matcher.rule_map[self._vocab[match_id].text]
            modifiers.setdefault(sent_start, []).append(ConTextModifier(rule, start, end, doc))
        for sent_start, mods in modifiers.items():
            graph = ConTextGraph(prune_on_modifier_overlap=False)
            graph.targets = targets[sent_start]
            graph.modifiers = mods
            graph.update_scopes()
            graph.apply_modifiers()
            for target, modifier in graph.edges:
                target._.modifiers += (modifier,)
        return doc


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


def build_nlp(lexicon: Lexicon) -> tuple[Any, SentenceScopedContext]:
    """Build the pipeline, loading everything once.

    Args:
        lexicon: vocabularies holding our ConText and section rules.

    Returns:
        A spaCy ``Language`` (sentence splitter, medspaCy's sectionizer) and the ConText step
        to run on its output.

    Raises:
        DependencyMissingError: medspacy or spacy is not installed.
    """
    # Single-threaded numeric libraries: extraction is called from worker processes/threads
    # that already parallelise across documents.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from loguru import logger

        logger.disable("PyRuSH")  # PyRuSH logs every sentence at import/load (FINDINGS.md)
        import medspacy
        from medspacy.context import ConText, ConTextRule
        from medspacy.section_detection import SectionRule
        from spacy.language import Language
    except ModuleNotFoundError as exc:
        raise DependencyMissingError("clinical extraction", "nlp", exc.name or "medspacy") from exc

    if not Language.has_factory(SENTENCE_COMPONENT):
        Language.component(SENTENCE_COMPONENT, func=_split_sentences)
    nlp = medspacy.load(medspacy_enable=["medspacy_sectionizer"])
    # Re-added without span attributes: medflow reads sections from doc._.sections, and the
    # default attribute pass (is_family ... on every entity) cost as much as finding them.
    nlp.remove_pipe("medspacy_sectionizer")
    nlp.add_pipe("medspacy_sectionizer", config={"rules": "default", "span_attrs": None})
    nlp.add_pipe(SENTENCE_COMPONENT, first=True)
    sectionizer = nlp.get_pipe("medspacy_sectionizer")
    sectionizer.add([SectionRule.from_dict(r) for r in lexicon.section_rules])
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
    rules = [ConTextRule.from_dict(e) for r in dicts for e in expand_rule(r)]
    return nlp, SentenceScopedContext(nlp, rules)
