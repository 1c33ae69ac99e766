"""The minute-cycle report's arithmetic: cycle = minute end -> analytics done; nearest-rank p95."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.cycles import Cycle, render, summary

T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


def cycle(minute: int, ingest_s: float, analytics_s: float | None) -> Cycle:
    end = T0 + timedelta(minutes=minute)
    done = end + timedelta(seconds=analytics_s) if analytics_s is not None else None
    return Cycle(end, end + timedelta(seconds=ingest_s), done, "run" if done else None)


def test_summary_of_complete_cycles_only():
    cycles = [cycle(i, 5, s) for i, s in enumerate([30, 40, 35, 70, 32, 31, 33, 34, 36, 38])] + [cycle(10, 5, None)]
    assert summary(cycles) == {"cycles": 10, "median_s": 34.5, "p95_s": 70.0, "max_s": 70.0, "within_60s": 9}


def test_p95_is_nearest_rank():
    cycles = [cycle(i, 1, float(s)) for i, s in enumerate(range(1, 41))]  # 1..40 s
    assert summary(cycles)["p95_s"] == 38.0  # ceil(0.95 * 40) = 38th value


def test_render_says_what_is_missing():
    text = render([cycle(0, 12.5, 41.25), cycle(1, 6, None)])
    assert "2026-11-23 22:00" in text and "+12.5 s" in text and "+41.2 s" in text and "not yet" in text
    assert "1 complete cycles: median 41.2 s" in text and "1 of 1 within the minute" in text
    assert "no complete cycle yet" in render([])
