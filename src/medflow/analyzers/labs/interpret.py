"""Interpret parsed lab rows: identify the test, normalise the unit, flag, weigh significance.

For each :class:`~medflow.domain.labs.RawLabRow` the knowledge base names the test (section and
unit break ties), the printed unit is rewritten into UCUM, and the value is kept in that unit so
it sits beside the range printed next to it. The range applied is, in order: the report's own
printed range, the laboratory's configured override, the knowledge base's range for the
patient's sex and age (converted into the printed unit). Flags follow FHIR R4
ObservationInterpretation (N, L, H, LL, HH, A); significance is ``noise`` when the value lies
outside the range by no more than the test's noise margin, ``critical`` beyond a critical limit,
``significant`` otherwise.

A value implausible as read (see :mod:`medflow.analyzers.labs.plausibility`) is held for review:
significance ``review``, with the reason, and no finding rests on it. A flag printed on the
report is kept beside the computed one; when they disagree both are shown, and a printed
critical flag (HH, LL) makes the result critical. Every range says where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from medflow.analyzers.labs.kb import KnowledgeBase, default_kb
from medflow.analyzers.labs.kb_models import TestDef
from medflow.analyzers.labs.plausibility import (
    Limits,
    plausibility_limits,
    review_reason,
    side_of_range,
)
from medflow.analyzers.labs.values import ParsedValue, bounds_inclusive, parse_range, parse_value
from medflow.analyzers.labs.vocabulary import default_vocabulary
from medflow.domain.labs import Flag, LabResult, RawLabRow, ReferenceRange, Significance
from medflow.domain.patient import PatientInfo

_ADULT = 18.0
# Split Low/High columns read into the unit cell: "mIU/L 0.4 4".
_UNIT_WITH_LIMITS = re.compile(
    r"^(?P<unit>\S+)\s+(?P<low>-?\d+(?:\.\d+)?)\s+(?P<high>-?\d+(?:\.\d+)?)$"
)
_CRITICAL = (Flag.CRITICAL_HIGH, Flag.CRITICAL_LOW)
_HIGH = (Flag.HIGH, Flag.CRITICAL_HIGH)
_LOW = (Flag.LOW, Flag.CRITICAL_LOW)


def num(value: float) -> str:
    """A number as a report would print it (``12.0`` -> ``"12"``, ``0.045`` -> ``"0.045"``)."""
    return f"{value:.4g}"


def interpret(
    rows: Sequence[RawLabRow], patient: PatientInfo, kb: KnowledgeBase | None = None
) -> tuple[list[LabResult], list[RawLabRow]]:
    """Interpret every row of a report.

    Args:
        rows: the rows as the parser read them, in printed order.
        patient: the patient (sex and age select ranges).
        kb: the knowledge base (with the laboratory's overrides); the packaged one when None.

    Returns:
        ``(results, unrecognized)``: a :class:`LabResult` per row naming a known test with a
        readable value, in printed order; and the rows whose name matched no test or whose value
        could not be read (``"pending"``), kept as evidence.
    """
    kb = kb or default_kb()
    results: list[LabResult] = []
    unrecognized: list[RawLabRow] = []
    for row in rows:
        test = kb.match(row.name, section=row.section, unit=row.unit_text)
        parsed = parse_value(row.value_text) if test is not None else None
        if test is None or parsed is None:
            unrecognized.append(row)
            continue
        results.append(interpret_row(row, test, parsed, patient, kb))
    return results, unrecognized


@dataclass
class _Work:
    unit: str = ""
    shown_unit: str = ""  # the printed spelling, for explanations a doctor reads
    ocr: bool = False
    convertible: bool = False
    reference: ReferenceRange | None = None
    crit_low: float | None = None
    crit_high: float | None = None
    notes: list[str] = field(default_factory=list)


def interpret_row(
    row: RawLabRow, test: TestDef, parsed: ParsedValue, patient: PatientInfo, kb: KnowledgeBase
) -> LabResult:
    """Interpret one row already matched to ``test`` with its value parsed.

    Args:
        row: the row as printed.
        test: the knowledge-base test it names.
        parsed: its value, read.
        patient: the patient (sex, age).
        kb: the knowledge base.

    Returns:
        The interpreted result; ``note`` says in words why the flag and significance were given.
    """
    work = _unit_and_range(row, test, patient, kb)
    if parsed.number is None and not row.unit_text.strip():
        work.unit = ""  # a qualitative word has no unit
    if parsed.number is None:
        flag, significance, deviation = _qualitative(row, test, parsed, work)
    else:
        flag, significance, deviation = _numeric(test, parsed, work, kb.noise_margin(test.id))
    printed_flag = printed_flag_code(row.flag_text) or parsed.flag or ""
    flag, significance, disagreement = _weigh_printed_flag(printed_flag, flag, significance, work)
    review = ""
    if parsed.number is not None:
        review = _review(row, test, parsed, work, kb)
        if review:
            significance = Significance.REVIEW
            work.notes.append(f"held for review: {review}")
    return LabResult(
        test_id=test.id,
        loinc=test.loinc,
        name=test.name,
        printed_name=row.name,
        value=parsed.number,
        comparator=parsed.comparator,
        value_text=row.value_text,
        unit=work.unit,
        printed_unit=row.unit_text,
        reference_range=work.reference,
        flag=flag,
        significance=significance,
        deviation=round(deviation, 4),
        critical_low=work.crit_low,
        critical_high=work.crit_high,
        section=row.section,
        row=row,
        note="; ".join(work.notes),
        printed_flag=printed_flag,
        flag_disagreement=disagreement,
        review_reason=review,
    )


def printed_flag_code(flag_text: str) -> str:
    """The FHIR code a printed flag claims (``"High"``, ``"↑"``, ``"[H]"`` -> ``"H"``), or ``""``.

    Tries the whole text, then its first word (``"H *"``), as the vocabulary knows them.
    """
    text = flag_text.strip()
    if not text:
        return ""
    vocabulary = default_vocabulary()
    code = vocabulary.flag(text)
    if code is None and " " in text:
        code = vocabulary.flag(text.split()[0])
    return code or ""


def _weigh_printed_flag(
    printed: str, flag: Flag, significance: Significance, work: _Work
) -> tuple[Flag, Significance, str]:
    """The flag and significance once the printed flag is weighed, and the disagreement.

    With no range to check it, a printed flag is taken as is. A printed critical flag (HH, LL)
    makes the result critical. A printed H or L over a computed N is taken when our range is
    not the report's own (the laboratory's range was not printed); against the printed range
    the computed flag stands. Every disagreement is kept, in words.
    """
    if not printed:
        return flag, significance, ""
    reference = work.reference
    if printed == "C":  # critical, direction not printed: the computed flag gives it
        printed = "HH" if flag in _HIGH else "LL" if flag in _LOW else ""
        if not printed:
            work.notes.append("the report marks this value critical: critical")
            said = "" if reference is None or flag is not Flag.NORMAL else _source(reference)
            why = f"printed critical, computed N against the {said}" if said else ""
            shown = Flag.ABNORMAL if flag is Flag.NORMAL else flag
            return shown, Significance.CRITICAL, why
    if reference is None:
        if flag is Flag.NORMAL and printed != "N":
            work.notes.append(f"flag {printed} taken from the report; no range to check it")
            return Flag(printed), _significance_of(Flag(printed)), ""
        return flag, significance, ""
    disagreement = ""
    if not _agrees(printed, flag):
        disagreement = f"printed {printed}, computed {flag.value} against the {_source(reference)}"
        work.notes.append(
            f"the report's flag {printed} disagrees with the computed flag {flag.value}"
        )
    if printed in ("HH", "LL") and flag not in _CRITICAL:
        work.notes.append(f"the report marks this value critical ({printed}): critical")
        return Flag(printed), Significance.CRITICAL, disagreement
    if disagreement and flag is Flag.NORMAL and reference.source != "report":
        work.notes.append(f"flag {printed} taken from the report: its own range is not printed")
        return Flag(printed), _significance_of(Flag(printed)), disagreement
    return flag, significance, disagreement


def _significance_of(flag: Flag) -> Significance:
    if flag in _CRITICAL:
        return Significance.CRITICAL
    return Significance.NORMAL if flag is Flag.NORMAL else Significance.SIGNIFICANT


def _review(
    row: RawLabRow, test: TestDef, parsed: ParsedValue, work: _Work, kb: KnowledgeBase
) -> str:
    value = parsed.number
    if value is None:
        return ""
    if row.held:
        return row.held
    listed = plausibility_limits().get(test.id)
    limits = None
    if listed is not None and work.convertible and test.unit:
        unit = work.unit or test.unit

        def convert(limit: float | None) -> float | None:
            return None if limit is None else kb.convert(test.id, limit, test.unit, unit)

        low, high = convert(listed.low), convert(listed.high)
        if (low is not None) or (high is not None):
            limits = Limits(low, high)
    reason = review_reason(
        value=value,
        value_text=row.value_text,
        comparator=parsed.comparator,
        reference=work.reference,
        ocr=row.ocr,
        line=row.line,
        limits=limits,
        listed=listed is not None,
        unit=work.shown_unit,
    )
    if reason is None and parsed.comparator is None:
        reason = _critical_inside_printed_range(value, work)
    if reason is None and parsed.comparator is None:
        reason = _outside_a_range_reread(value, row, work)
    return reason or ""


def _outside_a_range_reread(value: float, row: RawLabRow, work: _Work) -> str | None:
    """An OCR value outside a printed range that a re-read or repair of the scan changed
    (``RawLabRow.changed``): the two readings of the range disagree, so the value is not
    called abnormal against either (all-normal tuning seed 34: 1.1 - 2.5 first read as
    "(bas 2.5", re-read as "11 - 25", a ratio of 1.6 called low). Held for review; None
    otherwise."""
    reference = work.reference
    if not row.ocr or "range_text" not in row.changed or reference is None:
        return None
    if reference.source != "report" or not side_of_range(value, reference):
        return None
    return (
        f"{num(value)} lies outside the printed range {reference.text}, which a second reading "
        "of the scan changed: check the printed report"
    )


def _critical_inside_printed_range(value: float, work: _Work) -> str | None:
    """A value inside the range printed beside it that is beyond a critical limit of the test
    (in the printed unit) cannot be both: the unit or the range was misread ("364 /uL" read for
    364 x10^3/uL platelets, 150-450: all-normal tuning seed 10 summarised it as severe
    thrombocytopenia). Held for review, the reason in words; None otherwise."""
    reference = work.reference
    if reference is None or reference.source != "report":
        return None
    if (reference.low is None and reference.high is None) or side_of_range(value, reference):
        return None
    below = work.crit_low is not None and value < work.crit_low
    above = work.crit_high is not None and value > work.crit_high
    if not below and not above:
        return None
    limit = work.crit_low if below else work.crit_high
    return (
        f"{num(value)} {work.shown_unit} lies inside its printed range {reference.text} but "
        f"{'below' if below else 'above'} the critical limit {num(limit or 0.0)} {work.unit}: "
        "the unit or the range may have been misread; check the printed report"
    )


def _unit_and_range(
    row: RawLabRow, test: TestDef, patient: PatientInfo, kb: KnowledgeBase
) -> _Work:
    printed = row.unit_text.strip()
    range_text = row.range_text.strip()
    split = _UNIT_WITH_LIMITS.match(printed) if not range_text else None
    if split is not None and float(split["low"]) < float(split["high"]):
        # Low and High printed in their own columns, read into the unit cell.
        printed, range_text = split["unit"], f"{split['low']}-{split['high']}"
    work = _Work(shown_unit=printed or test.unit, ocr=row.ocr)
    if split is not None and range_text:
        work.notes.append(f"range {range_text} read from the printed low and high limits")
    ucum = kb.to_ucum(printed) if printed else None
    if ucum is None and " " in printed:
        # OCR can glue noise to a unit ("fL £5"): the first word may still be the unit
        ucum = kb.to_ucum(printed.split()[0])
    if not printed:
        # nothing printed: a number is read in the test's canonical unit
        work.unit, work.convertible = test.unit, True
    elif ucum is None:
        work.notes.append(f"unit {printed!r} is not recognised")
    elif test.unit and not kb.accepts(test.id, ucum):
        work.unit = ucum
        work.notes.append(f"unit {ucum} does not convert to {test.unit}")
    else:
        work.unit, work.convertible = ucum, True
    if range_text:
        work.reference = parse_range(plain_range(range_text), patient.sex, patient.age)
        if work.reference is None:
            work.notes.append(f"printed range {range_text!r} could not be read")
        else:
            work.reference = work.reference.model_copy(
                update={"source_detail": "printed on the report"}
            )
    if work.reference is None and work.convertible:
        work.reference = kb.reference_range(test.id, patient.sex, patient.age, work.unit or None)
        if work.reference is not None:
            work.reference = work.reference.model_copy(
                update={"source_detail": range_source_detail(work.reference, test, kb)}
            )
        if work.reference is not None and patient.age is not None and patient.age < _ADULT:
            work.notes.append(
                f"adult reference range applied to a patient aged {patient.age:g}: the knowledge "
                "base holds no paediatric range"
            )
    if work.convertible and test.unit:
        work.crit_low, work.crit_high = kb.critical_limits(test.id, work.unit)
    return work


def plain_range(text: str) -> str:
    """A printed range in the notation the range parser reads: explicit plus signs dropped
    (``-2 - +2``), decimal commas as points (``12,0 - 15,5``; ``150,000`` stays a thousands
    separator), the Spanish/Portuguese ``a`` between limits as a dash (``3,9 a 5,5``)."""
    text = re.sub(r"(?<![\w.])\+(?=\d)", "", text)
    text = re.sub(r"(?<=\d),(?=\d{1,2}(?!\d))", ".", text)
    return re.sub(r"(?<=\d)\s+a\s+(?=-?\d)", " - ", text)


def range_source_detail(reference: ReferenceRange, test: TestDef, kb: KnowledgeBase) -> str:
    """Where a range not printed on the report came from, in words for a reader."""
    if reference.source == "lab_config":
        lab = f" of {kb.lab_name}" if kb.lab_name else ""
        return f"the laboratory's configured range{lab}"
    if reference.source == "report":
        return "printed on the report"
    # The knowledge base may name a source per test; otherwise its data files name them.
    cited = str(getattr(test, "source", "") or getattr(test, "range_source", "") or "")
    who = f" for {reference.applies_to}" if reference.applies_to else ""
    if cited:
        return f"medflow knowledge base{who} ({cited})"
    return f"medflow knowledge base{who} (sources named in its data file for {test.name})"


def _qualitative(
    row: RawLabRow, test: TestDef, parsed: ParsedValue, work: _Work
) -> tuple[Flag, Significance, float]:
    reference = work.reference
    expected = test.expected or "negative"
    if reference is not None and reference.low is None and reference.high is None:
        expected = reference.text
    elif reference is None or reference.low is not None or reference.high is not None:
        printed = bool(row.range_text.strip())
        work.reference = ReferenceRange(
            text=expected,
            source="report" if printed else "knowledge_base",
            source_detail="printed on the report" if printed else "medflow knowledge base",
        )
    if not parsed.abnormal:
        return Flag.NORMAL, Significance.NORMAL, 0.0
    if parsed.weak and test.trace_is_noise:
        work.notes.append(
            f"{parsed.term} where {expected} is expected: a trace finding on this test is "
            "commonly not clinically meaningful, set aside as noise"
        )
        return Flag.ABNORMAL, Significance.NOISE, 0.0
    work.notes.append(f"{parsed.term} where {expected} is expected: abnormal")
    return Flag.ABNORMAL, Significance.SIGNIFICANT, 0.0


def _numeric(
    test: TestDef, parsed: ParsedValue, work: _Work, margin: float
) -> tuple[Flag, Significance, float]:
    value = parsed.number if parsed.number is not None else 0.0
    cmp = parsed.comparator
    shown = f"{test.name} {cmp or ''}{num(value)} {work.shown_unit}".rstrip()
    reference = work.reference
    numeric = reference is not None and (reference.low is not None or reference.high is not None)
    side = _side(value, cmp, reference, work) if reference is not None and numeric else 0
    limit = None if reference is None else (reference.low if side < 0 else reference.high)
    deviation = _dev(limit, value) if side and limit is not None else 0.0
    if work.crit_low is not None and (
        value < work.crit_low or (cmp in ("<", "<=") and value <= work.crit_low)
    ):
        work.notes.append(f"{shown} is below the critical limit {num(work.crit_low)}: critical")
        return Flag.CRITICAL_LOW, Significance.CRITICAL, deviation or _dev(work.crit_low, value)
    if work.crit_high is not None and cmp not in ("<", "<=") and value > work.crit_high:
        work.notes.append(f"{shown} is above the critical limit {num(work.crit_high)}: critical")
        _suspect_decimal(value, reference, work)
        return Flag.CRITICAL_HIGH, Significance.CRITICAL, deviation or _dev(work.crit_high, value)
    if reference is None or not numeric:
        if not work.notes:
            work.notes.append("no reference range printed or known for this test")
        return Flag.NORMAL, Significance.NORMAL, 0.0
    if side == 0 or limit is None:
        return Flag.NORMAL, Significance.NORMAL, 0.0
    where = "below the lower" if side < 0 else "above the upper"
    flag = Flag.LOW if side < 0 else Flag.HIGH
    basis = f"{shown} is {deviation:.1%} {where} limit {num(limit)} ({_source(reference)})"
    if margin > 0 and deviation <= margin:
        work.notes.append(
            f"{basis}; within this test's {margin:.0%} noise margin, a deviation this small "
            "is not clinically meaningful: noise"
        )
        return flag, Significance.NOISE, deviation
    reason = (
        "any deviation on this test matters"
        if margin == 0
        else f"beyond this test's {margin:.0%} noise margin"
    )
    work.notes.append(f"{basis}; {reason}: significant")
    return flag, Significance.SIGNIFICANT, deviation


def _suspect_decimal(value: float, reference: ReferenceRange | None, work: _Work) -> None:
    # OCR drops decimal points (4.7 read as 47; FINDINGS.md): say so when a tenth of a critical
    # value would sit inside the printed range, but keep the critical flag for a human to check.
    if work.ocr and reference is not None and reference.low is not None and reference.high:
        for scale in (10.0, 100.0):
            if reference.low <= value / scale <= reference.high:
                work.notes.append(
                    f"read by OCR: {num(value / scale)} (a lost decimal point) would be in range; "
                    "check the printed report"
                )
                return


def _side(value: float, cmp: str | None, reference: ReferenceRange, work: _Work) -> int:
    low, high = reference.low, reference.high
    low_in, high_in = bounds_inclusive(reference)
    if cmp in ("<", "<="):
        # the true value lies at or below `value`: below the range only if `value` is
        if low is not None and (value <= low if cmp == "<" else value < low):
            return -1
        if high is not None and value > high:
            work.notes.append(f"censored value {cmp}{num(value)} cannot be placed against {high:g}")
        return 0
    if cmp in (">", ">="):
        if high is not None and (value >= high if cmp == ">" else value > high):
            return 1
        if low is not None and value < low:
            work.notes.append(f"censored value {cmp}{num(value)} cannot be placed against {low:g}")
        return 0
    if low is not None and (value < low or (value == low and not low_in)):
        return -1
    if high is not None and (value > high or (value == high and not high_in)):
        return 1
    return 0


def _dev(limit: float, value: float) -> float:
    return abs(value - limit) / abs(limit) if limit else abs(value - limit)


def _source(reference: ReferenceRange) -> str:
    where = {
        "report": "printed on the report",
        "knowledge_base": "knowledge base",
        "lab_config": "laboratory configuration",
    }[reference.source]
    return f"range {reference.text}, {where}"


def _agrees(printed: str, computed: Flag) -> bool:
    if printed == "A" or (computed is Flag.ABNORMAL and printed != "N"):
        return computed is not Flag.NORMAL
    if printed in ("H", "HH"):
        return computed in _HIGH
    if printed in ("L", "LL"):
        return computed in _LOW
    return computed is Flag.NORMAL
