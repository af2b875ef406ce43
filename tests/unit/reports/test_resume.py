"""The medical resume: entities grouped for a clinician, negated findings kept and shown."""

from __future__ import annotations

from medflow.domain.clinical import Attribute, ClinicalResult, Concept, Entity, Trait
from medflow.reports.resume import medical_resume, render_resume_html, render_summary_html

TEXT = (
    "Chief complaint is cough for five days. She denies chest pain. "
    "History of asthma. Take amoxicillin 500 mg by mouth three times daily. "
    "Allergic to penicillin. Follow up in two weeks."
)


def _entity(i: int, text: str, category: str, type_: str, *traits: str, **kw: object) -> Entity:
    begin = TEXT.index(text)
    return Entity(
        id=i,
        begin=begin,
        end=begin + len(text),
        text=text,
        category=category,
        type=type_,
        score=0.9,
        traits=tuple(Trait(name=t, score=0.9) for t in traits),
        **kw,
    )


def _attribute(i: int, text: str, type_: str) -> Attribute:
    begin = TEXT.index(text)
    return Attribute(
        id=i,
        begin=begin,
        end=begin + len(text),
        text=text,
        type=type_,
        category="MEDICATION",
        score=0.9,
        relationship_type="WITH_DOSAGE",
        relationship_score=0.9,
    )


def _result() -> ClinicalResult:
    amoxicillin = _entity(
        4,
        "amoxicillin",
        "MEDICATION",
        "GENERIC_NAME",
        attributes=(
            _attribute(5, "500 mg", "DOSAGE"),
            _attribute(6, "by mouth", "ROUTE_OR_MODE"),
            _attribute(7, "three times daily", "FREQUENCY"),
        ),
        rxnorm=(Concept(code="723", description="amoxicillin", score=0.9),),
    )
    return ClinicalResult(
        text_length=len(TEXT),
        entities=(
            _entity(1, "cough", "MEDICAL_CONDITION", "DX_NAME", "SYMPTOM"),
            _entity(2, "chest pain", "MEDICAL_CONDITION", "DX_NAME", "SYMPTOM", "NEGATION"),
            _entity(
                3,
                "asthma",
                "MEDICAL_CONDITION",
                "DX_NAME",
                "DIAGNOSIS",
                "PAST_HISTORY",
                icd10cm=(Concept(code="J45.909", description="Asthma", score=0.9),),
            ),
            amoxicillin,
            _entity(8, "penicillin", "MEDICATION", "GENERIC_NAME"),
        ),
        model_version="test",
    )


def test_the_resume_groups_findings_medicines_allergies_and_plan() -> None:
    resume = medical_resume(_result(), TEXT, {"id": "P-1", "name": "Pat"})
    assert resume["patient"] == {"id": "P-1", "name": "Pat"}
    assert resume["chief_complaint"] == "cough"
    cough, chest = resume["symptoms"]
    assert (cough["text"], cough["onset"], cough["negated"]) == ("cough", "for five days", False)
    assert (chest["text"], chest["negated"]) == ("chest pain", True)
    assert resume["conditions"][0]["past_history"] is True
    assert resume["conditions"][0]["icd10cm"]["code"] == "J45.909"
    (med,) = resume["medications"]
    assert (med["name"], med["dosage"], med["route_or_mode"], med["frequency"]) == (
        "amoxicillin",
        "500 mg",
        "by mouth",
        "three times daily",
    )
    assert [a["substance"] for a in resume["allergies"]] == ["penicillin"]
    assert "Follow up in two weeks." in resume["plan"]
    assert "She denies chest pain." not in resume["plan"]


def test_the_resume_page_shows_negated_findings_as_negated_and_escapes_text() -> None:
    resume = medical_resume(_result(), TEXT, {"id": "P-1", "name": "<script>x</script>"})
    transcript = {"text": TEXT, "duration_s": 12.0, "mean_confidence": 0.8, "low_confidence": []}
    html = render_resume_html(resume, transcript, "Medical resume")
    assert '<tr class="negated"><td>No chest pain' in html
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "500 mg" in html and "three times daily" in html


def test_the_summary_page_carries_the_fragment_and_its_reading_level() -> None:
    html = render_summary_html("<h2>Your medicines</h2>", 5.25, "Your health summary")
    assert "<h2>Your medicines</h2>" in html and "5.2" in html
