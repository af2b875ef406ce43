"""Display decisions shared by the lab page and email: units, values, ordering, range bars."""

from __future__ import annotations

import pytest

from medflow.domain.labs import LabReport, LabResult, ReferenceRange
from medflow.reports.labs_view import (
    display_unit,
    display_value,
    range_bar,
    range_text,
    results_by_priority,
    sections,
    sparkline,
)


def _with(result: LabResult, **update: object) -> LabResult:
    return result.model_copy(update=update)


def _by_id(report: LabReport, test_id: str | None) -> LabResult:
    return next(r for r in report.results if r.test_id == test_id)


@pytest.mark.parametrize(
    ("ucum", "shown"),
    [
        ("10*3/uL", "10³/µL"),
        ("10*12/L", "10¹²/L"),
        ("uIU/mL", "µIU/mL"),
        ("umol/L", "µmol/L"),
        ("mmol/L", "mmol/L"),
        ("U/L", "U/L"),
        ("{cells}/uL", "cells/µL"),
    ],
)
def test_units_read_as_people_write_them(ucum: str, shown: str) -> None:
    assert display_unit(ucum) == shown


def test_values_keep_comparators_and_words(full_report: LabReport) -> None:
    assert display_value(_by_id(full_report, "crp")) == "<0.5"
    assert display_value(_by_id(full_report, "platelets")) == "412"
    assert display_value(_by_id(full_report, "urine_protein")) == "Positive"


def test_range_text_prefers_the_printed_text(full_report: LabReport) -> None:
    chol = _by_id(full_report, "cholesterol_total")
    assert range_text(chol) == "Desirable: <200"
    bare = _with(chol, reference_range=ReferenceRange(high=200.0))
    assert range_text(bare) == "< 200"
    assert range_text(_with(chol, reference_range=ReferenceRange(low=40.0))) == "> 40"


def test_priority_puts_critical_then_significant_first(full_report: LabReport) -> None:
    order = [r.significance.value for r in results_by_priority(full_report)]
    assert order[0] == "critical"
    assert order == sorted(order, key=["critical", "significant", "noise", "normal"].index)
    assert [name for name, _ in sections(full_report)][:2] == ["CBC", "CMP"]


def test_value_inside_a_two_sided_range_sits_inside_the_band(full_report: LabReport) -> None:
    bar = range_bar(_by_id(full_report, "sodium"))
    assert bar is not None
    assert bar.band_x0 < bar.marker_x < bar.band_x1
    assert bar.position == "within"
    assert (bar.low_label, bar.high_label) == ("135", "145")
    assert not bar.censored
    assert not bar.off_scale


def test_high_and_low_values_fall_outside_the_band(full_report: LabReport) -> None:
    k = range_bar(_by_id(full_report, "potassium"))
    hb = range_bar(_by_id(full_report, "hemoglobin"))
    assert k is not None
    assert hb is not None
    assert k.marker_x > k.band_x1
    assert k.position == "above"
    assert hb.marker_x < hb.band_x0
    assert hb.position == "below"
    # Both are drawn inside the picture, with room for the marker.
    assert 8 <= hb.marker_x < k.marker_x <= k.width - 8


def test_one_sided_ranges_run_to_the_edge(full_report: LabReport) -> None:
    chol = range_bar(_by_id(full_report, "cholesterol_total"))
    hdl = range_bar(_by_id(full_report, "hdl"))
    assert chol is not None
    assert hdl is not None
    assert chol.band_x0 == 8
    assert chol.low_label == ""
    assert chol.position == "above"
    assert hdl.band_x1 == hdl.width - 8
    assert hdl.high_label == ""
    assert hdl.position == "below"


def test_censored_value_points_the_way_of_its_comparator(full_report: LabReport) -> None:
    crp = _by_id(full_report, "crp")
    bar = range_bar(crp)
    assert bar is not None
    assert bar.censored
    assert bar.censored_dir == "left"
    above = range_bar(_with(crp, comparator=">", value=90.0))
    assert above is not None
    assert above.censored_dir == "right"


def test_extreme_value_is_pinned_to_the_edge(full_report: LabReport) -> None:
    k = _by_id(full_report, "potassium")
    bar = range_bar(_with(k, value=60.0))
    assert bar is not None
    assert bar.off_scale
    assert bar.marker_x == bar.width - 8
    # The band keeps a readable width instead of being squashed by the outlier.
    assert bar.band_x1 - bar.band_x0 > 20


def test_no_bar_without_a_number_or_a_range(full_report: LabReport) -> None:
    assert range_bar(_by_id(full_report, "urine_protein")) is None
    assert range_bar(_with(_by_id(full_report, "sodium"), reference_range=None)) is None
    text_only = ReferenceRange(text="see comment")
    assert range_bar(_with(_by_id(full_report, "sodium"), reference_range=text_only)) is None


def test_sparkline_spaces_points_by_date_and_value(full_report: LabReport) -> None:
    (trend,) = full_report.summary.trends
    first, last = sparkline(trend.points)
    assert first[0] < last[0]
    assert last[1] < first[1]  # the rise is drawn upwards (SVG y grows down)
    assert sparkline(trend.points[:1]) == []
