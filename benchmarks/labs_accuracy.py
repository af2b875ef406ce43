"""Lab-report reading accuracy, field by field, on generated reports with ground truth.

Reports come from ``tests/fixtures/labs/generate.py`` (nine layouts; text PDFs and image-only
scans, clean and noisy). Every ground-truth row is looked up among the rows read (in order,
by name similarity); a row not found counts as wrong on every field.

Two levels are measured:

* **rows** (``read_lab_pdf``): name, value (number + comparator, or the qualitative word),
  printed unit, range (the limits that apply to the patient, parsed from the range text by an
  independent parser here) and printed flag.
* **interpreted** (``interpret`` of ``medflow.analyzers.labs.interpret`` with the knowledge
  base, when that module is present): test -> LOINC, value, UCUM unit, reference range, flag
  (N/L/H/LL/HH/A).

Baseline, measured in the same run: the seed project's approach — ``pypdf`` ``extract_text()``
and one regular expression per line (``name value [H|L] unit low-high``) — on the same reports.

Usage: ``python benchmarks/labs_accuracy.py [--text N] [--scanned N] [--seed S] [--out DIR]``.
Targets: >= 99% on text PDFs, >= 95% on scanned pages, per field.

**Randomised layouts** (``tests/fixtures/labs/randomized.py``: column order, separators, fonts,
unit/range/flag styles, leaders, cumulative date columns, two tables per page, 1-3 pages; see
its docstring): ``--random N`` text reports and ``--random-scanned M`` scanned variants (some
or all pages rendered at 300 dpi, rotated up to 3 degrees, noise, JPEG), fields **found**,
**value**, **unit**, **range** (limits for the patient, by the independent parser here) and
**flag** (the printed flag, normalised), per family and scanned. A row neither read nor kept
among the unread lines (``LabDocument.unread``: its value printed there, or its name at the
start of one, loosely, since OCR may misread either) counts as **vanished**; the target is none.
A row not matched by name but read with its value under a name OCR garbled ("Gor 31" for
GGT 31: among the rows not recognised, or among the results under another test's name) is
counted apart as **misnamed**, not vanished (until 2026-12-06 it counted as vanished).
Seeds: the parser was tuned on randomised seeds 0-999 only; the benchmark reports on seeds
10000 and up (``--random-seed``, default 10000), never used in tuning.
Each randomised report is also interpreted (``LabAnalyzer.interpret`` with its unread lines)
and its summary checked by ``labs_testkit.false_reassurance``: a summary that claims normality
while a printed row was not read as a result with its value, or while a row printed abnormal
was read as normal, is a **false reassurance**; the target is none, text or scanned.
Targets: >= 98% per field on text reports, >= 95% on scanned ones.
Scanned figures are printed per family too (``standard (scan)``...).

Measured (2026-12-06, Tesseract 5.3, held-out seeds; ``--random 200`` and
``--random-scanned 100``, default ``--random-seed 10000``; after the page-image re-read
``ocr_reread``, leader junk and star flags read by shape in ``ocr``, more ``ocr_repair``):

* text, seeds 10000-10199 (3351 rows): 100% on every field, 0 vanished, 0/200 false
  reassurance.
* scanned, seeds 10000-10099 (1699 rows): found 96.2%, value 93.1%, unit 89.9%, range 90.6%,
  flag 92.6%, 3 rows vanished, 0/100 false reassurance (before: 94.6%, 91.8%, 88.4%, 88.5%,
  90.8%, 4 vanished). Per family from found 92.7% (cumulative) to 99.3% (standard, value and
  unit in one cell); the weakest fields are split Low/High columns (unit 76.6%, range 72.6%),
  two tables side by side (unit 77.0%) and leaders (unit 85.2%).
* scanned, seeds 20000-20059 (1097 rows, a second held-out range, first measured here):
  found 95.2%, value 91.4%, unit 90.8%, range 91.2%, flag 91.9%, 4 vanished, 1/60 false
  reassurance (seed 20045, split Low/High: "row not read: Creatinine 1.12"; the code before
  these changes gives the same one there, and 94.2%, 90.4%, 89.4%, 90.0%, 90.3%, 5 vanished).
* scanned, tuning seeds 200-259 (1056 rows): found 96.8%, value 94.8%, unit 94.4%, range
  93.8%, flag 94.6%, 9 vanished, 0/60 (before: 94.2%, 92.7%, 90.7%, 90.9%, 90.2%, 11 vanished).
* scanned, tuning seeds, unit and flag readings in ``ocr_repair``/``ocr`` (a caret read as 7,
  a smudge at a unit's end, a bracketed flag read before the unit, ``o``/``a`` and ``T``/``f``
  confusions), measured with ``labs_scan_replay.py`` (same scoring, 2026-12-06): families
  range_first, split_range, leaders and two_column of seeds 300-399 (40 reports, 652 rows,
  examined case by case): unit 89.9% -> 91.6%, flag 92.2% -> 92.6%, found/value/range
  unchanged (95.3%, 92.3%, 92.3%); seeds 400-459, all families (970 rows, not examined case
  by case except one flag regression fixed before these figures): unit 93.0% -> 93.4%, flag
  92.5% -> 92.6%, found 97.3%, value 95.6%, range 93.0% unchanged, no family lower on any
  field (the same after the ``ft`` arrow reading below). Then ``ft``/``tf`` read as an up
  arrow: flag_first seeds 300-399 (125 rows) flag 93.6% -> 94.4%. Held-out seeds were not
  measured for these changes.
* scanned, tuning seeds, star flags in a flag column and printed ranges restored against the
  KB range (``ocr_repair.restore_range``), ``labs_scan_replay.py``: flag_first and split_range
  of seeds 300-399 with all of 400-459 (1250 rows): range 93.28% -> 94.08%, flag 92.88% ->
  93.68% (flag_first flag 88.68% -> 92.45%), found/value/unit unchanged (97.36%, 95.04%,
  94.24%), no family lower on any field.
* fresh held-out seeds 40000-40199, measured once on the merged code of 2026-12-06 (``--random
  200 --random-scanned 100 --random-seed 40000``): text (3510 rows) 99.97% on every field,
  0 vanished, 1 misnamed, 0/200 false reassurance; scanned 40000-40099 (1728 rows): found
  96.59%, value 94.44%, unit 93.23%, range 94.10%, flag 93.00%, 0 vanished, 8 misnamed, 0/100
  false reassurance. Weakest scanned families: two_column (unit 79.8%, 7 misnamed), leaders
  (found 89.4%, unit 87.4%), flag on value_unit 89.4% and flag_first 89.4%.
* fresh held-out seeds 50000-50199, measured once on the merged code of 2026-12-07 (after
  the flag-cell re-read, split-range borders, glued units and flat leaders, header rules read
  as dashes; two runs, ``--random 100 --random-scanned 100 --random-seed 50000`` and ``50100``,
  pooled): text (3689 rows) 100% on every field, 0 vanished, 0 misnamed, 0/200 false
  reassurance; scanned, all 200 (3689 rows): found 97.61%, value 95.23%, unit 95.28%, range
  95.04%, flag 95.45%, 3 vanished, 6 misnamed, 0/200 false reassurance. Each run alone prints
  FAIL (worst field 94.94% unit in 50000-50099, 94.76% value in 50100-50199; and the vanished
  rows). Per family (scanned) from two_column (value 91.8%, unit 92.1%, flag 91.2%), leaders
  (unit 90.1%) and split_range / unit_first (range 93.4%, 92.9%) to value_unit and shuffled
  (all fields >= 96.8%). Tuning, ``labs_scan_replay.py`` on cached readings: leaders 7:300-699
  (712 rows) 92.98/91.71/90.31/90.73/91.99 -> 94.94/93.82/92.56/92.56/93.96 (check 7:700-999
  likewise up, families 0 and 4 unchanged); value_unit flag 4:300-499 92.75 -> 96.23,
  flag_first flag 3:300-499 92.57 -> 94.80; a cumulative report with none of its 11 rows read
  (seed 18, header word "_—_—Unit") now read whole.
* fresh held-out seeds 60000-60199, measured once on commit 560e59a of 2026-12-07 (after the
  enlarged unit re-read, one-letter header snap, colon decimals, lower-case star flags; two
  runs, ``--random-seed 60000`` and ``60100``, 100 text + 100 scanned each, pooled): text (3673
  rows) 99.89% on every field, 2 vanished and 2 misnamed, all on two two_column reports (seeds
  60159, 60129; found after the run and fixed: gutter through a wide range cell, a one-row
  table's wrapped name; text 0-999 and 50000-60199 now 100%, 0 vanished); scanned (3673 rows):
  found 97.03%, value 94.72%, unit 95.05%, range 94.63%, flag 94.39%, 6 vanished, 8 misnamed,
  0/200 false reassurance -> FAIL. 60000-60099 alone PASSES (worst 95.27%, 0 vanished);
  60100-60199 fails (worst flag 93.38%). Per family (scanned): two_column 93.6 / 88.4 / 89.8 /
  88.9 / 90.3 and leaders 94.8 / 92.7 / 92.2 / 93.0 / 92.5 drag; standard, split_range,
  value_unit >= 94.7 on every field. Both held-out sets 50000-60199 are now spent.
* fresh held-out seeds 70000-70199, measured once on commit cc0539c of 2026-12-07 (after the
  border finder in ``ocr_borders``, value cells re-read as digits in ``ocr_value_cell``, ranges
  read into the unit cell split off, one-flag and star/percent slips, per-sex arrow checks; two
  runs, ``--random-seed 70000`` and ``70100``, 100 text + 100 scanned each, pooled): text (3468
  rows) 100% on every field, 0 vanished, 0 misnamed, 0/200 false reassurance; scanned (3468
  rows): found 97.81%, value 95.76%, unit 95.53%, range 94.32%, flag 95.47%, 1 vanished, 2
  misnamed, 0/200 false reassurance -> FAIL on range. 70100-70199 alone PASSES (worst range
  95.89%, 0 vanished); 70000-70099 fails (range 92.75%, value and flag 94.36%). Range is the
  weak field: two_column 85.1 / 89.0, split_range 91.5 / 92.4, flag_first 91.9 / 93.7 (the two
  runs); value_unit, shuffled and cumulative >= 94.7 on every field. 70000-70199 is now spent.
* fresh held-out seeds 80000-80199, measured once on commit 9f2f46a of 2026-12-07 (after the
  lost-point value re-read, unsure Low/High cells re-read, per-sex ranges read through OCR
  slips, the report's litre spelling, one-sided range slips; two runs, ``--random-seed 80000``
  and ``80100``, 100 text + 100 scanned each, pooled): text (3368 rows) 100% on every field,
  0 vanished, 0 misnamed, 0/200 false reassurance; scanned (3368 rows): found 96.80%, value
  95.02%, unit 94.00%, range 94.56%, flag 94.57%, 5 vanished, 10 misnamed, 0/200 false
  reassurance -> FAIL (both runs: worst 94.19% flag in 80000-80099, 93.10% unit in
  80100-80199). Per family (scanned, the two runs): leaders found 91.7 / 82.6 (in 80100-80199,
  27 of 28 rows not found on 5 of the 10 reports, leader dots run into names and values, all
  but 1 among the unread lines), two_column unit 91.4 / 79.2 (seed 80189: every litre read
  as a small l; 14 of the 33 unit misses of leaders and two_column there are letter case
  only, "mmol/l" for mmol/L, the same UCUM unit), range_first flag
  87.1 in 80000-80099, standard unit 88.0 in 80100-80199; value_unit, split_range, cumulative
  >= 94.6 on every field. Tuning gains this round (families' tuning seeds 500-699 / 500-599,
  1598 rows: found/value/unit/range/flag 97.06/93.87/93.74/94.37/94.87 -> 97.18/94.81/94.87/
  95.68/95.06) did not carry over as a rise on held-out: the held-out figure moves
  by +-1 point between sets of 100 reports, more than a round of OCR slip fixes moves it.
  80000-80199 is now spent.
* fresh held-out seeds 90000-90199, measured once on commit 82ff691 of 2026-12-07 (after
  flag, range/unit and leaders/two_column OCR repairs tuned on seeds 300-499, checked on
  700-899; the 90100 run on bf7c6d3, which only stops a Tesseract crash on one re-read box from
  aborting a document): text 90000-90099 (1717 rows) 100% on every field, 90100-90199 (1698
  rows) 99.94% (one "Albumin:creatinine ratio" row refused for its colon, fixed afterwards in
  7fc8b7a), 0 vanished, 0/200 false reassurance; scanned, pooled (3415 rows): found 97.16%,
  value 95.26%, unit 95.11%, range 95.17%, flag 95.46%, 5 vanished, 12 misnamed, 0/200 false
  reassurance (90000-90099: 97.50/95.40/95.11/95.28/95.75; 90100-90199:
  96.82/95.11/95.11/95.05/95.17) -> every field over 95% in both runs, FAIL on the vanished
  rows. Weakest (scanned, the two runs): two_column (found 94.7 / 93.9, value 91.0 / 90.5,
  range 89.4 / 91.1), leaders unit 91.9 / 92.0. 90000-90199 is now spent.
* fresh held-out seeds 100400-100599, measured once on commit d4b1af3 of 2026-12-07 (after
  keeping scanned lines whose digits OCR glued to letters, completing rows whose left part the
  page reading lost, and reading qualitative words OCR broke; diagnosed on 90000-90199 and
  100000-100399, which are spent too): text (3563 rows) 100% on every field, 0 vanished, 0/200
  false reassurance; scanned, pooled (3563 rows): found 97.83%, value 95.76%, unit 96.74%,
  range 95.56%, flag 96.21%, 1 vanished, 7 misnamed, 0/200 false reassurance (100400-100499:
  97.97/95.84/97.19/95.89/96.34, 1 vanished -> FAIL: an MPV row kept among the unread lines
  as "1 9 Ge ae 2 7.5-11.5", its name, value and unit all misread, which this scorer cannot
  match; 100500-100599: 97.70/95.69/96.30/95.24/96.08, 0 vanished -> PASS). Weakest (scanned):
  split_range value 91.8 / 92.5 and range 94.6 / 91.2, leaders 92-93 in the first run, two_column
  value 93.7 / 93.8, standard 91.4 value in the second. 100000-100599 is now spent.
* earlier: before the OCR repair (``ocr_repair``; 60 scanned reports, seeds 10000-10059):
  found 93.2%, value 89.8%, unit 76.1%, range 80.4%, flag 84.2%, 7 rows vanished.

``--all-normal`` (every value inside its range; what each summary said), scanned, tuning seeds
(2026-12-06): seeds 0-129, before the scan-trust check (``scan_trust``): claimed normal 28,
cautious 62, false alarm 36, false reassurance 4; after (confidence < 80 or unknown, or value/
range/flag changed by a re-read or repair): claimed 13, cautious 80, false alarm 36, false
reassurance 1. Seeds 600-637: before 11 claimed / 13 cautious / 13 false alarm / 1 false
reassurance; after 3 / 22 / 13 / 0. (The "after" figures come from the same reading and the
same ``outcome`` classification, run through a script over the rows read once per seed.)

After the branch issue-11r (2026-12-06; a test name read with OCR confidence < 80 keeps the
summary from claiming normality, ``scan_trust``; held for review instead of called abnormal: a
negative value against a range with no negative limit, a value inside its printed range yet
beyond a critical limit, an OCR value outside a range that lost/doubled a decimal point as read
or that a re-read changed; a synthesis finding whose trigger lies inside the printed range is
information; unread lines keep a wrapped name, no row with a range is a section title, "pH" is
no phone label), tuning seeds, scanned, same OCR reading before and after (Tesseract output
cached per page image), counted by a script with this file's functions (seeds 0-37 and
200-259 measured before the footer fix):

* ``--all-normal`` seeds 0-37: claimed normal / cautious / false alarm / false reassurance
  3 / 24 / 11 / 0 before, 3 / 33 / 2 / 0 after (the 2 left: a cumulative value misread, an
  unrecognised row whose range OCR misread). Causes of the 11 false alarms before: a guideline
  threshold crossed inside the printed range (5: haemoglobin, urate, ionised calcium), a
  range misread by OCR (3), a value misread by OCR (1: cumulative PSA 1.05 read 4.05), a minus
  sign read before the value (1), a unit misread (364 "/uL" platelets, 1).
* ``--all-normal`` seeds 600-629 (not examined case by case before the changes): 3 / 16 / 11
  / 0 before, 1 / 20 / 9 / 0 after (seeds 609 and 618 re-run after the footer fix,
  ``rows.is_boilerplate``; the rest before it). The false alarms left: 6 are values OCR
  misread with confidence 0-51 (41 for 11, 212 for 12, 4.007 for 1.007...; no re-read
  disagrees, as ``ocr_reread`` re-reads implausible values only), 1 row of another table
  misread ("VLDL Cholestern] 213"), 2 rows whose range OCR misread ("800 to 1000", "05-25").
* normal values, seeds 200-259 (1056 rows): found 97.82%, value 95.74%, unit 95.74%, range
  94.70%, flag 95.74% before and after (flag unchanged); vanished 6 before by the definition
  before ``misnamed`` (4 vanished and 2 misnamed by today's); after: 2 vanished ("Color Yellow"
  read "Yellaw", "Triglycerides 1.1" read "Lad": lines with no number), 2 misnamed; 0/60
  false reassurance before and after.

The scanned target is not met: the misses left are values and cells Tesseract reads as other
characters where a re-read does not agree ("Pils" for 57*, "E9" for 1.9; an impossible value
is held for review by ``plausibility``, never summarised as a finding), units and limits of
split Low/High columns and two tables side by side read wrong, and rows on the most degraded
pages (thin fonts with dotted leaders).
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medflow.analyzers.labs.analyzer import LabAnalyzer, document_unread
from medflow.analyzers.labs.parser import read_lab_document, read_lab_pdf
from medflow.domain.labs import RawLabRow
from medflow.domain.patient import PatientInfo, Sex
from medflow.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TEXT_LAYOUTS = (
    "us_table",
    "in_table",
    "uk_nhs",
    "plain_lines",
    "plain_courier",
    "multipage",
    "two_column",
)
SCAN_LAYOUTS = ("scanned", "noisy_scan")
ROW_FIELDS = ("name", "value", "unit", "range", "flag")
KB_FIELDS = ("loinc", "value", "unit", "range", "flag")
# UCUM spellings that denote the same unit (a knowledge base may prefer either).
UCUM_SAME = [
    {"10*3/uL", "10*9/L"},
    {"10*6/uL", "10*12/L"},
    {"u[IU]/mL", "m[IU]/L"},
    {"ug/L", "ng/mL"},
    {"ng/L", "pg/mL"},
    {"mmol/L", "meq/L", "mEq/L"},
    {"{ratio}", "", "1"},
    {"{INR}", "", "1"},
    {"s", "sec"},
    {"/[HPF]", "/HPF"},
]

SEED_LINE = re.compile(
    r"^(?P<name>[A-Za-z][\w ()/%,.'-]*?)\s+(?P<value>[<>]?\d+(?:\.\d+)?)\s*(?P<flag>[HL])?\s+"
    r"(?P<unit>\S+)\s+(?P<range>\d+(?:\.\d+)?\s*-\s*\d+(?:\.\d+)?)\s*$"
)


def load_testkit() -> Any:
    """``tests/fixtures/labs/labs_testkit.py``: the generators, reports cached per process, and
    the false-reassurance check the tests share."""
    here = str(ROOT / "tests" / "fixtures" / "labs")
    if here not in sys.path:
        sys.path.insert(0, here)
    import labs_testkit

    return labs_testkit


def load_generator() -> Any:
    """``tests/fixtures/labs/generate.py`` (the fixed layouts) as a module."""
    return load_testkit().generator()


def seed_rows(data: bytes) -> list[RawLabRow]:
    """The seed's approach: pypdf plain text, one regex per line."""
    from pypdf import PdfReader

    rows = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for line in (page.extract_text() or "").splitlines():
            m = SEED_LINE.match(line.strip())
            if m:
                rows.append(
                    RawLabRow(
                        name=m["name"],
                        value_text=m["value"],
                        unit_text=m["unit"],
                        range_text=m["range"],
                        flag_text=m["flag"] or "",
                        line=line,
                    )
                )
    return rows


_NUM = r"\d[\d,]*(?:\.\d+)?|\.\d+"


def range_limits(text: str, sex: str) -> tuple[float | None, float | None] | str:
    """Limits in a printed range for a patient of ``sex`` (independent of the medflow parser)."""
    t = text.strip().strip("()").replace("–", "-").replace("—", "-").strip()
    split = re.findall(rf"\b([MF])\s*:?\s*((?:{_NUM})\s*-\s*(?:{_NUM}))", t)
    if split:
        t = dict(split).get(sex, split[0][1])
    t = re.sub(r"^(?:desirable|optimal)\s*:?\s*", "", t, flags=re.I)
    nums = [float(n.replace(",", "")) for n in re.findall(_NUM, t)]
    if re.match(r"^(?:<|up\s*to)", t, re.I) and nums:
        return None, nums[0]
    if t.startswith(">") and nums:
        return nums[0], None
    if len(nums) == 2 and re.search(r"-|to", t):
        return nums[0], nums[1]
    return t.casefold()


def value_of(text: str) -> tuple[str, float] | str:
    """(comparator, number) of a printed value, or the qualitative word."""
    m = re.match(rf"^\s*([<>]=?)?\s*({_NUM})\s*$", text)
    if m:
        return m.group(1) or "", float(m.group(2).replace(",", ""))
    return text.strip().casefold()


def same_unit(a: str, b: str) -> bool:
    """Equal UCUM units, allowing the equivalent spellings in ``UCUM_SAME``."""
    return a == b or any(a in group and b in group for group in UCUM_SAME)


def align(truth: list[dict[str, Any]], rows: list[Any], name: Callable[[Any], str]) -> list[Any]:
    """For each truth row, the read row that stands for it (or None), in printed order.

    A global alignment (dynamic programming over name similarity, pairs below 0.6 never
    matched), so one missing row cannot shift every later match.
    """
    n, m = len(truth), len(rows)
    sim = [
        [difflib.SequenceMatcher(None, t["name"].lower(), name(r).lower()).ratio() for r in rows]
        for t in truth
    ]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= 0.6 else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    out: list[Any] = []
    i = j = 0
    while i < n:
        if j < m and sim[i][j] >= 0.6 and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            out.append(rows[j])
            i, j = i + 1, j + 1
        elif j < m and best[i][j] == best[i][j + 1]:
            j += 1
        else:
            out.append(None)
            i += 1
    return out


def score_rows(truth: dict[str, Any], rows: list[RawLabRow]) -> dict[str, int]:
    """Correct counts per row-level field."""
    sex = truth["patient"]["sex"]
    got = dict.fromkeys(ROW_FIELDS, 0)
    for t, r in zip(truth["rows"], align(truth["rows"], rows, lambda r: r.name), strict=True):
        if r is None:
            continue
        want_range = (
            (t["low"], t["high"])
            if t["low"] is not None or t["high"] is not None
            else t["range_text"].casefold()
        )
        want_value = (
            t["value_text"].casefold()
            if isinstance(t["value"], str)
            else (t["comparator"] or "", float(t["value"]))
        )
        got["name"] += " ".join(r.name.split()).casefold() == t["name"].casefold()
        got["value"] += value_of(r.value_text) == want_value
        got["unit"] += r.unit_text == t["unit_text"]
        got["range"] += range_limits(r.range_text, sex) == want_range
        got["flag"] += r.flag_text == t["printed_flag"]
    return got


def score_results(truth: dict[str, Any], results: list[Any]) -> dict[str, int]:
    """Correct counts per interpreted field (LabResult)."""
    got = dict.fromkeys(KB_FIELDS, 0)
    aligned = align(truth["rows"], results, lambda res: res.printed_name)
    for t, res in zip(truth["rows"], aligned, strict=True):
        if res is None:
            continue
        codes = {t["loinc"], *t["loinc_alt"]}
        got["loinc"] += res.loinc in codes
        if isinstance(t["value"], str):
            got["value"] += res.value is None and res.value_text.casefold() == t["value"].casefold()
        else:
            got["value"] += res.value is not None and abs(res.value - t["value"]) < 1e-6
        got["unit"] += same_unit(res.unit, t["ucum"])
        rr = res.reference_range
        if t["low"] is None and t["high"] is None:
            got["range"] += rr is None or (rr.low is None and rr.high is None)
        else:
            got["range"] += rr is not None and (rr.low, rr.high) == (t["low"], t["high"])
        got["flag"] += str(res.flag) == t["flag"]
    return got


def load_interpret() -> tuple[Callable[..., Any], Any] | None:
    """(interpret, knowledge base) when the interpretation module exists."""
    try:
        from medflow.analyzers.labs.interpret import interpret
        from medflow.analyzers.labs.kb import KnowledgeBase
    except ImportError:
        return None
    return interpret, KnowledgeBase.load()


RANDOM_FIELDS = ("found", "value", "unit", "range", "flag")
_SIGNED = r"-?\d[\d,]*(?:\.\d+)?"


def load_randomized() -> Any:
    """``tests/fixtures/labs/randomized.py`` (the randomised layouts) as a module."""
    return load_testkit().randomized()


def signed_limits(text: str, sex: str) -> tuple[float | None, float | None] | str:
    """Limits of a printed range, negative numbers allowed ("-2.0 - 3.0"); independent of the
    medflow parser."""
    t = text.strip().strip("()").replace("–", "-").replace("—", "-").strip()
    split = re.findall(rf"\b([MF])\s*:?\s*((?:{_NUM})\s*-\s*(?:{_NUM}))", t)
    if split:
        t = dict(split).get(sex, split[0][1])
    t = re.sub(r"^(?:desirable|optimal)\s*:?\s*", "", t, flags=re.I)
    nums = [
        float(n.replace(",", ""))
        for n in re.findall(r"(?:^|(?<=[\s<>(]))-\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?", t)
    ]
    if re.match(r"^(?:<|up\s*to)", t, re.I) and nums:
        return None, nums[0]
    if t.startswith(">") and nums:
        return nums[0], None
    if len(nums) == 2 and re.search(r"-|to", t):
        return nums[0], nums[1]
    return t.casefold()


def signed_value(text: str) -> tuple[str, float] | str:
    """(comparator, number) of a printed value, negative allowed, or the qualitative word."""
    m = re.match(rf"^\s*([<>]=?)?\s*({_SIGNED})\s*$", text)
    if m:
        return m.group(1) or "", float(m.group(2).replace(",", ""))
    return text.strip().casefold()


def kept_unread(truth_row: dict[str, Any], unread_text: str) -> bool:
    """Whether a row not read is among the unread lines: its value printed there, or (OCR may
    misread the value) its name, matched loosely against each unread line's start, or every
    word of its name in one line (a name wrapped under its row: "Serum [2A ... / Magnesium"),
    or its printed unit and its printed range in one line (OCR misread both the name and the
    value: "Fite jangen $13 mg/dL 200 - 400" for Fibrinogen 513; added 2026-12-07)."""
    if truth_row["value_text"] in unread_text:
        return True
    name = truth_row["name"].lower()
    unit, limits = truth_row.get("unit_text", ""), " ".join(truth_row.get("range_text", "").split())
    return any(
        difflib.SequenceMatcher(None, name, line[: len(name)].lower()).ratio() >= 0.6
        or all(word in line.lower().split() for word in name.split())
        or (
            bool(unit)
            and any(c.isdigit() for c in limits)
            and unit in line.split()
            and limits in " ".join(line.split())
        )
        for line in unread_text.split("\n")
    )


def score_random(
    truth: dict[str, Any],
    rows: list[RawLabRow],
    unread_text: str,
    lost: list[str] | None = None,
) -> dict[str, int]:
    """Correct counts per field of one randomised report, plus ``n`` and ``vanished``; each
    vanished row's name and printed value are added to ``lost`` when given."""
    sex = truth["patient"]["sex"]
    got = dict.fromkeys((*RANDOM_FIELDS, "n", "vanished", "misnamed"), 0)
    aligned = align(truth["rows"], rows, lambda r: r.name)
    taken = {id(r) for r in aligned if r is not None}
    # rows read whose name matches no printed test (OCR garbled it): shown to the reader with
    # their line, among the results or the rows not recognised
    others = [r for r in rows if id(r) not in taken]
    for t, r in zip(truth["rows"], aligned, strict=True):
        got["n"] += 1
        if r is None:
            if kept_unread(t, unread_text):
                continue
            if any(signed_value(o.value_text) == signed_value(t["value_text"]) for o in others):
                got["misnamed"] += 1
            else:
                got["vanished"] += 1
                if lost is not None:
                    lost.append(f"{t['name']} {t['value_text']}")
            continue
        want_range = (
            (t["low"], t["high"])
            if t["low"] is not None or t["high"] is not None
            else t["range_text"].casefold()
        )
        got["found"] += 1
        got["value"] += signed_value(r.value_text) == signed_value(t["value_text"])
        got["unit"] += r.unit_text == t["unit_text"]
        got["range"] += signed_limits(r.range_text, sex) == want_range
        got["flag"] += r.flag_text == t["printed_flag"]
    return got


OUTCOMES = ("claimed_normal", "cautious", "not_read", "false_alarm", "false_reassurance")
"""What the summary of an all-normal report (``--all-normal``) said: that it is normal, and
rightly (every row read with its value); cautious (incomplete, check the original; nothing
called abnormal); not read (no lab values found: no summary, the error says so; counted as
cautious too); a false alarm (a finding or a result called abnormal); a false reassurance
(normal claimed while a row was not read)."""


def outcome(kit: Any, truth: dict[str, Any], report: Any) -> str:
    """The :data:`OUTCOMES` key of one report's summary (``report`` None: nothing read)."""
    if report is None:
        return "not_read"
    summary = report.summary
    if kit.claims_normality(summary.headline, summary.text):
        return "false_reassurance" if kit.false_reassurance(truth, report) else "claimed_normal"
    serious = {"significant", "critical"}
    if any(str(f.severity) in serious for f in summary.findings) or any(
        str(r.significance) in serious for r in report.results
    ):
        return "false_alarm"
    return "cautious"


def run_random(
    count: int, scanned: int, seed: int, *, all_normal: bool = False
) -> dict[str, dict[str, int]]:
    """Score ``count`` randomised text reports and ``scanned`` scanned variants (every value
    inside its range when ``all_normal``)."""
    gen = load_randomized()
    kit = load_testkit()
    analyzer = LabAnalyzer()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    jobs = [(seed + i, False) for i in range(count)]
    jobs += [(seed + i, True) for i in range(scanned)]
    for s, is_scan in jobs:
        data, truth = gen.build_random_report(s, scanned=is_scan, all_normal=all_normal)
        reassures = 0
        report = None
        try:
            doc = read_lab_document(data, f"random-{s}.pdf")
            rows, unread = doc.rows, "\n".join(u.text for u in doc.unread)
            sex = Sex.MALE if truth["patient"]["sex"] == "M" else Sex.FEMALE
            report = analyzer.interpret(
                doc.rows,
                PatientInfo(sex=sex, age=truth["patient"]["age"]),
                unread=document_unread(doc),
            )
            why = kit.false_reassurance(truth, report)
            if why:
                reassures = 1
                print(f"  FALSE REASSURANCE seed {s} ({truth['family']}): {why[:3]}")
        except InputError as exc:
            rows, unread = [], str(exc)
        lost: list[str] = []
        counts = score_random(truth, rows, unread, lost)
        counts |= {"reports": 1, "false_reassurance": reassures}
        if lost:
            print(f"  VANISHED seed {s} ({truth['family']}): {'; '.join(lost)}")
        if all_normal:
            said = outcome(kit, truth, report)
            counts |= {f"said_{key}": int(key == said) for key in OUTCOMES}
            counts["said_cautious"] += said == "not_read"
            if said in ("false_alarm", "not_read"):
                print(f"  {said.upper().replace('_', ' ')} seed {s} ({truth['family']})")
        keys = ["scanned", f"{truth['family']} (scan)"] if is_scan else ["text", truth["family"]]
        for key in keys:
            for field, ok in counts.items():
                totals[key][field] += ok
    return totals


def report_random(totals: dict[str, dict[str, int]], count: int, scanned: int, seed: int) -> None:
    """Print the randomised-layout table and the verdicts."""
    held = "held out: tuning used seeds 0-999" if seed >= 1000 else "TUNING seeds, not held out"
    last = seed + max(count, scanned) - 1
    normal = (
        ", every value inside its range"
        if any("said_cautious" in t for t in totals.values())
        else ""
    )
    print(
        f"randomised layouts{normal}: {count} text, {scanned} scanned, seeds {seed}-{last} ({held})"
    )
    order = sorted(k for k in totals if k not in ("text", "scanned"))
    for key in [*order, "text", "scanned"]:
        t = totals.get(key)
        if not t or not t["n"]:
            continue
        cells = "  ".join(f"{f}={100 * t[f] / t['n']:6.2f}%" for f in RANDOM_FIELDS)
        print(
            f"  {key:12s} rows={t['n']:5d}  {cells}  vanished={t['vanished']}  "
            f"misnamed={t['misnamed']}  "
            f"false reassurance={t['false_reassurance']}/{t['reports']} reports"
        )
    for key, target in (("text", 98.0), ("scanned", 95.0)):
        t = totals.get(key)
        if not t or not t["n"]:
            continue
        worst = min(100 * t[f] / t["n"] for f in RANDOM_FIELDS)
        verdict = "PASS" if worst >= target and not t["vanished"] else "FAIL"
        print(
            f"  random {key}: worst field {worst:.2f}% (target {target}%), "
            f"{t['vanished']} rows vanished -> {verdict}"
        )
        honest = "PASS" if not t["false_reassurance"] else "FAIL"
        print(
            f"  random {key}: summaries claiming normality while a row was not read or an "
            f"abnormal row was read as normal: {t['false_reassurance']} of {t['reports']} "
            f"(target 0) -> {honest}"
        )
        if "said_claimed_normal" in t:
            print(
                f"  all-normal {key}, {t['reports']} reports: claimed normal (correct) "
                f"{t['said_claimed_normal']}, cautious {t['said_cautious']} (of which not read "
                f"{t['said_not_read']}), false alarm {t['said_false_alarm']}, false reassurance "
                f"{t['said_false_reassurance']}"
            )


def main(argv: list[str] | None = None) -> int:
    """Generate, read, score and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", type=int, default=63, help="text reports (cycled over layouts)")
    ap.add_argument("--scanned", type=int, default=8, help="scanned reports (clean and noisy)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, help="also write the generated PDFs and JSON here")
    ap.add_argument("--random", type=int, default=200, help="randomised text reports")
    ap.add_argument(
        "--random-scanned", type=int, default=20, help="scanned variants of the first N of them"
    )
    ap.add_argument("--random-seed", type=int, default=10000, help="first randomised seed")
    ap.add_argument(
        "--all-normal",
        action="store_true",
        help="randomised reports with every value inside its range: count what each summary "
        "said (claimed normal, cautious, not read, false alarm, false reassurance)",
    )
    args = ap.parse_args(argv)
    if args.random or args.random_scanned:
        totals_random = run_random(
            args.random, args.random_scanned, args.random_seed, all_normal=args.all_normal
        )
        report_random(totals_random, args.random, args.random_scanned, args.random_seed)
    gen = load_generator()
    kb = load_interpret()
    jobs = [(TEXT_LAYOUTS[i % len(TEXT_LAYOUTS)], i) for i in range(args.text)]
    jobs += [(SCAN_LAYOUTS[i % 2], i) for i in range(args.scanned)]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: list[str] = []
    for layout, i in jobs:
        kind = "scanned" if layout in SCAN_LAYOUTS else "text"
        data, truth = gen.build_report(layout, args.seed * 1000 + i)
        name = f"{i:03d}_{layout}.pdf"
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / name).write_bytes(data)
            (args.out / name).with_suffix(".json").write_text(json.dumps(truth, indent=1))
        n = len(truth["rows"])
        try:
            rows, _ = read_lab_pdf(data, name)
        except InputError as exc:
            errors.append(str(exc))
            rows = []
        for level, counts in (
            ("rows", score_rows(truth, rows)),
            ("seed baseline", score_rows(truth, seed_rows(data))),
        ):
            for field, ok in counts.items():
                totals[f"{kind}|{level}"][field] += ok
            totals[f"{kind}|{level}"]["n"] += n
        if kb is not None:
            interpret, base = kb
            from medflow.domain.patient import PatientInfo, Sex

            patient = PatientInfo(
                sex=Sex.MALE if truth["patient"]["sex"] == "M" else Sex.FEMALE,
                age=truth["patient"]["age"],
            )
            results, _unrecognized = interpret(rows, patient, base)
            for field, ok in score_results(truth, list(results)).items():
                totals[f"{kind}|interpreted"][field] += ok
            totals[f"{kind}|interpreted"]["n"] += n
    report(totals, kb is not None, args)
    for e in errors:
        print(f"  read error: {e}")
    return 0


def report(totals: dict[str, dict[str, int]], interpreted: bool, args: Any) -> None:
    """Print the accuracy table and the ratio against the seed baseline."""
    print(
        f"labs accuracy: {args.text} text reports, {args.scanned} scanned reports, seed {args.seed}"
    )
    if not interpreted:
        print("  (medflow.analyzers.labs.interpret not present: row-level fields only)")
    for key in sorted(totals):
        kind, level = key.split("|")
        t = totals[key]
        fields = KB_FIELDS if level == "interpreted" else ROW_FIELDS
        cells = "  ".join(f"{f}={100 * t[f] / t['n']:6.2f}%" for f in fields)
        print(f"  {kind:8s} {level:14s} rows={t['n']:5d}  {cells}")
    for kind, target in (("text", 99.0), ("scanned", 95.0)):
        level = "interpreted" if interpreted else "rows"
        t = totals.get(f"{kind}|{level}")
        base = totals.get(f"{kind}|seed baseline")
        if not t or not base:
            continue
        fields = KB_FIELDS if level == "interpreted" else ROW_FIELDS
        worst = min(100 * t[f] / t["n"] for f in fields)
        base_mean = sum(base[f] for f in ROW_FIELDS) / (len(ROW_FIELDS) * base["n"]) * 100
        mean = sum(t[f] for f in fields) / (len(fields) * t["n"]) * 100
        ratio = f"ratio {mean / base_mean:.2f}x" if base_mean else "the seed reads nothing"
        verdict = "PASS" if worst >= target else "FAIL"
        print(
            f"  {kind}: worst field {worst:.2f}% (target {target}%) {verdict}; mean {mean:.2f}% "
            f"vs seed baseline {base_mean:.2f}% -> {ratio}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
