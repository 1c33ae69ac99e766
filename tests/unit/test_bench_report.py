"""The bench report: statistics, ratios of medians, targets, and a table with a row for everything measured."""

from __future__ import annotations

import pytest

from bench import report


def section() -> report.Section:
    # Medians 10 and 2; means 40 and 2: a ratio taken from the means (or the last sample) would not be 5.
    return report.Section(
        "publish",
        "Publish",
        [report.Series("seed", "s", [10.0, 100.0, 9.0, 11.0, 50.0]), report.Series("ours", "s", [2.0, 1.0, 3.0])],
        [report.Ratio("speed-up", "seed", "ours", report.Target(">=", 5))],
        [report.Check("p95 under 3 s", "ours", "p95", report.Target("<", 3))],
        notes=["a note"],
    )


def test_ratio_is_median_over_median_and_targets_are_evaluated():
    doc = report.build([section()], {"scale": "tiny"})
    (sec,) = doc["sections"]
    assert [s["median"] for s in sec["series"]] == [11.0, 2.0]
    assert sec["series"][0]["n"] == 5 and sec["series"][0]["min"] == 9.0 and sec["series"][0]["max"] == 100.0
    (ratio,) = sec["ratios"]
    assert ratio["value"] == pytest.approx(5.5)
    assert ratio["met"] is True
    (check,) = sec["checks"]
    assert check["value"] == pytest.approx(2.9)  # p95 of 1, 2, 3 by linear interpolation
    assert check["met"] is True


def test_a_missed_target_says_no():
    sec = section()
    sec.ratios = [report.Ratio("speed-up", "seed", "ours", report.Target(">=", 6, "at M"))]
    doc = report.build([sec], {})
    assert doc["sections"][0]["ratios"][0]["met"] is False
    table = report.markdown(doc)
    assert "**no**" in table and ">= 6 (at M)" in table


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [([5.0], 0.95, 5.0), ([1.0, 2.0, 3.0, 4.0, 5.0], 0.95, 4.8), ([3.0, 1.0, 2.0], 0.5, 2.0)],
)
def test_percentile(samples, q, expected):
    assert report.percentile(samples, q) == pytest.approx(expected)


def test_markdown_has_a_row_per_series_ratio_and_check(tmp_path):
    doc = report.build([section()], {"scale": "tiny", "command": "python -m bench --scale tiny"})
    table = report.markdown(doc)
    for text in ("| seed |", "| ours |", "*speed-up*", "*p95 under 3 s*", "**5.50x**", "a note"):
        assert text in table
    json_path, md_path = report.write(doc, tmp_path, "tiny")
    assert json_path.exists() and "python -m bench --scale tiny" in md_path.read_text()


def test_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="unknown comparison"):
        report.Target("=>", 1)
