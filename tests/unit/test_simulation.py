"""The simulation model on tiny, hand-checked inputs (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from include.inventory import simulation as sim

CONFIG = sim.SimConfig(seed=7, locations=2, warehouses=3, suppliers=4, shrinkage_per_pair_day=0.5)
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def params(product_id=1, warehouse_id=1, **overrides) -> sim.PairParams:
    base = dict(
        product_id=product_id,
        warehouse_id=warehouse_id,
        daily_demand=20.0,
        max_units_per_sale=3,
        reorder_point=40,
        order_quantity=100,
        initial_stock=60,
        lead_time_days=2,
        supplier_id=1,
        unit_cost=Decimal("7.50"),
        unit_price=Decimal("10.00"),
    )
    base.update(overrides)
    return sim.PairParams(**base)


def run_days(pp: list[sim.PairParams], days: int):
    states, all_rows = {}, []
    for start, end in sim.day_windows(DAY0 + timedelta(days=days), days):
        rows, states = sim.simulate_window(CONFIG, pp, states, start, end)
        all_rows.append(rows)
    return all_rows, states


def test_stock_is_conserved_per_pair():
    pp = [params(1, 1), params(2, 1, daily_demand=3.0, initial_stock=45), params(1, 2)]
    all_rows, states = run_days(pp, 30)
    for p in pp:
        key = (p.product_id, p.warehouse_id)
        counts = sorted((r for rows in all_rows for r in rows.counts if r[:2] == key), key=lambda r: r[4])
        sold = sum(r[2] for rows in all_rows for r in rows.sales if r[:2] == key)
        received = sum(r[4] for rows in all_rows for r in rows.receipts if r[1:3] == key)
        shrunk = sum(r[3] for rows in all_rows for r in rows.shrinkage if r[:2] == key)
        assert counts[0][3] == "initial" and counts[0][2] == p.initial_stock
        assert counts[-1][2] == counts[0][2] + received - sold - shrunk == states[key].on_hand
        assert sold > 0 and received > 0  # 30 days at 20/day from 60 units: it must have reordered


def test_same_seed_and_window_reproduce_the_same_rows():
    first, _ = run_days([params()], 5)
    again, _ = run_days([params()], 5)
    assert [vars(r) for r in first] == [vars(r) for r in again]
    other = sim.simulate_window(sim.SimConfig(seed=8), [params()], {}, DAY0, DAY0 + timedelta(days=1))[0]
    assert vars(other) != vars(first[0])


def test_events_stay_inside_the_window_and_never_oversell():
    all_rows, _ = run_days([params(initial_stock=5, reorder_point=2, daily_demand=40.0)], 3)
    for i, rows in enumerate(all_rows):
        start, end = DAY0 + timedelta(days=i), DAY0 + timedelta(days=i + 1)
        assert all(start <= r[4] < end for r in rows.sales)
        assert all(start <= r[7] < end for r in rows.receipts)
        assert all(r[2] >= 0 for r in rows.counts)
        assert all(r[2] > 0 for r in rows.sales)


def test_reorder_when_stock_reaches_the_reorder_point_and_receive_after_lead_time():
    rows, states = sim.simulate_window(CONFIG, [params(initial_stock=41)], {}, DAY0, DAY0 + timedelta(days=1))
    assert len(rows.orders) == 1
    order_id, _, _, supplier, qty, cost, ordered_at, expected_at = rows.orders[0]
    assert (supplier, qty, cost) == (1, 100, Decimal("7.50"))
    assert timedelta(days=2) <= expected_at - ordered_at <= timedelta(days=2, hours=12)
    assert rows.receipts == []  # arrives after this one-day window
    assert states[(1, 1)].pending[0].order_id == order_id
    later, _ = run_days([params(initial_stock=41)], 4)
    receipts = [r for rows in later for r in rows.receipts]
    assert receipts and receipts[0][0] == order_id and receipts[0][7] == expected_at


def test_counts_full_at_day_end_and_only_moved_pairs_within_a_day():
    pp = [params(1, 1), params(2, 1, daily_demand=0.0001)]
    states = {(1, 1): sim.PairState(60), (2, 1): sim.PairState(50)}
    start = DAY0 + timedelta(hours=12)
    rows, _ = sim.simulate_window(
        sim.SimConfig(seed=1, shrinkage_per_pair_day=0), pp, states, start, start + timedelta(hours=6)
    )
    assert {r[0] for r in rows.counts} == {1}  # product 2 did not move: no count
    assert all(r[3] == "window" for r in rows.counts)
    rows, _ = sim.simulate_window(
        sim.SimConfig(seed=1, shrinkage_per_pair_day=0), pp, states, DAY0, DAY0 + timedelta(days=1)
    )
    assert sorted((r[0], r[3]) for r in rows.counts) == [(1, "daily"), (2, "daily")]


def test_shrinkage_is_recorded_as_ground_truth():
    all_rows, _ = run_days([params(daily_demand=2.0, initial_stock=200)], 20)
    shrink = [r for rows in all_rows for r in rows.shrinkage]
    assert shrink, "0.5 events a day over 20 days: some shrinkage expected"
    assert all(r[4] in sim.SHRINKAGE_REASONS and 1 <= r[3] <= 5 for r in shrink)


def test_master_data_is_stable_and_grows_by_extension():
    small = sim.build_master_data(sim.SimConfig(seed=3, locations=2, warehouses=3, suppliers=4))
    large = sim.build_master_data(sim.SimConfig(seed=3, locations=2, warehouses=6, suppliers=9))
    assert large.locations == small.locations
    assert large.warehouses[:3] == small.warehouses and large.suppliers[:4] == small.suppliers
    assert all(s[2].endswith(".example.com") for s in large.suppliers)
    assert len({w[1] for w in large.warehouses}) == 6


def test_product_supplier_links_one_to_three_with_one_primary():
    links = sim.product_supplier_links(CONFIG, [(p, Decimal("5.00")) for p in range(1, 50)])
    by_product: dict[int, list] = {}
    for product_id, supplier_id, price, primary in links:
        by_product.setdefault(product_id, []).append((supplier_id, price, primary))
    assert set(by_product) == set(range(1, 50))
    for entries in by_product.values():
        assert 1 <= len(entries) <= 3
        assert [e[2] for e in entries].count(True) == 1
        assert len({e[0] for e in entries}) == len(entries)


@pytest.mark.parametrize("bad", [dict(locations=0), dict(warehouses=2, locations=3)])
def test_config_rejects_impossible_scales(bad):
    with pytest.raises(ValueError):
        sim.SimConfig(**bad)


def test_day_windows_end_at_midnight():
    windows = sim.day_windows(datetime(2026, 5, 10, 15, 30, tzinfo=UTC), 3)
    assert windows[-1][1] == datetime(2026, 5, 10, tzinfo=UTC)
    assert [e - s for s, e in windows] == [timedelta(days=1)] * 3
    assert all(windows[i][1] == windows[i + 1][0] for i in range(2))


def test_dear_products_sell_fewer_units_a_day_than_cheap_ones():
    """Demand falls with price (sim.ELASTICITY) and by category, seeded per pair, with a floor: on simulated sales
    over two weeks, 40 pairs of a 2.50 product sell far more units than 40 of a 2,500.00 one, and every
    dear pair still has a positive rate."""

    def pairs(price: str, category: str = "Other", first_id: int = 1) -> list[sim.PairParams]:
        return [
            sim.pair_params(CONFIG, first_id + i, 1, 3, Decimal(price), 1, Decimal(price) / 2, category)
            for i in range(40)
        ]

    cheap, dear = pairs("2.50"), pairs("2500.00", first_id=101)
    assert pairs("2.50") == cheap  # deterministic
    assert all(p.daily_demand >= sim.DEMAND_FLOOR for p in dear)
    units = {}
    for name, pp in (("cheap", cheap), ("dear", dear)):
        all_rows, _ = run_days(pp, 14)
        units[name] = sum(r[2] for rows in all_rows for r in rows.sales) / (len(pp) * 14)
    assert units["dear"] * 20 < units["cheap"], units
    # The category factor: vehicles turn slower than groceries at the same price.
    vehicle = sum(p.daily_demand for p in pairs("25.00", "Vehicle"))
    grocery = sum(p.daily_demand for p in pairs("25.00", "Groceries"))
    assert vehicle < grocery
