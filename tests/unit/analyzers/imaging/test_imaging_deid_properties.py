"""Properties of the UID map and the date shift, over generated inputs (hypothesis)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from medflow.analyzers.imaging.deid import Deidentifier, UIDMapper, _shift_da
from medflow.domain.imaging import DeidOptions

SECRET = b"property-secret-0123456789abcdef"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")  # PS3.5 9.1

components = st.integers(min_value=0, max_value=10**12).map(str)
uids = st.lists(components, min_size=2, max_size=12).map(".".join).filter(lambda u: len(u) <= 64)


@given(uids)
@settings(max_examples=200, deadline=None)
def test_mapped_uids_are_valid_new_and_stable(uid: str) -> None:
    mapper = UIDMapper(SECRET)
    new = mapper.map(uid)
    assert UID_RE.match(new)
    assert len(new) <= 64
    assert new.startswith("2.25.")
    assert new != uid
    assert UIDMapper(SECRET).map(uid) == new


@given(st.lists(uids, min_size=2, max_size=20, unique=True))
@settings(max_examples=50, deadline=None)
def test_distinct_uids_stay_distinct(many: list[str]) -> None:
    mapper = UIDMapper(SECRET)
    assert len({mapper.map(u) for u in many}) == len(many)


@given(
    st.text(min_size=0, max_size=20),
    st.dates(min_value=date(1900, 6, 1), max_value=date(2100, 1, 1)),
    st.dates(min_value=date(1900, 6, 1), max_value=date(2100, 1, 1)),
)
@settings(max_examples=100, deadline=None)
def test_date_shift_keeps_intervals_within_a_patient(patient: str, a: date, b: date) -> None:
    deid = Deidentifier(SECRET, DeidOptions(shift_dates=True, max_shift_days=120))
    days = deid.date_shift_days(patient)
    assert -120 <= days <= -1
    shifted_a = _shift_da(a.strftime("%Y%m%d"), days)
    shifted_b = _shift_da(b.strftime("%Y%m%d"), days)
    assert shifted_a == (a + timedelta(days=days)).strftime("%Y%m%d")
    assert shifted_a is not None
    assert shifted_b is not None
    parse = lambda s: date(int(s[:4]), int(s[4:6]), int(s[6:8]))  # noqa: E731
    assert (parse(shifted_b) - parse(shifted_a)).days == (b - a).days


def test_unparseable_dates_are_not_shifted() -> None:
    assert _shift_da("2024-13-01", -3) is None
    assert _shift_da("20241301", -3) is None
    assert _shift_da("", -3) is None
