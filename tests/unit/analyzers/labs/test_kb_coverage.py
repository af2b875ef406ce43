"""The knowledge base's reach: sources, codes and units of every test, regional wording, panels.

UK (NHS), Indian, US and Spanish reports name the same tests differently; each wording below is
taken from such reports and must land on one test. The data-integrity tests run over every
entry, so a test added without a source, with a wrong LOINC check digit or a unit that is not
UCUM fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from medflow.analyzers.labs.kb import KnowledgeBase, default_kb, normalize_name
from medflow.analyzers.labs.kb_data import read_tests
from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.analyzers.labs.kb_models import is_valid_loinc
from medflow.analyzers.labs.units import UnitTable
from medflow.domain.patient import Sex

KNOWLEDGE = Path(__file__).parents[4] / "src/medflow/analyzers/labs/knowledge"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return default_kb()


# -- every entry ----------------------------------------------------------------------------


def test_coverage_reaches_the_200_most_ordered_tests(kb: KnowledgeBase) -> None:
    assert len(kb.tests) >= 200


def test_every_test_names_its_source(kb: KnowledgeBase) -> None:
    missing = [t.id for t in kb.tests.values() if not kb.source_of(t.id).strip()]
    assert missing == []
    assert "Tietz" in kb.source_of("hemoglobin")
    assert "NCEP" in kb.source_of("ldl")


def test_every_data_file_names_its_sources_at_the_top() -> None:
    for path in sorted(KNOWLEDGE.glob("*.yaml")):
        head = path.read_text(encoding="utf-8").splitlines()[:12]
        assert any(line.startswith("# Sources:") for line in head), path.name


def test_every_loinc_code_has_a_valid_check_digit(kb: KnowledgeBase) -> None:
    codes = [t.loinc for t in kb.tests.values()]
    codes += [c for t in kb.tests.values() for c in t.loinc_units.values()]
    codes += [p.loinc for p in kb.panels]
    assert [c for c in codes if not is_valid_loinc(c)] == []
    assert len(codes) == len(set(codes)), "a LOINC code is used twice"


def test_unit_specific_loinc_is_for_another_dimension(kb: KnowledgeBase) -> None:
    # a molar code next to a mass canonical unit (or the reverse), never the same dimension
    for test in kb.tests.values():
        for unit in test.loinc_units:
            assert kb.units.dimension(unit) != kb.units.dimension(test.unit), (test.id, unit)


_PREFIX = r"(?:da|k|h|d|c|m|u|n|p|f)"
_METRIC = r"(?:g|L|l|mol|eq|U|\[IU\]|\[iU\]|osm|kat|s|m|Pa|m\[Hg\])"
_PLAIN = r"(?:min|h|d|%|\[pH\]|\[HPF\]|\[LPF\])"
_COMPONENT = re.compile(
    rf"^(?:\{{[^{{}}]*\}}|10[*^]\d+|\d+|(?:{_PREFIX}?{_METRIC}|{_PLAIN})(?:-?\d+)?(?:\{{[^{{}}]*\}})?)$"
)


def is_ucum(code: str) -> bool:
    """Whether ``code`` follows the UCUM grammar for the atoms lab results use (UCUM 2.2 s.2)."""
    if not code:
        return False
    body = code[1:] if code.startswith("/") else code
    # "." and "/" join components, except inside an annotation ({1.73_m2})
    return all(_COMPONENT.match(part) for part in re.split(r"[./](?![^{]*\})", body))


@pytest.mark.parametrize(
    "code", ["u[IU]/mL", "[IU]/L", "m[IU]/L", "10*3/uL", "mL/min/{1.73_m2}", "mm[Hg]", "/[HPF]"]
)
def test_ucum_grammar_accepts_lab_units(code: str) -> None:
    assert is_ucum(code)


@pytest.mark.parametrize("code", ["mEq/L", "uIU/mL", "x10^3/uL", "gm/dl", "mg%", "cells/cumm"])
def test_ucum_grammar_rejects_lab_spellings(code: str) -> None:
    assert not is_ucum(code)


def test_every_unit_in_the_data_is_ucum(kb: KnowledgeBase) -> None:
    units = {t.unit for t in kb.tests.values() if t.unit}
    units |= {u.unit for t in kb.tests.values() for u in t.units}
    units |= {u for t in kb.tests.values() for u in t.loinc_units}
    data = yaml.safe_load((KNOWLEDGE / "units.yaml").read_text(encoding="utf-8"))
    units |= set(data["spellings"].values())
    units |= {u for d in data["dimensions"].values() for u in d["units"]}
    assert sorted(u for u in units if not is_ucum(u)) == []


@pytest.mark.parametrize(
    "code", ["u[IU]/mL", "[IU]/L", "[IU]/mL", "m[IU]/L", "m[IU]/mL", "u[IU]/L"]
)
def test_ucum_units_read_as_themselves(code: str) -> None:
    assert UnitTable.load().to_ucum(code) == code


def test_tsh_in_ucum_international_units_is_accepted(kb: KnowledgeBase) -> None:
    assert kb.match("TSH", unit="u[IU]/mL").id == "tsh"  # type: ignore[union-attr]
    assert kb.convert("tsh", 2.0, "u[IU]/mL", "m[IU]/L") == pytest.approx(2.0)


# -- regional wording -----------------------------------------------------------------------

UK = [
    ("Serum urea", "", "mmol/L", "urea"),
    ("Urea", "", "mmol/L", "urea"),
    ("Adjusted calcium", "", "mmol/L", "calcium"),
    ("WCC", "", "10^9/L", "wbc"),
    ("Hb", "", "g/L", "hemoglobin"),
    ("Plt", "", "10^9/L", "platelets"),
    ("Neutrophils", "", "10^9/L", "neutrophils_abs"),
    ("Free thyroxine", "", "pmol/L", "free_t4"),
    ("Alk phos", "", "U/L", "alp"),
    ("Gamma GT", "", "U/L", "ggt"),
    ("HbA1c (IFCC)", "", "mmol/mol", "hba1c_ifcc"),
    ("HbA1c", "", "mmol/mol", "hba1c_ifcc"),
    ("Phosphate", "", "mmol/L", "phosphorus"),
    ("Total cholesterol:HDL ratio", "", "", "tc_hdl_ratio"),
    ("Urine PCR", "", "mg/mmol", "urine_pcr"),
    ("eGFR", "", "mL/min/1.73m2", "egfr"),
    ("K", "", "mmol/L", "potassium"),
    ("K+", "", "mmol/L", "potassium"),
    ("Na+", "", "mmol/L", "sodium"),
]
INDIA = [
    ("TLC", "", "/cumm", "wbc"),
    ("Total Leucocyte Count (TLC)", "", "/cumm", "wbc"),
    ("Haemoglobin (Hb)", "", "g/dL", "hemoglobin"),
    ("S. Creatinine", "", "mg/dL", "creatinine"),
    ("Sr. Creatinine", "", "mg/dL", "creatinine"),
    ("Blood Urea", "", "mg/dL", "urea"),
    ("PCV", "", "%", "hematocrit"),
    ("Polymorphs", "", "%", "neutrophils_pct"),
    ("SGPT", "", "U/L", "alt"),
    ("SGOT", "", "U/L", "ast"),
    ("Blood Sugar Fasting", "", "mg/dL", "glucose_fasting"),
    ("PPBS", "", "mg/dL", "glucose_pp"),
    ("S. Uric Acid", "", "mg/dL", "uric_acid"),
    ("Pus Cells", "URINE ROUTINE", "/hpf", "urine_wbc"),
    ("Absolute Eosinophil Count", "", "/cumm", "eosinophils_abs"),
    ("T. Protein", "", "g/dL", "total_protein"),
    ("Serum Bilirubin (Total)", "", "mg/dL", "bilirubin_total"),
]
US = [
    ("BUN", "", "mg/dL", "bun"),
    ("Glucose, Serum", "", "mg/dL", "glucose"),
    ("Carbon Dioxide, Total", "", "mmol/L", "bicarbonate"),
    ("eGFR If NonAfricn Am", "", "mL/min/1.73m2", "egfr"),
    ("LDL Chol Calc (NIH)", "", "mg/dL", "ldl"),
    ("Hemoglobin A1c", "", "%", "hba1c"),
    ("Basos", "", "%", "basophils_pct"),
    ("Lymphs (Absolute)", "", "x10E3/uL", "lymphocytes_abs"),
    ("Protein, Total", "", "g/dL", "total_protein"),
    ("A/G Ratio", "", "", "ag_ratio"),
    ("Vitamin D, 25-Hydroxy", "", "ng/mL", "vitamin_d"),
    ("T4, Free (Direct)", "", "ng/dL", "free_t4"),
    ("Globulin, Total", "", "g/dL", "globulin"),
]
SPANISH = [
    # hemograma
    ("Hemoglobina", "HEMOGRAMA", "g/dL", "hemoglobin"),
    ("Hematocrito", "HEMOGRAMA", "%", "hematocrit"),
    ("Hematíes", "HEMOGRAMA", "10^6/uL", "rbc"),
    ("VCM", "", "fL", "mcv"),
    ("HCM", "", "pg", "mch"),
    ("CHCM", "", "g/dL", "mchc"),
    ("ADE", "", "%", "rdw"),
    ("Leucocitos", "HEMOGRAMA", "10^3/uL", "wbc"),
    ("Neutrófilos", "", "%", "neutrophils_pct"),
    ("Neutrófilos", "", "10^3/uL", "neutrophils_abs"),
    ("Linfocitos", "", "%", "lymphocytes_pct"),
    ("Monocitos", "", "%", "monocytes_pct"),
    ("Eosinófilos", "", "%", "eosinophils_pct"),
    ("Basófilos", "", "%", "basophils_pct"),
    ("Plaquetas", "", "10^3/uL", "platelets"),
    ("VPM", "", "fL", "mpv"),
    ("VSG", "", "mm/h", "esr"),
    # bioquímica, renal, hepático
    ("Glucosa", "BIOQUÍMICA", "mg/dL", "glucose"),
    ("Glucosa basal", "", "mg/dL", "glucose_fasting"),
    ("Urea", "", "mg/dL", "urea"),
    ("Creatinina", "", "mg/dL", "creatinine"),
    ("Creatinina en suero", "", "mg/dL", "creatinine"),
    ("Ácido úrico", "", "mg/dL", "uric_acid"),
    ("Sodio", "", "mmol/L", "sodium"),
    ("Potasio", "", "mmol/L", "potassium"),
    ("Cloro", "", "mmol/L", "chloride"),
    ("Bicarbonato", "", "mmol/L", "bicarbonate"),
    ("Calcio", "", "mg/dL", "calcium"),
    ("Fósforo", "", "mg/dL", "phosphorus"),
    ("Magnesio", "", "mg/dL", "magnesium"),
    ("Proteínas totales", "", "g/dL", "total_protein"),
    ("Albúmina", "", "g/dL", "albumin"),
    ("Bilirrubina total", "", "mg/dL", "bilirubin_total"),
    ("Bilirrubina directa", "", "mg/dL", "bilirubin_direct"),
    ("GOT/AST", "", "U/L", "ast"),
    ("GPT/ALT", "", "U/L", "alt"),
    ("Fosfatasa alcalina", "", "U/L", "alp"),
    ("Gamma glutamil transferasa", "", "U/L", "ggt"),
    ("Lactato deshidrogenasa", "", "U/L", "ldh"),
    ("Filtrado glomerular estimado", "", "mL/min/1.73m2", "egfr"),
    ("Nitrógeno ureico", "", "mg/dL", "bun"),
    # lípidos
    ("Colesterol total", "", "mg/dL", "cholesterol_total"),
    ("Colesterol HDL", "", "mg/dL", "hdl"),
    ("Colesterol LDL", "", "mg/dL", "ldl"),
    ("Triglicéridos", "", "mg/dL", "triglycerides"),
    ("Trigliceridos", "", "mg/dL", "triglycerides"),
    ("Colesterol no HDL", "", "mg/dL", "non_hdl"),
    # tiroides, hierro, HbA1c, vitaminas, inflamación
    ("TSH", "", "uUI/mL", "tsh"),
    ("T4 libre", "", "ng/dL", "free_t4"),
    ("T3 libre", "", "pg/mL", "free_t3"),
    ("Hierro", "", "ug/dL", "iron"),
    ("Ferritina", "", "ng/mL", "ferritin"),
    ("Capacidad total de fijación de hierro", "", "ug/dL", "tibc"),
    ("Transferrina", "", "mg/dL", "transferrin"),
    ("Índice de saturación de transferrina", "", "%", "transferrin_saturation"),
    ("Hemoglobina glicada", "", "%", "hba1c"),
    ("Vitamina B12", "", "pg/mL", "vitamin_b12"),
    ("Ácido fólico", "", "ng/mL", "folate"),
    ("Vitamina D", "", "ng/mL", "vitamin_d"),
    ("Proteína C reactiva", "", "mg/L", "crp"),
    ("PCR", "", "mg/L", "crp"),
    # coagulación
    ("Tiempo de protrombina", "", "s", "pt"),
    ("INR", "", "", "inr"),
    ("TTPA", "", "s", "aptt"),
    ("Fibrinógeno", "", "mg/dL", "fibrinogen"),
    ("Dímero D", "", "ug/mL", "d_dimer"),
    # sistemático de orina
    ("Densidad", "SISTEMÁTICO DE ORINA", "", "urine_specific_gravity"),
    ("pH", "SISTEMÁTICO DE ORINA", "", "urine_ph"),
    ("Proteínas", "SISTEMÁTICO DE ORINA", "", "urine_protein"),
    ("Glucosa", "ORINA", "", "urine_glucose"),
    ("Glucosa en orina", "", "", "urine_glucose"),
    ("Cuerpos cetónicos", "ORINA", "", "urine_ketones"),
    ("Nitritos", "ORINA", "", "urine_nitrite"),
    ("Leucocitos", "ORINA", "", "urine_leukocyte_esterase"),
    ("Sangre", "ORINA", "", "urine_blood"),
    ("Bilirrubina", "ORINA", "", "urine_bilirubin"),
    ("Urobilinógeno", "ORINA", "", "urobilinogen"),
    ("Hematíes", "SEDIMENTO URINARIO", "", "urine_rbc"),
]


@pytest.mark.parametrize(
    ("printed", "section", "unit", "test_id"),
    [
        pytest.param(*case, id=f"{region}:{case[0]}:{case[1]}:{case[2]}")
        for region, cases in (("uk", UK), ("india", INDIA), ("us", US), ("es", SPANISH))
        for case in cases
    ],
)
def test_regional_wording_names_one_test(
    kb: KnowledgeBase, printed: str, section: str, unit: str, test_id: str
) -> None:
    found = kb.match(printed, section=section, unit=kb.to_ucum(unit) or unit)
    assert found is not None, printed
    assert found.id == test_id


def test_accents_are_folded_when_matching() -> None:
    assert normalize_name("Triglicéridos") == normalize_name("TRIGLICERIDOS") == "trigliceridos"
    assert normalize_name("Ácido Úrico") == "acido urico"
    assert normalize_name("Hematíes/campo") == "hematies campo"


def test_common_spanish_panels_are_covered(kb: KnowledgeBase) -> None:
    spanish_ids = {case[3] for case in SPANISH}
    for panel in kb.panels:
        if panel.id in {"cbc", "bmp", "lipid", "iron", "pt_panel", "hepatic"}:
            core = set(panel.members) - {"glucose_fasting", "urea", "bun", "ldl_direct", "uibc"}
            assert core <= spanish_ids, (panel.id, core - spanish_ids)


# -- urea and urea nitrogen -----------------------------------------------------------------


def test_urea_mmol_converts_to_bun_mg_dl(kb: KnowledgeBase) -> None:
    # BUN mg/dL = urea mmol/L x 2.8 (two N of 14.007 g/mol per urea)
    assert kb.convert_to_test("urea", 5.0, "mmol/L", "bun", "mg/dL") == pytest.approx(14.0, 0.01)
    assert kb.convert_to_test("bun", 14.0, "mg/dL", "urea", "mmol/L") == pytest.approx(5.0, 0.01)
    # urea mg/dL = BUN mg/dL x 2.14
    assert kb.convert_to_test("bun", 10.0, "mg/dL", "urea", "mg/dL") == pytest.approx(21.4, 0.01)
    assert kb.convert_to_test("urea", 5.0, "mmol/L", "creatinine", "mg/dL") is None


def test_uk_urea_in_mmol_is_urea_not_lost(kb: KnowledgeBase) -> None:
    test = kb.match("Serum urea", unit="mmol/L")
    assert test is not None and test.id == "urea"
    assert kb.accepts("urea", "mmol/L")
    assert kb.convert("urea", 5.0, "mmol/L", "mg/dL") == pytest.approx(30.03, 0.01)
    rng = kb.reference_range("urea", Sex.MALE, 40, unit="mmol/L")
    assert rng is not None and rng.low == pytest.approx(2.5, 0.01)


# -- LOINC by unit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "unit", "loinc"),
    [
        ("cholesterol_total", "mmol/L", "14647-2"),
        ("cholesterol_total", "mg/dL", "2093-3"),
        ("creatinine", "umol/L", "14682-9"),
        ("creatinine", "mmol/L", "14682-9"),
        ("creatinine", "mg/dL", "2160-0"),
        ("glucose", "mmol/L", "14749-6"),
        ("glucose_fasting", "mmol/L", "14771-0"),
        ("triglycerides", "mmol/L", "14927-8"),
        ("urea", "mmol/L", "22664-7"),
        ("bun", "mmol/L", "14937-7"),
        ("bilirubin_total", "umol/L", "14631-6"),
        ("calcium", "mmol/L", "2000-8"),
        ("ionized_calcium", "mg/dL", "17863-2"),
        ("sodium", "mmol/L", "2951-2"),
        ("hemoglobin", "mmol/L", "59260-0"),
        ("ferritin", "pmol/L", "14723-1"),
        ("lactate", "mg/dL", "14118-4"),
        ("pth", "pmol/L", "14866-8"),
        ("hemoglobin", "g/L", "718-7"),
    ],
)
def test_loinc_follows_the_unit(kb: KnowledgeBase, test_id: str, unit: str, loinc: str) -> None:
    assert kb.loinc_for(test_id, unit) == loinc


def test_loinc_for_an_unknown_test_is_none(kb: KnowledgeBase) -> None:
    assert kb.loinc_for("no_such_test", "mg/dL") is None


# -- panels ---------------------------------------------------------------------------------


def test_panels_found_from_the_tests_present(kb: KnowledgeBase) -> None:
    cbc = ["wbc", "rbc", "hemoglobin", "hematocrit", "platelets", "mcv"]
    assert [p.loinc for p in kb.panels_for(cbc)] == ["58410-2"]
    diff = [*cbc, "neutrophils_pct", "lymphocytes_pct"]
    assert [p.loinc for p in kb.panels_for(diff)] == ["57021-8"]
    lipid = ["cholesterol_total", "hdl", "triglycerides", "ldl"]
    assert [p.loinc for p in kb.panels_for(lipid)] == ["24331-1"]
    direct = ["cholesterol_total", "hdl", "triglycerides", "ldl_direct"]
    assert [p.loinc for p in kb.panels_for(direct)] == ["57698-3"]
    assert [p.loinc for p in kb.panels_for(["iron", "tibc", "ferritin"])] == ["50190-8"]
    assert [p.loinc for p in kb.panels_for(["pt", "inr"])] == ["34528-0"]
    assert kb.panels_for(["potassium"]) == []
    assert kb.panels_for(["iron", "ferritin"]) == []


# -- loader checks for the new fields --------------------------------------------------------

_HEADER = "sources: {tietz: Tietz 7th ed.}\ntests:\n"
_TEST = (
    "  - {{id: x, name: X, loinc: 718-7, unit: g/dL, source: {source}, "
    "loinc_units: {{mmol/L: {molar}}}}}\n"
)


def _data_dir(tmp_path: Path, tests: str, panels: str | None = None) -> Path:
    (tmp_path / "tests_x.yaml").write_text(_HEADER + tests)
    (tmp_path / "units.yaml").write_text((KNOWLEDGE / "units.yaml").read_text(encoding="utf-8"))
    if panels is not None:
        (tmp_path / "panels.yaml").write_text(panels)
    return tmp_path


def test_loader_rejects_an_unknown_source(tmp_path: Path) -> None:
    body = _TEST.format(source="nowhere", molar="14647-2")
    with pytest.raises(KnowledgeBaseError, match=r"tests_x\.yaml: test 'x': source 'nowhere'"):
        KnowledgeBase.load(data_dir=_data_dir(tmp_path, body))


def test_loader_rejects_a_wrong_unit_loinc(tmp_path: Path) -> None:
    body = _TEST.format(source="tietz", molar="14647-3")
    with pytest.raises(KnowledgeBaseError, match=r"LOINC 14647-3 for mmol/L"):
        KnowledgeBase.load(data_dir=_data_dir(tmp_path, body))


def test_loader_rejects_a_panel_of_unknown_tests(tmp_path: Path) -> None:
    body = _TEST.format(source="tietz", molar="14647-2")
    panels = "panels:\n  - {id: p, name: P, loinc: 58410-2, members: [x, y], min_members: 1}\n"
    with pytest.raises(KnowledgeBaseError, match=r"panel 'p': members \['y'\]"):
        KnowledgeBase.load(data_dir=_data_dir(tmp_path, body, panels))


def test_sources_are_read_per_test(tmp_path: Path) -> None:
    body = _TEST.format(source="tietz", molar="14647-2")
    data = read_tests(_data_dir(tmp_path, body))
    assert data.sources == {"x": "Tietz 7th ed."}
    kb = KnowledgeBase.load(data_dir=tmp_path)
    assert kb.source_of("x") == "Tietz 7th ed."
    assert kb.panels == ()


# -- Spanish result words, flags and range labels (qualitative.yaml) --------------------------


def test_spanish_urinalysis_words_are_read(kb: KnowledgeBase) -> None:
    from medflow.analyzers.labs.interpret import interpret
    from medflow.domain.labs import Flag, RawLabRow
    from medflow.domain.patient import PatientInfo

    section = "SISTEMÁTICO DE ORINA"
    rows = [
        RawLabRow(name="Proteínas", value_text="Negativo", section=section),
        RawLabRow(name="Nitritos", value_text="Positivo", section=section),
        RawLabRow(name="Aspecto", value_text="Turbio", section=section),
        RawLabRow(name="Color", value_text="Amarillo", section=section),
    ]
    results, unread = interpret(rows, PatientInfo(), kb)
    assert unread == []
    assert [(r.test_id, r.flag) for r in results] == [
        ("urine_protein", Flag.NORMAL),
        ("urine_nitrite", Flag.ABNORMAL),
        ("urine_appearance", Flag.ABNORMAL),
        ("urine_color", Flag.NORMAL),
    ]


def test_spanish_flags_and_range_labels_are_read(kb: KnowledgeBase) -> None:
    from medflow.analyzers.labs.interpret import interpret
    from medflow.analyzers.labs.vocabulary import default_vocabulary
    from medflow.domain.labs import RawLabRow
    from medflow.domain.patient import PatientInfo

    vocabulary = default_vocabulary()
    assert (vocabulary.flag("Alto"), vocabulary.flag("Bajo")) == ("H", "L")
    rows = [
        RawLabRow(
            name="Hemoglobina",
            value_text="12.5",
            unit_text="g/dL",
            range_text="Hombres: 13.5-17.5 Mujeres: 12.0-15.5",
        ),
        RawLabRow(
            name="Colesterol total",
            value_text="190",
            unit_text="mg/dL",
            range_text="Deseable: <200 Límite alto: 200-239",
        ),
    ]
    results, _ = interpret(rows, PatientInfo(sex=Sex.FEMALE), kb)
    hb, chol = results
    assert hb.reference_range is not None and hb.reference_range.low == 12.0
    assert chol.reference_range is not None and chol.reference_range.high == 200.0


@pytest.mark.parametrize(
    ("printed", "ucum"),
    [
        ("µUI/mL", "u[IU]/mL"),
        ("mUI/L", "m[IU]/L"),
        ("UI/L", "U/L"),
        ("seg", "s"),
        ("mil/µL", "10*3/uL"),
        ("millones/µL", "10*6/uL"),
        ("por campo", "/[HPF]"),
    ],
)
def test_spanish_unit_spellings(printed: str, ucum: str) -> None:
    assert UnitTable.load().to_ucum(printed) == ucum


def test_a_panel_is_not_claimed_without_its_required_tests(kb: KnowledgeBase) -> None:
    # electrolytes, creatinine and phosphate without urea/BUN: neither a BMP nor a renal panel
    partial = ["glucose", "sodium", "potassium", "chloride", "bicarbonate", "creatinine"]
    assert kb.panels_for([*partial, "phosphorus"]) == []
    assert [p.id for p in kb.panels_for([*partial, "phosphorus", "bun", "calcium"])] == ["renal"]
    # total cholesterol, triglycerides and LDL without HDL is not a lipid panel
    assert kb.panels_for(["cholesterol_total", "triglycerides", "ldl", "tc_hdl_ratio"]) == []


@pytest.mark.parametrize(
    ("name", "value", "unit", "sex"),
    [
        ("Beta hCG", "85000", "mIU/mL", Sex.FEMALE),  # pregnancy
        ("CA 19-9", "12000", "U/mL", Sex.MALE),
        ("Prolactin", "4200", "ng/mL", Sex.FEMALE),
        ("Ethanol", "310", "mg/dL", Sex.MALE),
        ("IgA", "5", "mg/dL", Sex.MALE),  # IgA deficiency
        ("Myoglobin", "25000", "ng/mL", Sex.MALE),
    ],
)
def test_new_tests_far_outside_their_range_are_findings_not_misreads(
    kb: KnowledgeBase, name: str, value: str, unit: str, sex: Sex
) -> None:
    from medflow.analyzers.labs.interpret import interpret
    from medflow.domain.labs import RawLabRow, Significance
    from medflow.domain.patient import PatientInfo

    row = RawLabRow(name=name, value_text=value, unit_text=unit)
    results, unread = interpret([row], PatientInfo(sex=sex, age=40), kb)
    assert unread == []
    (result,) = results
    assert result.significance in {Significance.SIGNIFICANT, Significance.CRITICAL}
    assert result.review_reason == ""


def test_a_knowledge_base_range_names_its_cited_source(kb: KnowledgeBase) -> None:
    from medflow.analyzers.labs.interpret import interpret
    from medflow.domain.labs import RawLabRow
    from medflow.domain.patient import PatientInfo

    assert kb.get("ferritin").source == kb.source_of("ferritin")  # the citation, not its key
    row = RawLabRow(name="Ferritina", value_text="40", unit_text="ng/mL")
    (result,), _ = interpret([row], PatientInfo(sex=Sex.FEMALE, age=30), kb)
    assert result.reference_range is not None
    assert result.reference_range.source == "knowledge_base"
    assert "WHO guideline on the use of ferritin" in result.reference_range.source_detail
