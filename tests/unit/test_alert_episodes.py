"""The low-stock episode rule (`next_episode_state`) on scripted stock levels, and the header/address guards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from include.inventory.alerts import (
    CRITICAL,
    LOW,
    InvalidAddress,
    Transition,
    last_complete_day,
    next_episode_state,
    one_line,
    parse_recipients,
    validate_address,
)
from include.inventory.alerts.messages import csv_bytes


def _play(levels: list[int], threshold: int = 10) -> list[tuple[str | None, str | None]]:
    """Each level as the published tables describe it: low when at or under the threshold, out when 0."""
    state, out = None, []
    for quantity in levels:
        step = next_episode_state(state, quantity <= threshold, quantity == 0)
        state = step.state
        out.append((step.state, step.event))
    return out


def test_scripted_stock_levels():
    levels = [50, 12, 10, 8, 10, 3, 0, 0, 4, 0, 11, 60, 9, 0, 25]
    assert _play(levels) == [
        (None, None),  # 50: above the threshold, nothing
        (None, None),  # 12: still above
        (LOW, "opened"),  # 10: at the threshold opens
        (LOW, None),  # 8: no repeat while open
        (LOW, None),  # 10
        (LOW, None),  # 3
        (CRITICAL, "escalated"),  # 0: stock-out escalates
        (CRITICAL, None),  # 0 again: once only
        (CRITICAL, None),  # 4: partly restocked, still critical, no new event
        (CRITICAL, None),  # 0: not a second escalation
        (None, "closed"),  # 11: restocked above the threshold closes
        (None, None),  # 60
        (LOW, "opened"),  # 9: a new episode after the restock
        (CRITICAL, "escalated"),  # 0
        (None, "closed"),  # 25
    ]


@pytest.mark.parametrize(
    ("prev", "low", "out", "expected"),
    [
        (None, True, True, Transition(CRITICAL, "opened")),  # a first sight at 0 opens critical directly
        (None, True, False, Transition(LOW, "opened")),
        (LOW, False, False, Transition(None, "closed")),
        (CRITICAL, False, False, Transition(None, "closed")),
        (CRITICAL, True, False, Transition(CRITICAL, None)),
        (None, False, False, Transition(None, None)),
    ],
)
def test_edges(prev, low, out, expected):
    assert next_episode_state(prev, low, out) == expected


@pytest.mark.parametrize(("prev", "low", "out"), [(None, False, True), ("gone", True, False)])
def test_rejects_nonsense(prev, low, out):
    with pytest.raises(ValueError):
        next_episode_state(prev, low, out)


def test_one_line_strips_line_breaks():
    assert one_line("Eve\r\nBcc: x@example.com\u2028 ok") == "Eve Bcc: x@example.com ok"


@pytest.mark.parametrize(
    "bad",
    ["", "no-at-sign", "a@b", "Eve <eve@example.com>", "eve@example.com\r\nBcc: x@example.com", "a b@example.com"],
)
def test_validate_address_rejects(bad):
    with pytest.raises(InvalidAddress):
        validate_address(bad)


def test_parse_recipients_skips_invalid_and_duplicates():
    assert parse_recipients(" a@example.com, ,bad,b@example.com,a@example.com ") == ["a@example.com", "b@example.com"]
    assert parse_recipients("") == []


@pytest.mark.parametrize(
    ("as_of", "day"),
    [
        (datetime(2024, 5, 2, 6, 0, tzinfo=UTC), date(2024, 5, 1)),  # May 2 is partial
        (datetime(2024, 5, 2, 0, 0, tzinfo=UTC), date(2024, 5, 1)),  # May 1 ended exactly at as_of
        (datetime(2024, 5, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))), date(2024, 4, 30)),  # 23:00 UTC May 1
    ],
)
def test_last_complete_day(as_of, day):
    assert last_complete_day(as_of) == day


def test_csv_cells_cannot_become_spreadsheet_formulas():
    data = csv_bytes(["name", "amount"], [['=HYPERLINK("http://x")', "-3"], ["@SUM(A1)", "-7.50"]]).decode()
    assert data.splitlines() == ["name,amount", '"\'=HYPERLINK(""http://x"")",-3', "'@SUM(A1),-7.50"]
