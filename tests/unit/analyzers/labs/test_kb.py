"""The knowledge base: data-file integrity, name matching, conversions, ranges, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from medflow.analyzers.labs.kb import KnowledgeBase, default_kb, normalize_name
from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.analyzers.labs.kb_models import is_valid_loinc, loinc_check_digit
from medflow.analyzers.labs.values import parse_range
from medflow.domain.patient import Sex

KNOWLEDGE = Path(__file__).parents[4] / "src/medflow/analyzers/labs/knowledge"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return default_kb()


# -- integrity of the data files ------------------------------------------------------------


def test_at_least_100_tests(kb: KnowledgeBase) -> None:
    assert len(kb.tests) >= 100


@pytest.mark.parametrize(("number", "check"), [("718", 7), ("2160", 0), ("4548", 4), ("98979", 8)])
def test_loinc_check_digit_algorithm(number: str, check: int) -> None:
    assert loinc_check_digit(number) == check


def test_every_loinc_has_a_valid_check_digit(kb: KnowledgeBase) -> None:
    bad = [t.id for t in kb.tests.values() if not is_valid_loinc(t.loinc)]
    assert bad == []
    assert not is_valid_loinc("718-8")
    assert not is_valid_loinc("718")


def test_loinc_codes_are_unique(kb: KnowledgeBase) -> None:
    codes = [t.loinc for t in kb.tests.values()]
    assert len(codes) == len(set(codes))


def test_every_alias_maps_to_exactly_one_test(kb: KnowledgeBase) -> None:
    owners: dict[str, set[str]] = {}
    for test in kb.tests.values():
        for alias in (test.name, *test.aliases):
            owners.setdefault(normalize_name(alias).replace(" ", ""), set()).add(test.id)
    assert {a: o for a, o in owners.items() if len(o) > 1} == {}
    for test in kb.tests.values():
        for alias in (test.name, *test.aliases):
            for unit in (test.unit, ""):
                found = kb.match(alias, unit=unit)
                assert found is not None
                assert found.id == test.id, (alias, unit, found.id)


def test_every_range_has_low_below_high(kb: KnowledgeBase) -> None:
    for test in kb.tests.values():
        for spec in test.ranges:
            rng = parse_range(spec.range)
            assert rng is not None, (test.id, spec.range)
            if rng.low is not None and rng.high is not None:
                assert rng.low < rng.high, (test.id, spec.range)


def test_every_critical_limit_lies_outside_the_normal_range(kb: KnowledgeBase) -> None:
    checked = 0
    for test in kb.tests.values():
        if test.critical is None:
            continue
        for spec in test.ranges:
            rng = parse_range(spec.range)
            assert rng is not None
            if test.critical.low is not None and rng.low is not None:
                assert test.critical.low < rng.low, test.id
                checked += 1
            if test.critical.high is not None and rng.high is not None:
                assert test.critical.high > rng.high, test.id
                checked += 1
    assert checked > 30


def test_every_unit_is_known_to_the_unit_table(kb: KnowledgeBase) -> None:
    for test in kb.tests.values():
        if test.unit:
            assert kb.units.is_known(test.unit), (test.id, test.unit)


def _write_minimal(tmp_path: Path, body: str) -> Path:
    (tmp_path / "units.yaml").write_text((KNOWLEDGE / "units.yaml").read_text())
    (tmp_path / "tests_x.yaml").write_text(body)
    return tmp_path


def test_loader_rejects_unknown_keys(tmp_path: Path) -> None:
    body = "tests:\n  - {id: na, name: Sodium, loinc: 2951-2, unit: mmol/L, colour: blue}\n"
    with pytest.raises(KnowledgeBaseError, match=r"tests_x\.yaml.*colour"):
        KnowledgeBase.load(data_dir=_write_minimal(tmp_path, body))


def test_loader_rejects_a_wrong_check_digit(tmp_path: Path) -> None:
    body = "tests:\n  - {id: na, name: Sodium, loinc: 2951-3, unit: mmol/L}\n"
    with pytest.raises(KnowledgeBaseError, match="check digit"):
        KnowledgeBase.load(data_dir=_write_minimal(tmp_path, body))


def test_loader_rejects_a_duplicate_alias(tmp_path: Path) -> None:
    body = (
        "tests:\n"
        "  - {id: na, name: Sodium, loinc: 2951-2, unit: mmol/L, aliases: [Na]}\n"
        "  - {id: k, name: Potassium, loinc: 2823-3, unit: mmol/L, aliases: [NA]}\n"
    )
    with pytest.raises(KnowledgeBaseError, match="also names"):
        KnowledgeBase.load(data_dir=_write_minimal(tmp_path, body))


def test_loader_rejects_an_inverted_range(tmp_path: Path) -> None:
    body = (
        "tests:\n  - {id: na, name: Sodium, loinc: 2951-2, unit: mmol/L,"
        ' ranges: [{range: "145-135"}]}\n'
    )
    with pytest.raises(KnowledgeBaseError, match="low >= high"):
        KnowledgeBase.load(data_dir=_write_minimal(tmp_path, body))


def test_loader_rejects_a_critical_limit_inside_the_range(tmp_path: Path) -> None:
    body = (
        "tests:\n  - {id: na, name: Sodium, loinc: 2951-2, unit: mmol/L,"
        ' ranges: [{range: "135-145"}], critical: {low: 136}}\n'
    )
    with pytest.raises(KnowledgeBaseError, match="critical low"):
        KnowledgeBase.load(data_dir=_write_minimal(tmp_path, body))


# -- matching printed names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "test_id"),
    [
        ("Haemoglobin", "hemoglobin"),
        ("Hb", "hemoglobin"),
        ("HGB", "hemoglobin"),
        ("Total Leucocyte Count", "wbc"),
        ("TLC", "wbc"),
        ("W.B.C.", "wbc"),
        ("Packed Cell Volume", "hematocrit"),
        ("S. Creatinine", "creatinine"),
        ("S.Creatinine", "creatinine"),
        ("Creatinine, Serum", "creatinine"),
        ("Creatinine (Jaffe)", "creatinine"),
        ("SGPT", "alt"),
        ("ALT (SGPT)", "alt"),
        ("Serum Glutamic Pyruvic Transaminase", "alt"),
        ("SGOT", "ast"),
        ("Alk. Phosphatase", "alp"),
        ("Gamma GT", "ggt"),
        ("T. Bilirubin", "bilirubin_total"),
        ("Thyroid Stimulating Hormone", "tsh"),
        ("TSH (Ultrasensitive)", "tsh"),
        ("Free T4", "free_t4"),
        ("Urea", "urea"),
        ("Blood Urea", "urea"),
        ("BUN", "bun"),
        ("Blood Urea Nitrogen", "bun"),
        ("Fasting Blood Sugar", "glucose_fasting"),
        ("Glucose (Fasting)", "glucose_fasting"),
        ("PPBS", "glucose_pp"),
        ("Random Blood Sugar", "glucose"),
        ("Hb A1c", "hba1c"),
        ("Glycosylated Haemoglobin", "hba1c"),
        ("Cholesterol, Total", "cholesterol_total"),
        ("HDL-C", "hdl"),
        ("Lp(a)", "lpa"),
        ("25(OH)D", "vitamin_d"),
        ("Vit. B12", "vitamin_b12"),
        ("hs-CRP", "hs_crp"),
        ("C-Reactive Protein", "crp"),
        ("PT-INR", "inr"),
        ("Ca++", "ionized_calcium"),
        ("Calcium", "calcium"),
        ("Na+", "sodium"),
        ("NT-proBNP", "nt_probnp"),
        ("Anti-TPO", "anti_tpo"),
        ("HBsAg", "hbsag"),
        ("HIV 1/2 Ag/Ab Screen", "hiv"),
        ("HIV I & II Antibody", "hiv"),
        ("Iron Total", "iron"),
        ("Cortisol (9am)", "cortisol"),
        ("ASO Titre", "aso"),
        ("RA Factor", "rheumatoid_factor"),
    ],
)
def test_alias_families(kb: KnowledgeBase, printed: str, test_id: str) -> None:
    found = kb.match(printed)
    assert found is not None
    assert found.id == test_id


@pytest.mark.parametrize(
    ("printed", "section", "test_id"),
    [
        ("Glucose", "URINE ROUTINE EXAMINATION", "urine_glucose"),
        ("Glucose", "BIOCHEMISTRY", "glucose"),
        ("Glucose", "FASTING BLOOD SUGAR", "glucose_fasting"),
        ("Protein", "Urinalysis", "urine_protein"),
        ("Protein", "LIVER FUNCTION TEST", "total_protein"),
        ("Albumin", "URINE ROUTINE", "urine_protein"),
        ("Creatinine", "Urine", "urine_creatinine"),
        ("RBC", "URINE MICROSCOPY", "urine_rbc"),
        ("RBC", "COMPLETE BLOOD COUNT", "rbc"),
        ("Pus Cells", "URINE", "urine_wbc"),
        ("pH", "Urine Examination", "urine_ph"),
        ("Specific Gravity", "", "urine_specific_gravity"),
        ("Colour", "URINE ROUTINE", "urine_color"),
        ("Leucocytes", "Urinalysis", "urine_leukocyte_esterase"),
    ],
)
def test_section_breaks_ties(kb: KnowledgeBase, printed: str, section: str, test_id: str) -> None:
    found = kb.match(printed, section=section)
    assert found is not None
    assert found.id == test_id


@pytest.mark.parametrize(
    ("printed", "unit", "test_id"),
    [
        ("Neutrophils", "%", "neutrophils_pct"),
        ("Neutrophils", "/cumm", "neutrophils_abs"),
        ("Neutrophils", "x10^9/L", "neutrophils_abs"),
        ("Lymphocytes", "10^3/uL", "lymphocytes_abs"),
        ("Eosinophils", "%", "eosinophils_pct"),
        ("HbA1c", "%", "hba1c"),
        ("HbA1c", "mmol/mol", "hba1c_ifcc"),
        ("Troponin I", "ng/mL", "troponin_i"),
        ("Troponin I", "ng/L", "troponin_i_hs"),
        ("Urine Leucocytes", "/hpf", "urine_wbc"),
    ],
)
def test_unit_breaks_ties(kb: KnowledgeBase, printed: str, unit: str, test_id: str) -> None:
    found = kb.match(printed, unit=unit)
    assert found is not None
    assert found.id == test_id


def test_unknown_name_is_none(kb: KnowledgeBase) -> None:
    assert kb.match("Epithelial Cells") is None
    assert kb.match("") is None


# -- conversions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "value", "src", "dst", "expected"),
    [
        ("glucose", 5.5, "mmol/L", "mg/dL", 99.09),
        ("glucose", 126.0, "mg/dL", "mmol/L", 6.99),
        ("creatinine", 88.42, "umol/L", "mg/dL", 1.0),
        ("creatinine", 1.0, "mg/dL", "umol/L", 88.42),
        ("hemoglobin", 135.0, "g/L", "g/dL", 13.5),
        ("hemoglobin", 8.4, "mmol/L", "g/dL", 13.53),
        ("hba1c", 48.0, "mmol/mol", "%", 6.543),
        ("hba1c_ifcc", 6.5, "%", "mmol/mol", 47.51),
        ("platelets", 2.5, "10*5/uL", "10*3/uL", 250.0),
        ("wbc", 7500.0, "/uL", "10*3/uL", 7.5),
        ("rbc", 4.5, "10*12/L", "10*6/uL", 4.5),
        ("sodium", 140.0, "meq/L", "mmol/L", 140.0),
        ("cholesterol_total", 5.17, "mmol/L", "mg/dL", 199.9),
        ("triglycerides", 1.7, "mmol/L", "mg/dL", 150.6),
        ("vitamin_d", 50.0, "nmol/L", "ng/mL", 20.03),
        ("calcium", 2.5, "mmol/L", "mg/dL", 10.02),
        ("tsh", 2.0, "u[IU]/mL", "m[IU]/L", 2.0),
        ("glucose", 5500.0, "umol/L", "mg/dL", 99.09),
    ],
)
def test_unit_conversions(
    kb: KnowledgeBase, test_id: str, value: float, src: str, dst: str, expected: float
) -> None:
    assert kb.convert(test_id, value, src, dst) == pytest.approx(expected, rel=1e-3)


def test_inconvertible_units_give_none(kb: KnowledgeBase) -> None:
    assert kb.convert("hemoglobin", 13.0, "%", "g/dL") is None
    assert not kb.accepts("neutrophils_pct", "10*3/uL")


# -- ranges, critical limits and overrides --------------------------------------------------


def test_sex_specific_kb_ranges(kb: KnowledgeBase) -> None:
    male = kb.reference_range("hemoglobin", Sex.MALE, 40)
    female = kb.reference_range("hemoglobin", Sex.FEMALE, 40)
    anyone = kb.reference_range("hemoglobin", Sex.UNKNOWN, 40)
    assert male is not None
    assert female is not None
    assert anyone is not None
    assert (male.low, male.high) == (13.5, 17.5)
    assert (female.low, female.high) == (12.0, 15.5)
    assert (anyone.low, anyone.high) == (12.0, 17.5)
    assert male.source == "knowledge_base"


def test_age_banded_kb_ranges(kb: KnowledgeBase) -> None:
    young = kb.reference_range("esr", Sex.FEMALE, 30)
    old = kb.reference_range("esr", Sex.FEMALE, 70)
    assert young is not None
    assert old is not None
    assert (young.high, old.high) == (20.0, 30.0)


def test_kb_range_converted_into_the_printed_unit(kb: KnowledgeBase) -> None:
    rng = kb.reference_range("glucose_fasting", Sex.MALE, 50, unit="mmol/L")
    assert rng is not None
    assert rng.low == pytest.approx(3.885, rel=1e-3)
    assert rng.high == pytest.approx(5.495, rel=1e-3)
    chol = kb.reference_range("cholesterol_total", Sex.MALE, 50, unit="mmol/L")
    assert chol is not None
    assert chol.text.startswith("<5.17")


def test_critical_limits_in_another_unit(kb: KnowledgeBase) -> None:
    low, high = kb.critical_limits("glucose", "mmol/L")
    assert low == pytest.approx(2.775, rel=1e-3)
    assert high == pytest.approx(22.2, rel=1e-3)
    assert kb.critical_limits("mcv") == (None, None)


def test_lab_override_replaces_ranges_limits_and_margin() -> None:
    lab = KnowledgeBase.load(
        {
            "lab": "Acme Diagnostics",
            "tests": {
                "hemoglobin": {
                    "ranges": [{"sex": "male", "range": "13.0-17.0"}],
                    "critical": {"low": 6.5, "high": 21.0},
                    "noise_margin": 0.05,
                },
                "glucose": {"unit": "mmol/L", "critical": {"low": 2.5, "high": 25.0}},
            },
        }
    )
    assert lab.lab_name == "Acme Diagnostics"
    rng = lab.reference_range("hemoglobin", Sex.MALE, 40)
    assert rng is not None
    assert (rng.low, rng.high, rng.source) == (13.0, 17.0, "lab_config")
    assert lab.critical_limits("hemoglobin") == (6.5, 21.0)
    assert lab.noise_margin("hemoglobin") == 0.05
    low, _ = lab.critical_limits("glucose", "mg/dL")
    assert low == pytest.approx(45.04, rel=1e-3)
    # untouched tests keep the knowledge base's values
    assert default_kb().critical_limits("hemoglobin") == (7.0, 20.0)


def test_lab_override_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text('lab: Acme\ntests:\n  potassium:\n    ranges: [{range: "3.6-5.2"}]\n')
    rng = KnowledgeBase.load(path).reference_range("potassium", Sex.FEMALE, 30)
    assert rng is not None
    assert (rng.low, rng.high) == (3.6, 5.2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tests": {"unobtainium": {"noise_margin": 0.1}}}, "no such test"),
        ({"tests": {"sodium": {"colour": "blue"}}}, "colour"),
        ({"tests": {"sodium": {"critical": {"low": 140}}}}, "critical low"),
        ({"tests": {"sodium": {"unit": "g/dL", "noise_margin": 0.1}}}, "does not convert"),
    ],
)
def test_invalid_overrides_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(KnowledgeBaseError, match=message):
        KnowledgeBase.load(overrides)


def test_missing_override_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match=r"nope\.yaml"):
        KnowledgeBase.load(tmp_path / "nope.yaml")
