"""ClinicalExtractor: text in, Comprehend-Medical-shaped entities out, offline.

Steps for each text (paragraph chunks of at most ``CHUNK_CHARS``, offsets kept): tokenise;
sentences and sections (``pipeline.py``); find targets (condition lexicon + ICD-10-CM terms,
the drug dictionary less ``drug_exclusions.yaml``, test/procedure/social terms; phrases match
across extra spaces and line breaks); resolve overlaps (longest wins; on a tie test names, then
medications); ConText (medspaCy rules); medication and test attributes (``attributes.py``);
time expressions linked to what they date (``timex.py``); codes (``coding.py``); PHI
(``phi.py``; a date is PHI and, when it dates an entity, also a TIME_EXPRESSION). There is no
input size limit: long documents are processed whole, chunk by chunk.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from pathlib import Path
from typing import Any

from medflow.analyzers.clinical.attributes import (
    ITEM_START,
    RELATIONSHIP,
    AttributeFinder,
    FoundAttribute,
)
from medflow.analyzers.clinical.coding import Icd10Index, RxNormIndex
from medflow.analyzers.clinical.context import entity_traits
from medflow.analyzers.clinical.drugs import DrugDictionary
from medflow.analyzers.clinical.findings import FindingFinder
from medflow.analyzers.clinical.language import check_text, looks_english
from medflow.analyzers.clinical.lexicon import Lexicon, load_lexicon
from medflow.analyzers.clinical.ner import NerModel
from medflow.analyzers.clinical.ner_features import condition_vocabulary, lexicon_flags
from medflow.analyzers.clinical.phi import FoundPhi, PhiDetector
from medflow.analyzers.clinical.pipeline import (
    Compact,
    FoundSection,
    Structure,
    americanize,
    bigrams,
    build_nlp,
    compact,
    pattern_doc,
    word_variants,
)
from medflow.analyzers.clinical.spans import (
    cased_words,
    defined_abbreviations,
    longest_first,
    lower_words,
    merge_model_spans,
)
from medflow.analyzers.clinical.timex import FoundTime, TimeFinder, time_entities
from medflow.domain.clinical import (
    Attribute,
    ClinicalResult,
    Concept,
    Entity,
    SectionSpan,
    Trait,
)

log = logging.getLogger(__name__)

MODEL_VERSION = "medflow-clinical-0.1.0"
CHUNK_CHARS = 50_000
_PARAGRAPH = re.compile(r"\n\s*\n")
_DIGIT = re.compile(r"\d")
_TERM_CATEGORY = {
    "TEST_NAME": "TEST_TREATMENT_PROCEDURE",
    "PROCEDURE_NAME": "TEST_TREATMENT_PROCEDURE",
    "TREATMENT_NAME": "TEST_TREATMENT_PROCEDURE",
    "TOBACCO_USE": "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
    "ALCOHOL_CONSUMPTION": "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
    "REC_DRUG_USE": "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
    "ALLERGIES": "BEHAVIORAL_ENVIRONMENTAL_SOCIAL",
    "SYSTEM_ORGAN_SITE": "ANATOMY",
    "DIRECTION": "ANATOMY",
}
# Types that are attributes of a neighbouring entity, never entities of their own: an acuity
# of a condition ("acute"), a direction of a body structure ("left" of "left lower lobe").
_CONDITION_ATTRIBUTES = ("ACUITY", "DIRECTION")
_FINDING = "finding statement"  # kb_id of a finding found by findings.py
# PHI types whose text is never also a clinical entity.
_NOT_CLINICAL = frozenset({"NAME", "ID", "ADDRESS", "EMAIL", "URL", "PHONE_OR_FAX"})
# Spinal levels and ranges ("L4-L5", "C5-6", "L5"; a lone C/T/S level is a heart sound, a
# hormone or a complement factor far more often, so it needs a range).
_SPINAL_LEVEL = re.compile(r"\b(?:[CTLS]\d{1,2}\s?-\s?[CTLS]?\d{1,2}|L[1-5])\b(?!\s?(?:mg|%))")
_TEST = "TEST_TREATMENT_PROCEDURE"
_PRIORITY = {f"{_TEST}|TEST_NAME": 0, "MEDICATION|GENERIC_NAME": 1, "MEDICATION|BRAND_NAME": 1}


class ClinicalExtractor:
    """Finds clinical entities, their traits, attributes, codes and PHI in English text.

    Build one and reuse it: construction loads the vocabularies, the ICD-10-CM index and the
    spaCy pipeline (seconds); ``extract`` is then fast (tens of milliseconds for a 2 KB note).
    """

    def __init__(
        self,
        use_ner_model: bool = False,
        lexicon: Lexicon | None = None,
        statistical_ner: bool = True,
        ner_model_path: Path | None = None,
    ) -> None:
        """Load everything once.

        Args:
            use_ner_model: also run en_core_web_sm to find PHI names/places no rule covers
                (better PHI recall on free prose, about 3x slower).
            lexicon: vocabularies; the bundled ones by default.
            statistical_ner: also run medflow's CHEMICAL/DISEASE model (``ner.py``) and merge
                its spans with the lexicon matches.
            ner_model_path: a model folder other than the bundled one.

        Raises:
            DependencyMissingError: the ``nlp`` extra is not installed.
        """
        from spacy.matcher import PhraseMatcher

        self.lexicon = lexicon or load_lexicon()
        self.nlp, self._analyzer = build_nlp(self.lexicon)
        self.drugs = DrugDictionary.from_lexicon(self.lexicon)
        synonyms = {c.term: c.code for c in self.lexicon.conditions}
        synonyms.update(
            {v: code for term, code in list(synonyms.items()) for v in word_variants(term)}
        )
        self.icd10 = Icd10Index(synonyms)
        self.rxnorm = RxNormIndex(self.lexicon.rxnorm)
        self.attributes = AttributeFinder(self.lexicon)
        self.times = TimeFinder()
        self.findings = FindingFinder(list(self.lexicon.terms.get("SYSTEM_ORGAN_SITE", ())))
        self._kind: dict[str, str] = {}
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._exact = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        icd_terms = self.icd10.condition_terms()
        icd_terms.update(
            {
                v: c
                for t, c in list(icd_terms.items())
                for v in word_variants(t)
                if v not in icd_terms
            }
        )
        for term, code in icd_terms.items():
            # Chapter R holds symptoms and signs; the others diseases.
            self._kind.setdefault(term, "SYMPTOM" if code.startswith("R") else "DIAGNOSIS")
        self._lower.add("ICD", [pattern_doc(self.nlp, t) for t in icd_terms])
        lower = [c for c in self.lexicon.conditions if not c.case_sensitive]
        exact = [c for c in self.lexicon.conditions if c.case_sensitive]
        lower_terms = [v for c in lower for v in (c.term, *word_variants(c.term))]
        for c in self.lexicon.conditions:
            for v in (c.term, *word_variants(c.term)):
                self._kind[v.lower()] = c.kind
        self._lower.add("CONDITION", [pattern_doc(self.nlp, t) for t in lower_terms])
        self._exact.add("CONDITION", [pattern_doc(self.nlp, c.term.upper()) for c in exact])
        for type_, words in self.lexicon.terms.items():
            self._lower.add(type_, [pattern_doc(self.nlp, w) for w in words])
        self._stop = frozenset(self.nlp.Defaults.stop_words)
        medical = {w for t in [*icd_terms, *lower_terms] for w in t.lower().split() if w.isalpha()}
        medical |= {w for ws in self.lexicon.terms.values() for t in ws for w in t.split()}
        self.ner: NerModel | None = (
            NerModel(
                ner_model_path,
                lexicon_flags(
                    self.drugs, condition_vocabulary(self.lexicon, self.icd10), self._stop
                ),
            )
            if statistical_ner
            else None
        )
        self.phi = PhiDetector(
            self.lexicon, use_ner_model=use_ner_model, medical_words=frozenset(medical)
        )
        phrases = [*icd_terms, *(c.term for c in self.lexicon.conditions)]
        phrases += [w for words in self.lexicon.terms.values() for w in words]
        phrases += [*self.drugs.phrases(), *self._analyzer.phrases()]
        self._joinable = frozenset(pair for p in phrases for pair in bigrams(p.lower().split()))
        acuity = "|".join(
            re.escape(w)
            for w in sorted(self.lexicon.terms.get("ACUITY", ()), key=len, reverse=True)
        )
        self._acuity_before = re.compile(rf"\b({acuity})\s+$", re.I)
        directions = "|".join(
            re.escape(w) for w in sorted(self.lexicon.terms.get("DIRECTION", ()), key=len)[::-1]
        )
        self._direction_before = re.compile(
            rf"\b((?:{directions})(?:\s+(?:and\s+)?(?:{directions}))*)\s+$", re.I
        )
        self._acuity_last = frozenset(
            w.split()[-1] for w in self.lexicon.terms.get("ACUITY", ()) if w.strip()
        )

    # -- public -----------------------------------------------------------------------------

    def extract(self, text: str, filename: str = "<text>") -> ClinicalResult:
        """Extract entities from one text.

        Args:
            text: the clinical text (any length).
            filename: how to name the input in error messages.

        Returns:
            The result; ``language_supported`` is False (and no entities) for non-English text.

        Raises:
            EmptyInputError: the text is empty or blank.
            UnsupportedFileError: the text is binary data.
        """
        check_text(text, filename)
        english, lang = looks_english(text)
        if not english:
            log.info("clinical extraction skipped: language looks like %s", lang)
            return ClinicalResult(
                text_length=len(text),
                language_supported=False,
                warnings=(
                    f"the text looks like another language ({lang}); clinical extraction "
                    "supports English only, so nothing was extracted",
                ),
                model_version=MODEL_VERSION,
            )
        raw_entities: list[dict[str, Any]] = []
        sections: list[SectionSpan] = []
        unmapped: list[FoundAttribute] = []
        carry_section: str | None = None
        phi = self.phi.find(text)
        dates = [FoundTime(p.begin, p.end) for p in phi if p.type == "DATE"]
        for offset, chunk in _chunks(text):
            doc = self.nlp.make_doc(chunk)
            structure = self._analyzer.structure(doc, chunk, self._joinable)
            targets = self._targets(
                doc, chunk, structure.compact or compact(doc, chunk, self._joinable)
            )
            modifiers = self._analyzer.context(doc, targets, structure)
            found, chunk_sections, chunk_unmapped, carry_section = self._read_doc(
                doc, targets, modifiers, structure, chunk, offset, carry_section
            )
            found += time_entities(
                self.times, found, structure.sentence_chars, chunk, offset, dates
            )
            raw_entities += found
            sections += chunk_sections
            unmapped += chunk_unmapped
        # A person's name or an identifier is never also a drug or a finding ("Tomas" is a
        # brand in the drug list; "Parkinson" is a surname).
        private = [(p.begin, p.end) for p in phi if p.type in _NOT_CLINICAL]
        if private:
            raw_entities = [
                r
                for r in raw_entities
                if r["category"] == "TIME_EXPRESSION"
                or not any(r["begin"] < e and b < r["end"] for b, e in private)
            ]
        raw_entities += self._phi_entities(phi)
        return self._assemble(text, raw_entities, sections, unmapped)

    def traits_for(self, sentence: str, begin: int, end: int) -> tuple[Trait, ...]:
        """Context traits (NEGATION, HYPOTHETICAL ...) of a given span, as extract would set.

        Used to measure the ConText rules on annotated corpora where the target is given.

        Args:
            sentence: the text around the span.
            begin: span start.
            end: span end.

        Returns:
            The context traits of the span (no SIGN/SYMPTOM/DIAGNOSIS).
        """
        doc = self.nlp.make_doc(sentence)
        span = doc.char_span(begin, end, label="MEDICAL_CONDITION|DX_NAME", alignment_mode="expand")
        if span is None:
            return ()
        modifiers = self._analyzer.context(doc, [span], self._analyzer.structure(doc, sentence))
        return entity_traits("MEDICAL_CONDITION", modifiers[0], None, None)

    # -- steps ------------------------------------------------------------------------------

    def _targets(self, doc: Any, text: str, packed: Compact) -> list[Any]:
        from spacy.tokens import Span

        # Candidates as (start, end, label, generic) tuples; Span objects are made only for the
        # ones kept (a 2 KB note has ~120 phrase matches, half of them inside longer ones).
        found: list[tuple[int, int, str, str]] = []
        strings = self.nlp.vocab.strings
        for match_id, c_start, c_end in [*self._exact(packed.doc), *self._lower(packed.doc)]:
            start, end = packed.remap(c_start, c_end)
            label = strings[match_id]
            if label in ("CONDITION", "ICD"):
                found.append((start, end, "MEDICAL_CONDITION|DX_NAME", ""))
            else:
                category = _TERM_CATEGORY.get(label, "MEDICAL_CONDITION")
                found.append((start, end, f"{category}|{label}", ""))
        words = lower_words(doc, text)
        cased = cased_words(doc, text)
        if packed.index is not None:
            words = [words[i] for i in packed.index]
            cased = [cased[i] for i in packed.index]
        lex = self.lexicon
        for m in self.drugs.find(words, self._stop, cased, packed.hyphens):
            name = " ".join(words[m.start : m.end])
            start, end = packed.remap(m.start, m.end)
            if m.needs_dose and not self._dose_follows(doc, text, end):
                continue
            if (
                m.end < len(words)
                and words[m.end] in lex.test_words
                and (name in lex.test_or_drug or m.generic in lex.test_or_drug)
            ):
                # "digoxin level", "vancomycin trough": the drug's blood level is a test.
                end = packed.remap(m.start, m.end + 1)[1]
                found.append((start, end, f"{_TEST}|TEST_NAME", ""))
                continue
            kind = "BRAND_NAME" if m.is_brand else "GENERIC_NAME"
            found.append((start, end, f"MEDICATION|{kind}", m.generic))
        for b, e in self.findings.find(text):
            statement = doc.char_span(b, e, alignment_mode="expand")
            if statement is not None:
                found.append(
                    (statement.start, statement.end, "MEDICAL_CONDITION|DX_NAME", _FINDING)
                )
        for spinal in _SPINAL_LEVEL.finditer(text):
            level = doc.char_span(spinal.start(), spinal.end(), alignment_mode="expand")
            if level is not None:
                found.append((level.start, level.end, "ANATOMY|SYSTEM_ORGAN_SITE", ""))
        # Ties (same span) go to test names, then medications: "ferritin" is a lab test even
        # if a drug list holds it; "insulin" the drug wins over any same-length other term.
        found.sort(key=lambda f: _PRIORITY.get(f[2], 2))
        chosen = [
            f for f in longest_first(found) if f[2].split("|")[1] not in _CONDITION_ATTRIBUTES
        ]
        if self.ner is not None:
            chosen = merge_model_spans(doc, chosen, self.ner.find_in_doc(doc), self.drugs.lookup)
        chosen = defined_abbreviations(doc, chosen)
        kept: list[Any] = []
        for start, end, label, generic in chosen:
            span = Span(doc, start, end, label=label)
            if generic:
                span.kb_id_ = generic
            kept.append(span)
        return sorted(kept, key=lambda s: s.start)

    def _kind_of(self, text: str) -> str | None:
        """SIGN, SYMPTOM or DIAGNOSIS of a condition, from its longest known ending
        ("urticarial rash" is a rash: a SIGN)."""
        words = text.lower().split()
        for i in range(len(words)):
            kind = self._kind.get(" ".join(words[i:]))
            if kind is not None:
                return kind
        return None

    def _dose_follows(self, doc: Any, text: str, end: int) -> bool:
        """Tell whether an amount with a unit follows a token within a few words."""
        if end >= len(doc):
            return False
        begin = doc[end].idx
        return self.attributes.has_amount(text, begin, min(len(text), begin + 16))

    def _read_doc(
        self,
        doc: Any,
        ents: list[Any],
        modifiers: list[frozenset[str]],
        structure: Structure,
        chunk: str,
        offset: int,
        carry: str | None,
    ) -> tuple[list[dict[str, Any]], list[SectionSpan], list[FoundAttribute], str | None]:
        sections = [self._section(doc, s, chunk, offset) for s in structure.sections]
        # Sentence bounds and section starts as character offsets, looked up by bisection.
        sents = structure.sentence_chars
        sent_starts = [b for b, _ in sents]
        sec_starts = [sec.begin - offset for sec in sections]
        found: list[dict[str, Any]] = []
        # A short form in parentheses right after its drug ("carbamazepine (CBZ) 200 mg") is
        # part of the name's definition: the dose after it still belongs to the full name.
        defining = {
            e.start
            for e in ents
            if e.start > 0
            and e.end < len(doc)
            and doc[e.start - 1].text == "("
            and doc[e.end].text == ")"
        }
        drug_starts = [
            e.start_char
            for e in ents
            if e.label_.startswith("MEDICATION") and e.start not in defining
        ]
        drug_sents: set[int] = set()
        windows: list[tuple[int, int]] = []
        for ent, mods in zip(ents, modifiers, strict=True):
            category, type_ = ent.label_.split("|")
            at = bisect_right(sec_starts, ent.start_char) - 1
            section = sections[at].name if at >= 0 else carry
            sent_index = bisect_right(sent_starts, ent.start_char) - 1
            sent_end = sents[sent_index][1]
            attrs: list[FoundAttribute] = []
            if category == "MEDICATION" and ent.start in defining:
                drug_sents.add(sent_index)
            elif category == "MEDICATION":
                drug_sents.add(sent_index)
                next_drug = min([s for s in drug_starts if s > ent.start_char] + [len(chunk)])
                begin = ent.end_char
                if not chunk[ent.end_char : sent_end].strip() and sent_index + 1 < len(sents):
                    # The sig wraps: the drug name ends its line ("FAMOTIDINE\n20MG PO bid").
                    # Its attributes continue on the next line unless that line starts a new
                    # item (a bullet, "2.", "Label:") or another drug.
                    nb, ne = sents[sent_index + 1]
                    if nb < next_drug and not ITEM_START.match(chunk, nb):
                        drug_sents.add(sent_index + 1)
                        begin, sent_end = nb, ne
                limit = min(next_drug, sent_end)
                end = self.attributes.window_end(chunk, begin, limit)
                attrs = self.attributes.medication(chunk, begin, end)
                windows.append((ent.start_char, end))
            elif type_ == "TEST_NAME":
                attrs = self.attributes.test_value(
                    chunk, ent.end_char, min(ent.end_char + 30, sent_end)
                )
            elif category == "MEDICAL_CONDITION":
                attrs = self._acuity(chunk, ent.start_char)
            elif category == "ANATOMY":
                attrs = self._direction(chunk, ent.start_char)
            kind = self._kind_of(ent.text) if category == "MEDICAL_CONDITION" else None
            if ent.kb_id_ == _FINDING:
                kind = "SIGN"  # an examination finding (findings.py)
            found.append(
                {
                    "begin": offset + ent.start_char,
                    "end": offset + ent.end_char,
                    "category": category,
                    "type": type_,
                    "traits": entity_traits(category, mods, kind, section),
                    "section": section,
                    "generic": ent.kb_id_ if category == "MEDICATION" and ent.kb_id_ else None,
                    "attrs": [
                        FoundAttribute(a.type, a.begin + offset, a.end + offset) for a in attrs
                    ],
                }
            )
        covered = {c for f in found for a in f["attrs"] for c in range(a.begin, a.end)}
        found = [
            f
            for f in found
            if f["category"] == "MEDICATION"
            or not covered.intersection(range(f["begin"], f["end"]))
        ]
        free = [s for i, s in enumerate(sents) if i not in drug_sents]
        # In lines that name drugs, the stretches no drug's window covers (an unknown drug's
        # "Foobarex 20 mg bid" after a known one) are checked for unmapped attributes too.
        for i in sorted(drug_sents):
            begin, end = sents[i]
            for w_begin, w_end in sorted(windows):
                if w_begin >= end or w_end <= begin:
                    continue
                if w_begin > begin:
                    free.append((begin, w_begin))
                begin = max(begin, w_end)
            if begin < end:
                free.append((begin, end))
        unmapped = self._unmapped(chunk, offset, free)
        return found, sections, unmapped, sections[-1].name if sections else carry

    @staticmethod
    def _section(doc: Any, section: FoundSection, chunk: str, offset: int) -> SectionSpan:
        begin = doc[section.title_start].idx
        last = doc[max(section.body_end, section.title_end) - 1]
        end = last.idx + len(last)
        return SectionSpan(
            name=section.category.upper(),
            begin=offset + begin,
            end=offset + end,
            text=chunk[begin:end],
        )

    def _acuity(self, chunk: str, begin: int) -> list[FoundAttribute]:
        # Cheap test first: the word just before must end an acuity term ("acute", "severe").
        before = chunk[max(0, begin - 20) : begin].rstrip()
        if not before or before.rsplit(None, 1)[-1].lower() not in self._acuity_last:
            return []
        m = self._acuity_before.search(chunk, max(0, begin - 40), begin)
        return [FoundAttribute("ACUITY", m.start(1), m.end(1))] if m else []

    def _direction(self, chunk: str, begin: int) -> list[FoundAttribute]:
        """The laterality/position words just before a body structure ("left lower" lobe)."""
        m = self._direction_before.search(chunk, max(0, begin - 40), begin)
        return [FoundAttribute("DIRECTION", m.start(1), m.end(1))] if m else []

    def _unmapped(
        self, chunk: str, offset: int, sentences: list[tuple[int, int]]
    ) -> list[FoundAttribute]:
        """Dose/frequency words in sentences that name no drug (Comprehend UnmappedAttributes)."""
        out: list[FoundAttribute] = []
        for begin, end in sentences:
            # Cheap tests first: most sentences hold no amount, and then no unmapped dose.
            if not _DIGIT.search(chunk, begin, end) or not self.attributes.has_amount(
                chunk, begin, end
            ):
                continue
            attrs = self.attributes.medication(chunk, begin, end)
            kinds = {a.type for a in attrs}
            if (
                len(attrs) >= 2
                and kinds & {"DOSAGE", "STRENGTH"}
                and kinds & {"FREQUENCY", "ROUTE_OR_MODE"}
            ):
                out += [FoundAttribute(a.type, a.begin + offset, a.end + offset) for a in attrs]
        return out

    @staticmethod
    def _phi_entities(phi: list[FoundPhi]) -> list[dict[str, Any]]:
        return [
            {
                "begin": p.begin,
                "end": p.end,
                "category": "PROTECTED_HEALTH_INFORMATION",
                "type": p.type,
                "traits": (),
                "section": None,
                "generic": None,
                "attrs": [],
                "score": p.score,
            }
            for p in phi
        ]

    def _assemble(
        self,
        text: str,
        raw: list[dict[str, Any]],
        sections: list[SectionSpan],
        unmapped: list[FoundAttribute],
    ) -> ClinicalResult:
        raw.sort(key=lambda r: (r["begin"], r["end"]))
        for r in raw:
            if r["section"] is None:
                r["section"] = next(
                    (s.name for s in reversed(sections) if s.begin <= r["begin"]), None
                )
        next_id = 0
        entities: list[Entity | None] = []
        deferred: list[tuple[int, int, dict[str, Any]]] = []
        for r in raw:
            entity_id = next_id
            next_id += 1
            if "links" in r:
                deferred.append((len(entities), entity_id, r))
                entities.append(None)
                continue
            attributes: list[Attribute] = []
            for a in r["attrs"]:
                attributes.append(
                    Attribute(
                        id=next_id,
                        type=a.type,
                        category=_attribute_category(r["category"], a.type),
                        begin=a.begin,
                        end=a.end,
                        text=text[a.begin : a.end],
                        score=0.9,
                        relationship_type=RELATIONSHIP.get(a.type, a.type),
                        relationship_score=_relationship_score(r["end"], a),
                    )
                )
                next_id += 1
            entities.append(self._entity(text, r, entity_id, tuple(attributes)))
        # A time expression carries the entities it dates as OVERLAP attributes, each with the
        # Id, offsets and traits of that entity (as Comprehend's DetectEntitiesV2 does).
        by_span = {
            (e.begin, e.end): e
            for e in entities
            if e is not None and e.category != "PROTECTED_HEALTH_INFORMATION"
        }
        for position, entity_id, r in deferred:
            links = tuple(
                Attribute(
                    id=e.id,
                    type=e.type,
                    category=e.category,
                    begin=e.begin,
                    end=e.end,
                    text=e.text,
                    score=e.score,
                    relationship_type="OVERLAP",
                    relationship_score=_relationship_score(
                        r["end"], FoundAttribute(e.type, e.begin, e.end)
                    ),
                    traits=e.traits,
                )
                for e in (by_span[span] for span in r["links"] if span in by_span)
            )
            if links:  # what it dated may have been dropped (a name is not a finding)
                entities[position] = self._entity(text, r, entity_id, links)
        unmapped_attrs = []
        for a in unmapped:
            unmapped_attrs.append(
                Attribute(
                    id=next_id,
                    type=a.type,
                    category="MEDICATION",
                    begin=a.begin,
                    end=a.end,
                    text=text[a.begin : a.end],
                    score=0.8,
                )
            )
            next_id += 1
        return ClinicalResult(
            text_length=len(text),
            entities=tuple(e for e in entities if e is not None),
            unmapped_attributes=tuple(unmapped_attrs),
            sections=tuple(sections),
            model_version=MODEL_VERSION,
        )

    def _entity(
        self, text: str, r: dict[str, Any], entity_id: int, attributes: tuple[Attribute, ...]
    ) -> Entity:
        surface = text[r["begin"] : r["end"]]
        icd: tuple[Concept, ...] = ()
        rx: tuple[Concept, ...] = ()
        normalized = None
        score = float(r.get("score", 0.9))
        if r["category"] == "MEDICAL_CONDITION":
            words = [americanize(w) for w in surface.split()]
            icd = self.icd10.lookup(" ".join(words))
            # A widened span ("urticarial rash") takes the code of its longest known ending.
            for i in range(1, len(words)):
                if icd:
                    break
                icd = self.icd10.lookup(" ".join(words[i:]))
            score = 0.95 if icd and icd[0].score >= 0.9 else 0.75
        elif r["category"] == "MEDICATION":
            normalized = r["generic"]
            rx = self.rxnorm.lookup(normalized or surface)
            score = 0.95 if rx else 0.85
        return Entity(
            id=entity_id,
            begin=r["begin"],
            end=r["end"],
            text=surface,
            category=r["category"],
            type=r["type"],
            score=score,
            traits=tuple(r["traits"]),
            attributes=attributes,
            section=r["section"],
            icd10cm=icd,
            rxnorm=rx,
            normalized=normalized,
        )


def _attribute_category(entity_category: str, attr_type: str) -> Any:
    if attr_type in ("TEST_VALUE", "TEST_UNIT"):
        return "TEST_TREATMENT_PROCEDURE"
    if attr_type == "ACUITY":
        return "MEDICAL_CONDITION"
    return entity_category


def _relationship_score(entity_end: int, attr: FoundAttribute) -> float:
    """Closer attributes are surer links; the far end of a long sig line is less certain."""
    gap = max(0, attr.begin - entity_end)
    return round(max(0.5, 0.99 - gap / 200), 3)


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split at paragraph breaks into pieces of at most CHUNK_CHARS (a longer paragraph whole)."""
    if len(text) <= CHUNK_CHARS:
        return [(0, text)]
    out: list[tuple[int, str]] = []
    start = 0
    cut_points = [m.end() for m in _PARAGRAPH.finditer(text)] + [len(text)]
    last_cut = 0
    for cut in cut_points:
        if cut - start > CHUNK_CHARS and last_cut > start:
            out.append((start, text[start:last_cut]))
            start = last_cut
        last_cut = cut
    out.append((start, text[start:]))
    return out
