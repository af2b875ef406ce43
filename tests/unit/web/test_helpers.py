"""Upload checks, file-name cleaning, login slow-down schedule and trend series."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medflow.errors import FileTooLargeError, InputError, UnsupportedFileError
from medflow.platform.db import Observation
from medflow.web.charts import HEIGHT, series_of
from medflow.web.security import slowdown_s
from medflow.web.uploads import check_content, check_declared, safe_filename


def test_safe_filename_strips_paths_and_odd_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\reports\\lab 1 (final).pdf") == "lab_1_final_.pdf"
    assert safe_filename(".hidden.pdf") == "hidden.pdf"
    with pytest.raises(InputError):
        safe_filename("///")


def test_declared_type_and_size_are_checked_per_pipeline() -> None:
    check_declared("a.pdf", "labs", "application/pdf", 10, 100)
    with pytest.raises(UnsupportedFileError, match="text/csv is not accepted by labs"):
        check_declared("a.csv", "labs", "text/csv", 10, 100)
    with pytest.raises(FileTooLargeError):
        check_declared("a.pdf", "labs", "application/pdf", 101, 100)
    with pytest.raises(InputError, match="empty"):
        check_declared("a.pdf", "labs", "application/pdf", 0, 100)


def test_content_must_start_like_its_type() -> None:
    check_content("a.pdf", "labs", "application/pdf", b"%PDF-1.7")
    check_content("a.tif", "labs", "image/tiff", b"MM\x00*rest")
    with pytest.raises(UnsupportedFileError):
        check_content("a.png", "labs", "image/png", b"%PDF-1.7")


def test_login_slowdown_is_free_then_doubles_and_is_capped() -> None:
    assert [slowdown_s(n) for n in range(6)] == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0]
    assert slowdown_s(100) == 300.0


def _obs(value: float, day: int, unit: str = "g/dL") -> Observation:
    return Observation(
        name="Hemoglobin",
        value=value,
        unit=unit,
        loinc="718-7",
        flag="L" if value < 12 else "N",
        ref_low=12.0,
        ref_high=15.5,
        collected_at=datetime(2026, 1, day, tzinfo=UTC),
        document_id=f"d{day}",
    )


def test_series_group_by_test_keep_one_unit_and_scale_inside_the_chart() -> None:
    series = series_of([_obs(11.0, 1), _obs(12.5, 2), _obs(125.0, 3, unit="g/L"), _obs(13.1, 4)])
    assert len(series) == 1
    s = series[0]
    assert s.unit == "g/dL"
    assert [label for label, _, _ in s.points] == ["2026-01-01", "2026-01-02", "2026-01-04"]
    ys = [y for _, y, *_ in s.coords()]
    assert all(0 <= y <= HEIGHT for y in ys)
    assert ys[0] > ys[-1]  # a lower value is drawn lower (larger y)
    band = s.band()
    assert band is not None and band[1] > 0
