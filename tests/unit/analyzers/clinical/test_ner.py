"""The statistical NER: corpus reading, scoring, training, loading and merging with lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.analyzers.clinical.ner import NerModel, NerSpan, default_model_path
from medflow.analyzers.clinical.ner_corpus import CorpusFormatError, SpanScore, read_iob
from medflow.analyzers.clinical.ner_training import train
from medflow.errors import AnalyzerError, InputError

_IOB = (
    "Cisplatin\tB-Chemical\n-\tO\ninduced\tO\nacute\tB-Disease\nrenal\tI-Disease\n"
    "failure\tI-Disease\n.\tO\n\nNo\tO\ntoxicity\tB-Disease\n"
)


def test_read_iob_gives_token_spans(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text(_IOB, encoding="utf-8")
    first, second = read_iob(path)
    assert first.words[:2] == ("Cisplatin", "-")
    assert first.spans == ((0, 1, "CHEMICAL"), (3, 6, "DISEASE"))
    assert second.spans == ((1, 2, "DISEASE"),)


@pytest.mark.parametrize("line", ["Cisplatin B-Chemical", "Cisplatin\tB-Gene", "\tO"])
def test_read_iob_names_the_file_and_line_of_a_bad_row(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(f"Aspirin\tB-Chemical\n{line}\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"bad\.tsv.*line 2") as info:
        read_iob(path)
    assert isinstance(info.value, InputError)


def test_span_score_is_exact_span_and_label() -> None:
    score = SpanScore()
    score.add([(0, 1, "CHEMICAL"), (3, 6, "DISEASE")], [(0, 1, "CHEMICAL"), (4, 6, "DISEASE")])
    assert score.prf("CHEMICAL") == (1.0, 1.0, 1.0)
    assert score.prf("DISEASE") == (0.0, 0.0, 0.0)
    assert score.prf() == (0.5, 0.5, 0.5)


def test_training_writes_a_model_that_loads_and_finds_spans(tmp_path: Path) -> None:
    corpora = tmp_path / "corpora"
    for folder in ("BC5CDR-IOB", "NCBI-disease-IOB"):
        (corpora / folder).mkdir(parents=True)
        (corpora / folder / "train.tsv").write_text(_IOB * 10, encoding="utf-8")
    out = tmp_path / "model"
    info = train(corpora, out, minutes=0, width=32, depth=1, rows=500, patience=1)
    assert info["tuned_on"].startswith("BC5CDR train, last 10%")
    assert (out / "training.json").is_file()
    model = NerModel(out)
    spans = model.find("Cisplatin - induced acute renal failure .")
    assert all(isinstance(s, NerSpan) and s.label in ("CHEMICAL", "DISEASE") for s in spans)


def test_a_folder_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnalyzerError, match="no NER model"):
        NerModel(tmp_path)


def test_the_bundled_model_ships_with_its_training_record() -> None:
    model = NerModel()
    assert (default_model_path() / "training.json").is_file()
    assert "BC5CDR" in model.info["tuned_on"]
    labels = {s.label for s in model.find("Lithium-induced nephrogenic diabetes insipidus.")}
    assert labels == {"CHEMICAL", "DISEASE"}


class _FixedNer:
    """A test double of NerModel: returns the spans it was given, by text."""

    def __init__(self, spans: list[tuple[str, str]]) -> None:
        self.spans = spans
        self.info: dict[str, str] = {}

    def find_in_doc(self, doc: object) -> list[NerSpan]:
        text = str(doc)
        return [NerSpan(text.index(t), text.index(t) + len(t), label) for t, label in self.spans]


@pytest.fixture(scope="module")
def lexicon_only() -> ClinicalExtractor:
    return ClinicalExtractor(statistical_ner=False)


def test_merge_adds_unknown_mentions_and_widens_cut_modifiers(
    lexicon_only: ClinicalExtractor,
) -> None:
    text = "Urticarial rash after zorbomycin; no familial melanoma. NAME: x"
    lexicon_only.ner = _FixedNer(  # type: ignore[assignment]
        [
            ("Urticarial rash", "DISEASE"),
            ("zorbomycin", "CHEMICAL"),
            ("familial melanoma", "DISEASE"),
            ("NAME", "CHEMICAL"),
        ]
    )
    try:
        result = lexicon_only.extract(text)
    finally:
        lexicon_only.ner = None
    conditions = {e.text: e for e in result.by_category("MEDICAL_CONDITION")}
    assert set(conditions) == {"Urticarial rash", "familial melanoma"}
    # The lexicon's kind and code come with the widened span; context still applies.
    assert conditions["Urticarial rash"].has_trait("SIGN")
    assert conditions["familial melanoma"].has_trait("NEGATION")
    assert conditions["familial melanoma"].icd10cm
    # A model span just before a colon is a field label, not a drug.
    assert [e.text for e in result.by_category("MEDICATION")] == ["zorbomycin"]


def test_merge_keeps_the_lexicon_span_when_the_model_disagrees(
    lexicon_only: ClinicalExtractor,
) -> None:
    lexicon_only.ner = _FixedNer([("rash after", "CHEMICAL")])  # type: ignore[assignment]
    try:
        result = lexicon_only.extract("Urticarial rash after penicillin.")
    finally:
        lexicon_only.ner = None
    assert [(e.text, e.category) for e in result.entities if e.category != "ANATOMY"] == [
        ("rash", "MEDICAL_CONDITION"),
        ("penicillin", "MEDICATION"),
    ]


def test_lexicon_flags_mark_drug_names_and_condition_words(
    lexicon_only: ClinicalExtractor,
) -> None:
    from spacy.attrs import FLAG40, FLAG41, FLAG42, FLAG43

    from medflow.analyzers.clinical.ner_features import condition_vocabulary, lexicon_flags

    flags = lexicon_flags(
        lexicon_only.drugs,
        condition_vocabulary(lexicon_only.lexicon, lexicon_only.icd10),
        ["the", "and"],
    )
    assert flags[FLAG40]("Aspirin") and flags[FLAG40]("cotrimoxazole")
    assert not flags[FLAG40]("the") and not flags[FLAG40]("walked")
    assert flags[FLAG41]("valproic")
    assert flags[FLAG42]("failure") and not flags[FLAG42]("renal")
    assert flags[FLAG43]("renal") and not flags[FLAG43]("and")


def test_merge_never_widens_a_drug_into_its_dose(lexicon_only: ClinicalExtractor) -> None:
    lexicon_only.ner = _FixedNer(  # type: ignore[assignment]
        [("ferrous sulfate 325", "CHEMICAL"), ("Zorbex 40", "CHEMICAL")]
    )
    try:
        result = lexicon_only.extract("Start ferrous sulfate 325 mg daily and Zorbex 40 mg BID.")
    finally:
        lexicon_only.ner = None
    drugs = {e.text: e for e in result.by_category("MEDICATION")}
    assert set(drugs) == {"ferrous sulfate", "Zorbex"}
    assert {a.text for a in drugs["Zorbex"].attributes} == {"40 mg", "BID"}
