"""Is a value, as read, plausible? Implausible ones are held for review, not interpreted.

A misread value must never become a finding ("total cholesterol 208625 mg/dL is high" from an
OCR'd 5.95 mmol/L). A value is held, with the reason in words, when:

* it lies beyond the test's plausibility limits (``knowledge/plausibility.yaml``, sources named
  there), or, for a test without limits there, more than 10x above its range's upper limit or
  below a tenth of a two-sided range's lower limit;
* its digits look like a merged or lost decimal point (``5395`` where the range is 3-6: 5.95
  with the point read as a 3), when read by OCR or far out of range;
* its comma is ambiguous (``1,250`` is 1250 or 1.25) and the two readings fall on different
  sides of the range, or a comma was read by OCR;
* it equals a limit of its own printed range while the line holds another number that is not
  part of the range (a range column's first number taken as the value);
* it is negative while no limit of its range is (a concentration or a count is never below
  zero; OCR reads a cell border, a leader dot or a smudge before the value as a minus sign:
  "-10.1" for a total T4 of 10.1 on all-normal tuning seed 6). Tests whose values may be
  negative (base excess) print a negative lower limit;
* it was read by OCR, lies outside its printed range, and that range as read has lost a
  decimal point: a limit with a leading zero before a digit ("05-25" for 0.5-2.5, all-normal
  tuning seed 30), or a number on the line with two points ("<.5.0" read as the range "<.5",
  seed 27). The value is not called abnormal against a range misread.

Every function is pure; the limits are loaded once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from medflow.analyzers.labs.kb_errors import KnowledgeBaseError
from medflow.domain.labs import ReferenceRange

_FILE = "plausibility.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FAR = 10.0  # the generic rule: this many times beyond the range
_OCR_FAR = 3.0  # an OCR'd digit run this far above the range is checked for a lost point
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")
_DIGITS = re.compile(r"^\d{2,7}$")
# A number standing alone on a line: not part of a unit (x10^3, 10*3/uL, /1.73m2) or a word.
_LONE_NUMBER = re.compile(r"(?<![\w^*/.,])-?\d+(?:[.,]\d+)?(?![\w^*/]|-[^\W\d_])")
_LINE_INTERVAL = re.compile(
    r"(?<![\w.,])(?P<a>[-+]?\d+(?:\.\d+)?)\s*(?:-|–|—|to)\s*(?P<b>[-+]?\d+(?:\.\d+)?)(?![\w.,])"
)


@dataclass(frozen=True)
class Limits:
    """Plausibility limits in a test's canonical unit (None: no limit on that side)."""

    low: float | None
    high: float | None


@lru_cache(maxsize=1)
def plausibility_limits() -> dict[str, Limits]:
    """The packaged limits by test id, loaded and checked once.

    Raises:
        KnowledgeBaseError: ``plausibility.yaml`` is malformed (unknown key, low >= high).
    """
    pkg = "medflow.analyzers.labs.knowledge"
    data = yaml.load(resources.files(pkg).joinpath(_FILE).read_text("utf-8"), Loader=_LOADER)
    if not isinstance(data, dict) or set(data) != {"limits"}:
        raise KnowledgeBaseError(f"{_FILE}: needs exactly one key, 'limits'")
    if not isinstance(data["limits"], dict):
        raise KnowledgeBaseError(f"{_FILE}: needs exactly one key, 'limits'")
    limits: dict[str, Limits] = {}
    for test_id, spec in data["limits"].items():
        if not isinstance(spec, dict) or not spec or set(spec) - {"low", "high"}:
            raise KnowledgeBaseError(f"{_FILE}: {test_id}: give low and/or high only")
        low, high = spec.get("low"), spec.get("high")
        if low is not None and high is not None and float(low) >= float(high):
            raise KnowledgeBaseError(f"{_FILE}: {test_id}: low must be below high")
        limits[str(test_id)] = Limits(
            None if low is None else float(low), None if high is None else float(high)
        )
    return limits


def _num(value: float) -> str:
    return f"{value:.6g}"


def _bare(value_text: str) -> str:
    """The digits and separators of a printed value, without comparator or flag marks."""
    return re.sub(r"[^\d.,]", "", value_text.split()[0] if value_text.split() else "")


def _inside(value: float, reference: ReferenceRange) -> bool:
    low, high = reference.low, reference.high
    return (low is None or value >= low) and (high is None or value <= high)


def side_of_range(value: float, reference: ReferenceRange) -> int:
    """-1 below the range, 1 above it, 0 inside it (limits inclusive)."""
    if reference.low is not None and value < reference.low:
        return -1
    if reference.high is not None and value > reference.high:
        return 1
    return 0


def decimal_candidates(digits: str, reference: ReferenceRange) -> list[float]:
    """Readings of a digit run with a decimal point restored that fall inside ``reference``.

    A point read as a digit (``5.95`` -> ``5395``: one inner digit replaced) comes first, then
    a point lost (``4.7`` -> ``47``: a point inserted).

    Args:
        digits: the printed digits (``"5395"``).
        reference: a numeric range.

    Returns:
        The candidate values inside the range, most likely first, without repeats.
    """
    if not _DIGITS.match(digits):
        return []
    found: list[float] = []
    texts = [digits[:i] + "." + digits[i + 1 :] for i in range(1, len(digits) - 1)]
    texts += [digits[:i] + "." + digits[i:] for i in range(1, len(digits))]
    for text in texts:
        value = float(text)
        if value not in found and _inside(value, reference):
            found.append(value)
    return found


def _decimal_hint(value_text: str, reference: ReferenceRange | None) -> str:
    if reference is None:
        return ""
    candidates = decimal_candidates(_bare(value_text), reference)
    if not candidates:
        return ""
    guesses = " or ".join(_num(c) for c in candidates[:2])
    return f"; it may be {guesses} misread (a decimal point lost or read as a digit)"


def _ocr_digit_run(value: float, reference: ReferenceRange | None, ocr: bool) -> bool:
    # A two-sided range: one-sided ones belong to markers (CRP, troponin) that are often far
    # above their limit for real.
    return (
        ocr
        and reference is not None
        and reference.low is not None
        and reference.high is not None
        and reference.low > 0
        and value > _OCR_FAR * reference.high
    )


def _comma(
    value: float, value_text: str, reference: ReferenceRange | None, ocr: bool
) -> str | None:
    digits = _bare(value_text)
    if "," not in digits:
        return None
    if _THOUSANDS.match(digits):
        other = float(digits.replace(",", ".")) if digits.count(",") == 1 else None
        # Ambiguous only where the decimal reading fits the range and the thousands one does
        # not ("1,100" creatinine); "250,000" platelets is a count either way.
        if (
            other is not None
            and reference is not None
            and side_of_range(other, reference) == 0
            and side_of_range(value, reference) != 0
        ):
            return (
                f"{digits} is ambiguous: {_num(value)} with a thousands separator, {_num(other)} "
                "(inside the range) with a decimal comma"
            )
        if ocr:
            return f"{digits} read by OCR with a comma, taken as {_num(value)} (thousands)"
        return None
    if _DECIMAL_COMMA.match(digits) and ocr:
        return f"{digits} read by OCR with a comma, taken as the decimal {_num(value)}"
    return None


def _range_words(reference: ReferenceRange) -> str:
    if reference.low is not None and reference.high is not None:
        return f"{_num(reference.low)}-{_num(reference.high)}"
    if reference.high is not None:
        return f"<{_num(reference.high)}"
    return f">{_num(reference.low or 0.0)}"


def _beyond_limits(canonical: float | None, limits: Limits | None, unit: str) -> str | None:
    if canonical is None or limits is None:
        return None
    if limits.high is not None and canonical > limits.high:
        return (
            f"{_num(canonical)} {unit} is above the highest plausible value "
            f"({_num(limits.high)} {unit})"
        )
    if limits.low is not None and canonical < limits.low:
        return (
            f"{_num(canonical)} {unit} is below the lowest plausible value "
            f"({_num(limits.low)} {unit})"
        )
    return None


def far_outside(value: float, reference: ReferenceRange | None) -> str | None:
    """The generic rule: more than 10x above the upper limit, or below a tenth of the lower
    limit of a two-sided range; the reason in words, or None."""
    if reference is None:
        return None
    low, high = reference.low, reference.high
    shown = reference.text or _range_words(reference)
    if high is not None and high > 0 and value > _FAR * high:
        return f"{_num(value)} is more than 10x the upper limit of the range {shown}"
    if low is not None and high is not None and low > 0 and value < low / _FAR:
        return f"{_num(value)} is less than a tenth of the lower limit of the range {shown}"
    return None


def _range_column_taken(value: float, line: str) -> str | None:
    """A printed range's limit read as the value: the value is a limit of a range printed on
    the line, and is not printed apart from it, or the line holds another number outside
    every range."""
    if not line:
        return None
    text = re.sub(r"(?<=\d),(?=\d{1,2}(?!\d))", ".", line)
    spans = list(_LINE_INTERVAL.finditer(text))
    limits = {float(m[g].replace("+", "")) for m in spans for g in ("a", "b")}
    if value not in limits:
        return None
    for m in reversed(spans):
        text = text[: m.start()] + " " + text[m.end() :]
    first_letter = re.search(r"[^\W\d_]", text)
    start = first_letter.start() if first_letter else 0
    numbers = [float(m.group().replace(",", "")) for m in _LONE_NUMBER.finditer(text, start)]
    printed_apart = value in numbers
    if printed_apart:
        numbers.remove(value)  # the value itself, printed beside its range
    if numbers:
        return (
            f"the value {_num(value)} equals a limit of the range printed on its line, which "
            f"also holds {_num(numbers[0])}: the columns may have been read wrongly"
        )
    if not printed_apart:
        return (
            f"the value {_num(value)} appears on its line only as a limit of the printed range: "
            "the result itself may not have been read"
        )
    return None


def _negative(value: float, reference: ReferenceRange | None) -> str | None:
    if reference is None or value >= 0:
        return None
    if any(limit is not None and limit < 0 for limit in (reference.low, reference.high)):
        return None
    shown = reference.text or _range_words(reference)
    return (
        f"{_num(value)} is negative while its range {shown} is not: a mark before the value "
        "may have been read as a minus sign"
    )


_LEADING_ZERO = re.compile(r"(?<![\d.])0\d")
_TWO_POINTS = re.compile(r"\d*\.\d+\.\d")


def _garbled_range(
    value: float, reference: ReferenceRange | None, line: str, ocr: bool
) -> str | None:
    if not ocr or reference is None or side_of_range(value, reference) == 0:
        return None
    text = reference.text
    if _LEADING_ZERO.search(text) or _TWO_POINTS.search(line):
        return (
            f"{_num(value)} lies outside the printed range as read by OCR ({text}), which looks "
            "misread (a decimal point lost or doubled)"
        )
    return None


def review_reason(
    *,
    value: float,
    value_text: str,
    comparator: str | None,
    reference: ReferenceRange | None,
    ocr: bool,
    line: str = "",
    limits: Limits | None = None,
    listed: bool = False,
    unit: str = "",
) -> str | None:
    """Why a numeric value should be held for review, or None when it is plausible.

    Args:
        value: the value in the unit it was printed in.
        value_text: the value as printed.
        comparator: ``<``/``>`` for a censored value (never held for being far out).
        reference: the range applied, in the same unit as ``value``.
        ocr: the value was read by OCR.
        line: the whole printed line, to notice a range column taken as the value.
        limits: the test's plausibility limits expressed in the value's unit, when known.
        listed: the test has plausibility limits (then the generic 10x rule is not applied,
            even when the limits could not be expressed in the value's unit).
        unit: the value's unit, for the message.

    Returns:
        The reason in words, or None.
    """
    numeric = reference is not None and (reference.low is not None or reference.high is not None)
    ref = reference if numeric else None
    reasons = [
        _comma(value, value_text, ref, ocr),
        _range_column_taken(value, line),
        _negative(value, ref),
        _garbled_range(value, ref, line, ocr),
    ]
    if comparator is None:
        beyond = _beyond_limits(value, limits, unit)
        far = None if listed or limits is not None else far_outside(value, ref)
        hint = _decimal_hint(value_text, ref)
        if beyond or far:
            reasons.append(f"{beyond or far}{hint}")
        elif hint and _ocr_digit_run(value, ref, ocr):
            reasons.append(f"{_num(value)} read by OCR, far above the range{hint}")
    found = [r for r in reasons if r]
    if not found:
        return None
    return "; ".join(dict.fromkeys(found)) + "; check the printed report"
