"""Condition terms taken from ICD-10-CM text (descriptions, inclusion terms, includes notes)."""

from __future__ import annotations

import warnings

import pytest

from medflow.analyzers.clinical import ClinicalExtractor
from medflow.analyzers.clinical.icd_terms import condition_terms, plural


@pytest.fixture(scope="module")
def terms() -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # simple-icd-10-cm imports pkg_resources
        import simple_icd_10_cm as icd
    return condition_terms(icd)


def test_plural_rules() -> None:
    assert [plural(w) for w in ("polyp", "rash", "arrhythmia", "ectasy", "anomaly")] == [
        "polyps",
        "rashes",
        "arrhythmias",
        "ectasies",
        "anomalies",
    ]
    assert [plural(w) for w in ("hemorrhoids", "stenosis", "varix", "mi")] == [None] * 4


def test_inclusion_terms_and_includes_notes_become_terms(terms: dict[str, str]) -> None:
    assert terms["lethargy"] == "R53.83"  # inclusion term of "Other fatigue"
    assert terms["night sweats"] == "R61"
    assert terms["hiatus hernia"].startswith("K44")  # includes note of K44
    assert terms["crohn disease"] == terms["crohn's disease"]  # possessive dropped


def test_coding_categories_and_filler_are_not_terms(terms: dict[str, str]) -> None:
    assert not [t for t in terms if t.split()[0] in ("other", "unspecified", "encounter")]
    assert not {"history", "disease", "normal", "alert", "discharge"} & set(terms)
    assert not [t for t in terms if any(ch.isdigit() for ch in t) or len(t.split()) > 3]
    assert "hemorrhoids" in terms  # "Unspecified hemorrhoids" with its qualifier dropped


def test_notes_wording_is_found_and_coded(extractor: ClinicalExtractor) -> None:
    result = extractor.extract(
        "On arrival he was lethargic and diaphoretic. Colonoscopy showed two polyps and "
        "internal hemorrhoids. Known Crohn's disease; no abdominal bloating."
    )
    found = {e.text: e for e in result.by_category("MEDICAL_CONDITION")}
    assert set(found) >= {"lethargic", "diaphoretic", "polyps", "internal hemorrhoids"}
    assert found["lethargic"].icd10cm[0].code == "R53.83"
    crohn = next(e for e in found.values() if e.text.startswith("Crohn"))
    assert crohn.icd10cm and crohn.icd10cm[0].code.startswith("K50")
    assert found["bloating"].has_trait("NEGATION")


def test_fragments_of_longer_titles_and_bare_substances_are_dropped(
    terms: dict[str, str],
) -> None:
    for fragment in ("finding of", "acute and", "sepsis due to", "diabetes mellitus with"):
        assert fragment not in terms
    assert "caffeine" not in terms and "marijuana" not in terms
    # A term that names the disorder stays, as does a type letter ("hepatitis a").
    assert terms["caffeine withdrawal"].startswith("F15")
    assert "hepatitis a" in terms
