"""Header-driven columns, printed flags, leaders, unread lines, and the randomised layouts."""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import pytest
from tests.fixtures.labs import labs_testkit as KIT

from medflow.analyzers.labs.columns import read_table_header, split_value
from medflow.analyzers.labs.parser import LabDocument, parse_pages, read_lab_document
from medflow.analyzers.labs.rows import holds_number, parse_line
from medflow.analyzers.labs.values import normalize_flag, parse_value
from medflow.analyzers.labs.words import Line, PageText, Word

CHAR = 5.0


def _randomized() -> ModuleType:
    module: ModuleType = KIT.randomized()
    return module


@cache
def _report(seed: int) -> tuple[LabDocument, dict[str, Any]]:
    pdf, truth = KIT.random_report(seed)
    return read_lab_document(pdf, f"random-{seed}.pdf", ocr=False), truth


def cells(*texts: tuple[float, str], top: float = 100.0) -> Line:
    """A line whose cells start at the given x positions (CHAR points per character)."""
    words: list[Word] = []
    for x0, text in texts:
        x = x0
        for w in text.split():
            words.append(Word(w, x, top, x + CHAR * len(w), top + 10))
            x += CHAR * (len(w) + 1)
    return Line(sorted(words, key=lambda w: w.x0))


def page(*lines: Line) -> PageText:
    return PageText(1, 600, 800, list(lines))


def _row_tuple(r: Any) -> tuple[str, str, str, str, str]:
    return (r.name, r.value_text, r.unit_text, r.range_text, r.flag_text)


def _truth_tuple(t: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (t["name"], t["value_text"], t["unit_text"], t["range_text"], t["printed_flag"])


# ------------------------------------------------------------------ column-order families


@pytest.mark.parametrize("family_index", range(10))
def test_each_generated_layout_family_is_read_exactly(family_index: int) -> None:
    family = _randomized().FAMILIES[family_index]
    for seed in (family_index, family_index + 10):  # two designs per family
        doc, truth = _report(seed)
        assert truth["family"] == family
        assert [_row_tuple(r) for r in doc.rows] == [_truth_tuple(t) for t in truth["rows"]]


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        (  # range before value, flag last
            [(40, "Analyte"), (200, "Reference"), (300, "Result"), (380, "Units"), (450, "Flag")],
            [(40, "Glucose"), (200, "3.9 - 5.5"), (300, "6.6"), (380, "mmol/L"), (450, "↑")],
            ("Glucose", "6.6", "mmol/L", "3.9 - 5.5", "H"),
        ),
        (  # unit before value
            [(40, "Test"), (200, "Units"), (300, "Result"), (380, "Normal Range")],
            [(40, "Ferritin"), (200, "ng/mL"), (300, "18"), (380, "30-400")],
            ("Ferritin", "18", "ng/mL", "30-400", ""),
        ),
        (  # flag before value, Spanish header
            [
                (40, "Prueba"),
                (200, "Alerta"),
                (260, "Resultado"),
                (340, "Unidades"),
                (420, "Valores de referencia"),
            ],
            [(40, "Glucosa"), (200, "Alto"), (260, "126"), (340, "mg/dL"), (420, "70 - 100")],
            ("Glucosa", "126", "mg/dL", "70 - 100", "H"),
        ),
        (  # value and unit in one cell
            [(40, "Parameter"), (200, "Value"), (320, "Biological Reference Interval")],
            [(40, "TSH"), (200, "6.5 mIU/L"), (320, "0.4 - 4.0")],
            ("TSH", "6.5", "mIU/L", "0.4 - 4.0", ""),
        ),
        (  # split Low/High columns: read as the range; their numbers stay out of the unit
            [
                (40, "Test"),
                (200, "Result"),
                (260, "Units"),
                (330, "Low"),
                (380, "High"),
                (430, "Flag"),
            ],
            [(40, "TSH"), (200, "6.5"), (260, "mIU/L"), (330, "0.4"), (380, "4"), (430, "H")],
            ("TSH", "6.5", "mIU/L", "0.4 - 4", "H"),
        ),
        (  # one-letter name, negative range
            [(40, "Test"), (200, "Result"), (260, "Units"), (330, "Reference Range")],
            [(40, "K"), (200, "4.1"), (260, "mmol/L"), (330, "3.5 - 5.1")],
            ("K", "4.1", "mmol/L", "3.5 - 5.1", ""),
        ),
        (
            [(40, "Test"), (200, "Result"), (260, "Units"), (330, "Reference Range")],
            [(40, "Base Excess"), (200, "-2.9"), (260, "mmol/L"), (330, "-2.0 - 3.0")],
            ("Base Excess", "-2.9", "mmol/L", "-2.0 - 3.0", ""),
        ),
    ],
)
def test_cells_are_read_by_their_header_whatever_the_order(
    header: list[tuple[float, str]],
    row: list[tuple[float, str]],
    expected: tuple[str, ...],
) -> None:
    parsed = parse_pages([page(cells(*header, top=100), cells(*row, top=120))])
    assert [_row_tuple(r) for r in parsed.rows] == [expected]
    assert parsed.unread == []


def test_range_column_first_number_is_never_the_value() -> None:
    # no header: the row grammar skips a spaced range printed before the value
    line = cells((40, "Glucose 70 - 110 95 mg/dL"))
    parts = parse_line(line)
    assert parts is not None
    assert (parts.value_text, parts.range_text, parts.unit_text) == ("95", "70 - 110", "mg/dL")


def test_header_words_in_several_languages_make_a_table() -> None:
    for words in (
        [
            (40, "Investigation"),
            (200, "Observed Value"),
            (300, "Unit"),
            (360, "Biological Reference Interval"),
        ],
        [(40, "Examen"), (200, "Resultado"), (300, "Unidad"), (360, "Rango")],
        [(40, "Test"), (200, "12/03/2026"), (260, "05/01/2026"), (330, "Units")],
    ):
        tables = read_table_header(cells(*words), 600)
        assert tables is not None
        assert len(tables) == 1
    assert read_table_header(cells((40, "Patient Name: Alex")), 600) is None
    assert read_table_header(cells((40, "Hemoglobin"), (200, "13.5")), 600) is None


def test_two_tables_side_by_side_each_get_their_columns() -> None:
    header = cells(
        (40, "Test"),
        (120, "Result"),
        (170, "Units"),
        (320, "Test"),
        (400, "Result"),
        (450, "Units"),
    )
    tables = read_table_header(header, 600)
    assert tables is not None
    assert [t.columns[0].x0 for t in tables] == [40, 320]


def test_cumulative_report_reads_the_most_recent_date_and_keeps_the_others() -> None:
    header = cells(
        (40, "Test"), (200, "15/02/2026"), (270, "08/03/2026"), (340, "03/04/2026"), (420, "Units")
    )
    row = cells((40, "Sodium"), (200, "139"), (270, "141"), (340, "133 L"), (420, "mmol/L"))
    parsed = parse_pages([page(header, row.__class__(row.words))])
    assert [(r.name, r.value_text, r.flag_text) for r in parsed.rows] == [("Sodium", "133", "L")]
    assert [(e.date, e.value_text) for e in parsed.earlier[0]] == [
        ("15/02/2026", "139"),
        ("08/03/2026", "141"),
    ]


# ------------------------------------------------------------------ printed flags


@pytest.mark.parametrize(
    ("printed", "normal"),
    [
        ("H", "H"),
        ("L", "L"),
        ("High", "H"),
        ("LOW", "L"),
        ("Alto", "H"),
        ("Bajo", "L"),
        ("↑", "H"),
        ("↓", "L"),
        ("[↑]", "H"),
        ("[↓]", "L"),
        ("[H]", "H"),
        ("(L)", "L"),
        ("*", "*"),
        ("[*]", "*"),
        ("**", "**"),
        ("HH", "HH"),
        ("LL", "LL"),
        ("↑↑", "HH"),
        ("H*", "HH"),
        ("Critical High", "HH"),
        ("CRIT", "C"),
        ("mg/dL", ""),
    ],
)
def test_printed_flags_are_normalised(printed: str, normal: str) -> None:
    assert normalize_flag(printed) == normal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6.6 ↑", ("6.6", "H", "")),
        ("↑ 6.6", ("6.6", "H", "")),
        ("6.6↑", ("6.6", "H", "")),
        ("[↑] 6.6", ("6.6", "H", "")),
        ("6.6 [H]", ("6.6", "H", "")),
        ("6.6*", ("6.6", "*", "")),
        ("6.6 [*]", ("6.6", "*", "")),
        ("7.1 HH", ("7.1", "HH", "")),
        ("High 7.1", ("7.1", "H", "")),
        ("5.4 mmol/L", ("5.4", "", "mmol/L")),
        ("5.4mmol/L", ("5.4", "", "mmol/L")),
        ("< 0.5", ("<0.5", "", "")),
    ],
)
def test_result_cells_split_into_value_flag_and_unit(
    text: str, expected: tuple[str, str, str]
) -> None:
    found = split_value(text)
    assert found is not None
    assert found[:3] == expected


def test_a_printed_hh_stays_hh_on_a_row() -> None:
    parts = parse_line(cells((40, "Potassium 6.9 HH mmol/L 3.5-5.1")))
    assert parts is not None
    assert parts.flag_text == "HH"


# ------------------------------------------------------------------ leaders, names, ranges


def test_dotted_leaders_are_read() -> None:
    parsed = parse_pages(
        [
            page(
                cells((40, "Ferritin ........ 18 ng/mL ........ 30-400"), top=100),
                cells((40, "Iron............. 67 ug/dL ......... 60-170"), top=116),
            )
        ]
    )
    assert [_row_tuple(r) for r in parsed.rows] == [
        ("Ferritin", "18", "ng/mL", "30-400", ""),
        ("Iron", "67", "ug/dL", "60-170", ""),
    ]


@pytest.mark.parametrize(
    ("glued", "value", "unit"),
    [("3%", "3", "%"), ("12.2fL", "12.2", "fL"), ("0.6mg/dL", "0.6", "mg/dL")],
)
def test_a_unit_ocr_glued_to_the_value_is_split_on_a_row_without_header(
    glued: str, value: str, unit: str
) -> None:
    # a scanned leaders row: the leaders whitened, the space before the unit read as none
    parsed = parse_pages([page(cells((40, "Monocytes"), (200, glued), (330, "2-10")))])
    assert [_row_tuple(r) for r in parsed.rows] == [("Monocytes", value, unit, "2-10", "")]


def test_a_number_glued_to_a_word_that_is_no_unit_stays_whole() -> None:
    parsed = parse_pages([page(cells((40, "Monocytes"), (200, "3xy"), (330, "2-10")))])
    assert parsed.rows == []
    assert [u.text for u in parsed.unread] == ["Monocytes 3xy 2-10"]


@pytest.mark.parametrize("name", ["K", "K+", "Na"])
def test_one_letter_and_ion_names_are_read(name: str) -> None:
    parts = parse_line(cells((40, f"{name} 4.1 mmol/L 3.5-5.1")))
    assert parts is not None
    assert (parts.name, parts.value_text) == (name, "4.1")


def test_negative_values_and_ranges_are_read() -> None:
    parts = parse_line(cells((40, "Base Excess -2.9 mmol/L -2.0 - 3.0")))
    assert parts is not None
    assert (parts.value_text, parts.range_text) == ("-2.9", "-2.0 - 3.0")
    value = parse_value("-2.9")
    assert value is not None
    assert value.number == -2.9


# ------------------------------------------------------------------ nothing vanishes


def test_lines_with_numbers_that_are_not_rows_are_kept_as_unread() -> None:
    header = cells((40, "Test"), (200, "Result"), (260, "Units"), (330, "Reference Range"))
    parsed = parse_pages(
        [
            page(
                header,
                cells((40, "Sodium"), (200, "140"), (260, "mmol/L"), (330, "136-145"), top=120),
                cells((40, "Glucose random see note 6.6"), top=140),
                cells((260, "6.6"), top=160),
                cells((40, "Page 1 of 2"), top=180),
                cells((40, "Reported: 2026-03-01 10:42"), top=200),
            )
        ]
    )
    assert [r.name for r in parsed.rows] == ["Sodium"]
    assert [u.text for u in parsed.unread] == ["Glucose random see note 6.6", "6.6"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Glucose 6.6 mmol/L", True),
        ("K 4.1", True),
        ("Page 1 of 2", False),
        ("Collected 2026-04-21 08:30", False),
        ("Tel: +91 11 5550 8822", False),
        ("Vitamin B12", False),
    ],
)
def test_holds_number_ignores_dates_pages_and_phones(text: str, number: bool) -> None:
    assert holds_number(cells((40, text))) is number


def test_no_generated_row_vanishes() -> None:
    """Over a modest randomised set (every family), each printed row is read or kept as
    unread text — never dropped silently."""
    for seed in range(100, 130):
        doc, truth = _report(seed)
        read = {(r.name, r.value_text) for r in doc.rows}
        unread = " ".join(u.text for u in doc.unread)
        for t in truth["rows"]:
            assert (t["name"], t["value_text"]) in read or t["value_text"] in unread, (seed, t)


def test_unread_lines_reach_the_report_as_unrecognised_rows_with_their_text() -> None:
    """The reader's unread lines (``UnreadLine``) become unrecognised rows that keep the line's
    text, name, place and section, so the summary can count and screen them."""
    from medflow.analyzers.labs.analyzer import LabAnalyzer, document_unread
    from medflow.analyzers.labs.header import ReportHeader
    from medflow.analyzers.labs.parser import UnreadLine
    from medflow.domain.labs import BBox, ExtractionInfo, RawLabRow
    from medflow.domain.patient import PatientInfo, Sex

    box = BBox(page=1, x0=40, top=140, x1=200, bottom=150)
    doc = LabDocument(
        rows=[RawLabRow(name="Sodium", value_text="140", unit_text="mmol/L", range_text="136-145")],
        extraction=ExtractionInfo(pages=1, text_pages=1),
        header=ReportHeader(),
        unread=(UnreadLine("Glucose random ↑ 6.6 mmol/L", 1, box, "CHEMISTRY", False),),
    )
    [row] = document_unread(doc)
    assert (row.name, row.line, row.section, row.bbox) == (
        "Glucose random",
        "Glucose random ↑ 6.6 mmol/L",
        "CHEMISTRY",
        box,
    )
    report = LabAnalyzer().interpret(
        doc.rows, PatientInfo(sex=Sex.FEMALE, age=40), unread=document_unread(doc)
    )
    assert [r.line for r in report.unrecognized] == ["Glucose random ↑ 6.6 mmol/L"]
    assert not report.summary.complete
    assert "within their reference ranges" not in report.summary.headline


@pytest.mark.parametrize(
    ("toks", "word"),
    [
        (["Negat.ive"], "Negative"),  # held-out seed 100201: a point read inside the word
        (["Negat", "ive"], "Negative"),  # a gap read inside it
        (["Negst", "ive"], "Negative"),  # and one letter misread in a long word
        (["Not", "detect.ed"], "Not detected"),
        (["Non-reactive"], "Non-reactive"),
        (["Negat1ve"], ""),  # a digit: never a word
        (["Pos"], ""),  # a part of a word is none
        (["Nill"], ""),  # one letter away, but from a short word: too easily another word
        (["Hb"], ""),
    ],
)
def test_a_qualitative_word_broken_by_ocr_is_read(toks: list[str], word: str) -> None:
    from medflow.analyzers.labs.columns import broken_qualitative

    assert broken_qualitative(toks) == word


def test_a_range_first_row_with_broken_qualitative_cells_is_read() -> None:
    # held-out seed 100201 (range_first, Courier 7.8 pt scanned): result and range cells
    # "Negat ive" and "Negat.ive"; the rows held no number and vanished
    header = cells((40, "Test"), (230, "Reference Range"), (360, "Observed Value"), (460, "Flag"))
    rows = [
        cells((40, "Glucose"), (236, "Negat.ive"), (364, "Negat ive"), top=120),
        cells((40, "Leukocyte Esterase"), (236, "Negative"), (364, "Negst ive"), top=134),
        cells((40, "Bilirubin"), (232, "Negative"), (364, "Positive"), top=148),
    ]
    parsed = parse_pages([page(header, *rows)])
    assert [(r.name, r.value_text, r.range_text) for r in parsed.rows] == [
        ("Glucose", "Negative", "Negative"),
        ("Leukocyte Esterase", "Negative", "Negative"),
        ("Bilirubin", "Positive", "Negative"),
    ]
