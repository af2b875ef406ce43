"""De-identification: redaction, consistent surrogates, date shifting, offset map."""

from __future__ import annotations

from datetime import datetime

import pytest

from medflow.analyzers.clinical.deid import deidentify
from medflow.errors import EmptyInputError

NOTE = (
    "Patient: John Carter, 67-year-old male, MRN 4482913, seen on 03/14/2024 by Dr. Alice "
    "Nguyen. John Carter called (617) 555-0142 on 03/20/2024 from 42 Elm Street, Springfield, "
    "IL 62704."
)
SECRETS = ("John", "Carter", "4482913", "03/14/2024", "Alice", "555-0142", "Elm Street")


def test_redact_removes_every_identifier() -> None:
    result = deidentify(NOTE, mode="redact")
    for secret in SECRETS:
        assert secret not in result.text
    assert "[NAME]" in result.text
    assert "[ID]" in result.text
    assert result.text.startswith("Patient: [NAME], [AGE] male")


def test_surrogates_are_consistent_and_keyed() -> None:
    first = deidentify(NOTE, mode="surrogate", key="patient-1")
    again = deidentify(NOTE, mode="surrogate", key="patient-1")
    other = deidentify(NOTE, mode="surrogate", key="patient-2")
    assert first.text == again.text
    assert first.text != other.text
    for secret in SECRETS:
        assert secret not in first.text
    names = [first.text[r.begin : r.end] for r in first.replacements if r.type == "NAME"]
    assert names[0] == names[2]  # both mentions of John Carter get the same fake


def test_dates_keep_their_interval() -> None:
    result = deidentify(NOTE, mode="surrogate", key="k")
    dates = [result.text[r.begin : r.end] for r in result.replacements if r.type == "DATE"]
    first, second = (datetime.strptime(d, "%m/%d/%Y") for d in dates)
    assert (second - first).days == 6


def test_offset_map_points_into_both_texts() -> None:
    result = deidentify(NOTE, mode="surrogate")
    for r in result.replacements:
        assert NOTE[r.original_begin : r.original_end]
        assert result.text[r.begin : r.end]
    tail = result.text.index(" male")
    assert NOTE[result.to_original(tail) :].startswith(" male")
    assert "John" not in result.model_dump_json()


def test_old_ages_are_aggregated() -> None:
    assert "90+ yo" in deidentify("A 93 yo woman with cough.", mode="surrogate").text


def test_empty_text_is_refused() -> None:
    with pytest.raises(EmptyInputError):
        deidentify("")
