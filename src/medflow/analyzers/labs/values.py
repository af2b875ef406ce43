"""Parse printed lab values (``12.1 L``, ``<0.5``, ``1,234``, ``Positive``) and reference ranges.

Ranges are read in every notation seen on US, UK and Indian reports: ``a-b``, ``a – b``,
``a to b``, ``< b``, ``<= b``, ``> a``, ``up to b``, category lists (``Desirable: <200
Borderline: 200-239``, the normal/desirable one is taken), sex splits (``M: 13.5-17.5
F: 12.0-15.5``, ``Male 13-17; Female 12-15``), age splits (``Adult: ...``) and qualitative
ranges (``Negative``). A comma followed by exactly three digits is a thousands separator
(``150,000``); a comma followed by one or two digits is a decimal comma (``1,5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from medflow.analyzers.labs.vocabulary import Vocabulary, default_vocabulary, normalize_words
from medflow.domain.labs import Comparator, ReferenceRange
from medflow.domain.patient import Sex

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(rf"^(?P<n>-?(?:{_NUM}))$")
_DECIMAL_COMMA = re.compile(r"^(?P<i>\d+),(?P<f>\d{1,2})$")
_SPAN = re.compile(rf"^(?P<a>{_NUM})\s*(?:-|to)\s*(?P<b>{_NUM})$", re.IGNORECASE)
_COMPARED = re.compile(rf"^(?P<op><=|>=|<|>)\s*(?P<n>{_NUM})$")
_LEAD_FLAG = re.compile(r"^(?P<f>HH|LL|H|L|High|Low|\*+)\s+(?=[<>\d.])", re.IGNORECASE)
_TRAIL_FLAG = re.compile(
    r"(?:(?<=[\d\s])(?P<f>HH|LL|H|L|High|Low)|\((?P<p>HH|LL|H|L|High|Low)\)|(?P<s>\*+|↑|↓|!))$",
    re.IGNORECASE,
)
_INTERVAL = re.compile(rf"(?P<a>-?(?:{_NUM}))\s*(?:-|to)\s*(?P<b>-?(?:{_NUM}))", re.IGNORECASE)
_UPPER = re.compile(
    rf"(?P<op><=|<|less\s+than|below|up\s*to|upto|till|max(?:imum)?)\s*:?\s*(?P<n>{_NUM})",
    re.IGNORECASE,
)
_LOWER = re.compile(
    rf"(?P<op>>=|>|more\s+than|greater\s+than|above|min(?:imum)?)\s*:?\s*(?P<n>{_NUM})",
    re.IGNORECASE,
)
_ADULT_AGE = 18.0
_PERSON_GROUPS = ("male", "female", "adult", "child")


@dataclass(frozen=True)
class ParsedValue:
    """A printed value, read.

    Attributes:
        number: the numeric value, or None for a qualitative result.
        comparator: ``<``, ``<=``, ``>`` or ``>=`` for censored values such as ``<0.5``.
        term: the normalised qualitative word (``"negative"``, ``"2+"``), or None.
        abnormal: for qualitative results, whether the word reports an abnormal finding.
        weak: a borderline positive such as ``trace``.
        flag: a flag printed with the value, as its FHIR code (``"H"``), or ``""``.
    """

    number: float | None
    comparator: Comparator | None = None
    term: str | None = None
    abnormal: bool | None = None
    weak: bool = False
    flag: str = ""


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def _clean(text: str) -> str:
    text = text.replace("≤", "<=").replace("≥", ">=").replace("=<", "<=").replace("=>", ">=")
    return re.sub(r"[–—−]", "-", text).strip()


def parse_number(text: str) -> float | None:
    """Read a plain number (``1,234`` -> 1234.0, ``1,5`` -> 1.5), or None."""
    text = text.strip()
    match = _NUMBER.match(text)
    if match:
        return _to_float(match["n"])
    dec = _DECIMAL_COMMA.match(text)
    if dec:
        return float(f"{dec['i']}.{dec['f']}")
    return None


@lru_cache(maxsize=8192)  # reports repeat the same values and ranges; results are immutable
def parse_value(text: str, vocabulary: Vocabulary | None = None) -> ParsedValue | None:
    """Read a printed value.

    Args:
        text: the value as printed (``"12.1"``, ``"12.1 L"``, ``"H 240"``, ``"<0.5"``,
            ``"1,234"``, ``"Positive"``, ``"Non-reactive"``, ``"Trace"``, ``"1+"``, ``"Nil"``,
            ``"2-4"`` for a count per field, read as its upper end).
        vocabulary: the qualitative words and flags; the packaged one when None.

    Returns:
        The parsed value, or None when the text is neither a number nor a known word.
    """
    vocab = vocabulary or default_vocabulary()
    text = _clean(text)
    if not text:
        return None
    term = vocab.term(text)
    if term is not None:
        return ParsedValue(None, term=term.word, abnormal=term.abnormal, weak=term.weak)
    flag = ""
    lead = _LEAD_FLAG.match(text)
    if lead:
        flag = vocab.flag(lead["f"]) or ""
        text = text[lead.end() :].strip()
    trail = _TRAIL_FLAG.search(text)
    if trail and not flag:
        flag = vocab.flag(trail["f"] or trail["p"] or trail["s"]) or ""
        text = text[: trail.start()].strip()
    number = parse_number(text)
    if number is not None:
        return ParsedValue(number, flag=flag)
    compared = _COMPARED.match(text)
    if compared:
        op: Comparator = compared["op"]  # type: ignore[assignment]
        return ParsedValue(_to_float(compared["n"]), comparator=op, flag=flag)
    span = _SPAN.match(text)
    if span and _to_float(span["a"]) <= _to_float(span["b"]):
        # "2-4 /hpf" (cells per field in urine sediment): read as the upper end, the value
        # that decides whether the count is raised.
        return ParsedValue(_to_float(span["b"]), flag=flag)
    return _qualitative_in(text, vocab, flag)


def _qualitative_in(text: str, vocab: Vocabulary, flag: str) -> ParsedValue | None:
    # "Positive (1+)", "Present ++": the first known word decides.
    head = text.split("(")[0].strip()
    candidates = [head, *normalize_words(text.replace("(", " ").replace(")", " ")).split()]
    for word in candidates:
        term = vocab.term(word)
        if term is not None:
            return ParsedValue(
                None, term=term.word, abnormal=term.abnormal, weak=term.weak, flag=flag
            )
    return None


@dataclass(frozen=True)
class _Segment:
    labels: frozenset[str]
    groups: frozenset[str]
    content: str
    ages: tuple[float, float] | None = None  # [from, to) in years, for "18-60 yrs:" labels


# Age bands printed as labels: "18-60 yrs:", "Age >50:", "< 50 years", "60+ yrs". A unit of years
# or the word "age" is required so that a value range is never read as an age band.
_AGE_LABEL = re.compile(
    r"(?:\bage[sd]?\s*:?\s*(?=[<>\d]))?"
    r"(?:(?P<a>\d{1,3})\s*(?:-|to)\s*(?P<b>\d{1,3})|(?P<op>[<>]=?)\s*(?P<n>\d{1,3})|(?P<p>\d{1,3})\s*\+)"
    r"\s*(?P<unit>y|yr|yrs|years?)\b\.?\s*:?",
    re.IGNORECASE,
)
_AGE_PREFIXED = re.compile(
    r"\bage[sd]?\s*:?\s*(?:(?P<a>\d{1,3})\s*(?:-|to)\s*(?P<b>\d{1,3})|(?P<op>[<>]=?)\s*(?P<n>\d{1,3}))"
    r"\s*(?:y|yr|yrs|years?)?\b\.?\s*:",
    re.IGNORECASE,
)


def _age_band(match: re.Match[str]) -> tuple[float, float]:
    if match["a"] is not None:
        return (float(match["a"]), float(match["b"]) + 1.0)
    if match.groupdict().get("p"):
        return (float(match["p"]), 200.0)
    bound = float(match["n"])
    # "> 50 yrs" and ">= 50 yrs" both start at 50, so a 50-year-old is not left without a band
    return (bound, 200.0) if match["op"].startswith(">") else (0.0, bound)


@lru_cache(maxsize=4)
def _label_pattern(vocab: Vocabulary) -> tuple[re.Pattern[str], dict[str, str]]:
    group_of: dict[str, str] = {}
    for group, labels in vocab.labels.items():
        for label in labels:
            group_of.setdefault(label, group)
    parts = []
    for label in sorted(group_of, key=len, reverse=True):
        body = r"[\s\-]*".join(re.escape(w) for w in label.split())
        if len(label) == 1:
            parts.append(rf"\b{body}\b(?=\s*[:=]|\s+[<>\d.])")
        else:
            parts.append(rf"\b{body}s?\b")
    pattern = re.compile(rf"(?P<label>{'|'.join(parts)})\s*[:=]?", re.IGNORECASE)
    return pattern, group_of


def _label_matches(
    text: str, vocab: Vocabulary
) -> list[tuple[int, int, str | None, tuple[float, float] | None]]:
    pattern, _ = _label_pattern(vocab)
    found: list[tuple[int, int, str | None, tuple[float, float] | None]] = []
    for age_re in (_AGE_PREFIXED, _AGE_LABEL):
        for m in age_re.finditer(text):
            if not any(m.start() < end and start < m.end() for start, end, _, _ in found):
                found.append((m.start(), m.end(), None, _age_band(m)))
    for m in pattern.finditer(text):
        if not any(m.start() < end and start < m.end() for start, end, _, _ in found):
            found.append((m.start(), m.end(), m["label"], None))
    return sorted(found)


def _segments(text: str, vocab: Vocabulary) -> list[_Segment]:
    _, group_of = _label_pattern(vocab)
    matches = _label_matches(text, vocab)
    if not matches:
        return [_Segment(frozenset(), frozenset(), text)]
    segments: list[_Segment] = []
    pending: set[str] = set()
    ages: tuple[float, float] | None = None
    for i, (_, stop, raw, band) in enumerate(matches):
        end = matches[i + 1][0] if i + 1 < len(matches) else len(text)
        if raw is not None:
            label = normalize_words(raw)
            if label not in group_of and label.endswith("s"):
                label = label[:-1]
            pending.add(label)
        else:
            ages = band
        content = text[stop:end].strip(" \t\n;,|/:")
        if content:
            groups = {group_of.get(lbl, "other") for lbl in pending}
            shown = {
                group_of[lbl] if group_of.get(lbl) in _PERSON_GROUPS else lbl for lbl in pending
            }
            if ages is not None:
                groups.add("age")
                low, high = ages
                shown.add(f"age {low:g}-{high - 1:g}" if high < 200 else f"age {low:g}+")
            segments.append(_Segment(frozenset(shown), frozenset(groups), content, ages))
            pending, ages = set(), None
    return segments


def _simple(content: str) -> tuple[float | None, float | None] | None:
    interval = _INTERVAL.search(content)
    if interval:
        low, high = _to_float(interval["a"]), _to_float(interval["b"])
        return (low, high) if low < high else None
    upper = _UPPER.search(content)
    if upper:
        return (None, _to_float(upper["n"]))
    lower = _LOWER.search(content)
    if lower:
        return (_to_float(lower["n"]), None)
    return None


def _select(segments: list[_Segment], sex: Sex, age: float | None) -> list[_Segment]:
    chosen = segments
    if any(s.groups & {"male", "female"} for s in chosen) and sex is not Sex.UNKNOWN:
        want = "male" if sex is Sex.MALE else "female"
        chosen = [s for s in chosen if want in s.groups or not s.groups & {"male", "female"}]
    if any(s.ages is not None for s in chosen):
        years = 40.0 if age is None else age  # an unknown age is read as a mid-life adult
        chosen = [s for s in chosen if s.ages is None or s.ages[0] <= years < s.ages[1]]
    if any(s.groups & {"adult", "child"} for s in chosen):
        want = "adult" if age is None or age >= _ADULT_AGE else "child"
        chosen = [s for s in chosen if want in s.groups or not s.groups & {"adult", "child"}]
    if any(s.groups & {"preferred", "other"} for s in chosen):
        chosen = [s for s in chosen if "preferred" in s.groups or not s.groups & {"other"}]
    return chosen


@lru_cache(maxsize=8192)
def parse_range(
    text: str,
    sex: Sex = Sex.UNKNOWN,
    age: float | None = None,
    vocabulary: Vocabulary | None = None,
) -> ReferenceRange | None:
    """Read a printed reference range, choosing the part that applies to the patient.

    Args:
        text: the range as printed (one or several lines).
        sex: the patient's sex; with ``UNKNOWN``, sex-split ranges give the span of both.
        age: the patient's age in years; None is read as an adult.
        vocabulary: range labels and qualitative words; the packaged one when None.

    Returns:
        A ``ReferenceRange`` with ``source="report"``; ``text`` is the part chosen (``"<200"``)
        and ``applies_to`` its labels (``"desirable"``, ``"male"``). For a qualitative range
        (``"Negative"``) low and high are None and ``text`` is the expected word. None when
        nothing in the text reads as a range.
    """
    vocab = vocabulary or default_vocabulary()
    text = _clean(text)
    if not text:
        return None
    term = vocab.term(text)
    if term is not None:
        return ReferenceRange(text=term.word, source="report", applies_to="")
    picked: list[tuple[_Segment, tuple[float | None, float | None]]] = []
    for segment in _select(_segments(text, vocab), sex, age):
        bounds = _simple(segment.content)
        if bounds is not None:
            picked.append((segment, bounds))
    if not picked:
        return None
    if len(picked) == 1 or sex is not Sex.UNKNOWN:
        segment, (low, high) = picked[0]
        applies = ", ".join(sorted(segment.labels))
        return ReferenceRange(
            low=low, high=high, text=segment.content, source="report", applies_to=applies
        )
    lows = [b[0] for _, b in picked]
    highs = [b[1] for _, b in picked]
    low = None if any(v is None for v in lows) else min(v for v in lows if v is not None)
    high = None if any(v is None for v in highs) else max(v for v in highs if v is not None)
    return ReferenceRange(
        low=low, high=high, text=text, source="report", applies_to="any sex (sex not given)"
    )


def bounds_inclusive(reference: ReferenceRange) -> tuple[bool, bool]:
    """Whether the lower and upper limits of ``reference`` belong to the normal interval.

    ``a-b``, ``<= b`` and ``up to b`` include their limits; ``< b`` and ``> a`` do not, so a
    total cholesterol of exactly 200 against ``<200`` lies outside the range.
    """
    text = _clean(reference.text)
    high_open = bool(re.search(r"<(?!=)", text)) and reference.low is None
    low_open = bool(re.search(r">(?!=)", text)) and reference.high is None
    return (not low_open, not high_open)


@lru_cache(maxsize=1)
def _flag_forms() -> dict[str, str]:
    from importlib import resources

    import yaml

    text = resources.files("medflow.analyzers.labs").joinpath("data/parser_lexicon.yaml")
    data = yaml.safe_load(text.read_text(encoding="utf-8"))
    return {
        str(form).upper(): str(code) for code, forms in data["flag_forms"].items() for form in forms
    }


# "[H]", "(H)"; a scan may read one bracket as another ("{H]", "(H]").
_FLAG_BRACKETS = re.compile(r"^[\[({](?P<inner>[^\])}]*)[\])}]$")


def normalize_flag(text: str) -> str:
    """The printed flag in its normalised form, or ``""`` when ``text`` is not a flag.

    ``H``/``High``/``Alto``/``↑``/``[↑]``/``[H]``/``(H)`` -> ``H``; the same for ``L``;
    ``HH``/``↑↑``/``H*``/``Critical High`` -> ``HH`` (kept apart from ``H``), likewise ``LL``;
    ``*`` and ``**`` as printed (abnormal, direction not printed; ``[*]`` -> ``*``); ``A``
    for abnormal; ``C`` for a critical mark without a direction (``CRIT``, ``!!``).
    Forms are listed in ``data/parser_lexicon.yaml`` (``flag_forms``).
    """
    key = " ".join(text.split()).upper().rstrip(".:")
    m = _FLAG_BRACKETS.match(key)
    if m:
        key = m["inner"].strip()
    return _flag_forms().get(key, "")
