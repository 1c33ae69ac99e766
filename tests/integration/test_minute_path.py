"""The minute path: incremental analytics on the warm Spark Connect server, in proportion to what changed.

Three days of history and a full rebuild (spark-submit), then one-minute batches around a midnight, each
followed by a run of the real analytics DAG (dag.test()) on this session's Spark Connect server. The modes the
plan picks, what the publishes wrote, a catch-up over skipped minutes, and finally the tables after all of it
against a full rebuild by spark-submit: equal, row for row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from analytics_helpers import on_order_against_raw, orphan_keys, published, run_analytics
from db_helpers import rows as query

from include.inventory import simulation as sim
from include.inventory.batches import Batch, run_batch

pytestmark = pytest.mark.slow

# Busy enough that every minute moves some pairs (about 15 of the 120), few enough that most stay as they are.
CONFIG = sim.SimConfig(seed=7, locations=2, warehouses=3, suppliers=4, shrinkage_per_pair_day=0.5, demand_scale=8)
END = datetime(2026, 10, 1, tzinfo=UTC)  # the history ends at 00:00
EVENING = END + timedelta(hours=23, minutes=57)  # the minutes start at 23:57 and cross the next midnight
MINUTE = timedelta(minutes=1)


def last_publish(conn) -> dict:
    row = query(
        conn, "SELECT mode, pairs, as_of, tables, from_date FROM analytics.publish_log ORDER BY publish_id DESC"
    )
    mode, pairs, as_of, tables, from_date = row[0]
    return {"mode": mode, "pairs": pairs, "as_of": as_of, "tables": tables, "from_date": from_date}


def minute(conn, start: datetime) -> None:
    sim.run_window(conn, CONFIG, start, start + MINUTE)


@pytest.fixture(scope="module")
def history(airflow_db, simulated_history, spark_connect_server):
    with simulated_history(CONFIG, END, 3, 40, "minutes") as conn:
        run_analytics(END + timedelta(minutes=1), full_refresh=True)
        assert last_publish(conn)["mode"] == "full"
        yield conn


def test_a_minute_publishes_only_the_pairs_it_touched(history):
    conn = history
    (all_pairs,) = query(conn, "SELECT count(*) FROM analytics.current_stock")[0]
    modes, gates = [], []
    for start in (EVENING, EVENING + MINUTE):
        minute(conn, start)
        run = run_analytics(start + MINUTE + timedelta(seconds=5))
        log = last_publish(conn)
        assert log["as_of"] == start + MINUTE
        modes.append(log["mode"])
        engine = run.get_task_instance("build_analytics").xcom_pull(task_ids="build_analytics")["engine"]
        assert engine == "spark_connect"
        checks = [ti for ti in run.get_task_instances() if ti.task_id == "quality_gate.check"]
        gates.append(
            {ti.rendered_map_index: ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index) for ti in checks}
        )
    # 23:58 is the first run of a new day after the 00:00 publish (every pair's windows moved); 23:59 is a
    # steady minute: only the pairs its batch touched.
    assert modes == ["window", "pairs"]
    # The window run's gate: one instance per check. The minute's: one instance running all of them, each by name.
    window_gate, minute_gate = gates
    assert len(window_gate) > 1 and "all_checks" not in window_gate
    assert list(minute_gate) == ["all_checks"]
    ran = minute_gate["all_checks"]
    assert "no_negative_stock" in ran and any(name.startswith("unique_key_") for name in ran)
    assert set(ran.values()) == {0}
    log = last_publish(conn)
    assert 0 < log["pairs"] < all_pairs
    changed = log["tables"]
    assert "dim_products" not in changed  # not rewritten: nothing in it changed
    assert 0 < changed["current_stock"]["inserted"] <= log["pairs"]
    assert changed["fact_inventory_reconciliation"]["inserted"] <= log["pairs"]


def test_midnight_rolls_every_pair_and_then_goes_back_to_pairs(history):
    conn = history
    modes = []
    for start in (EVENING + 2 * MINUTE, EVENING + 3 * MINUTE, EVENING + 4 * MINUTE):  # 23:59, 00:00, 00:01
        minute(conn, start)
        run_analytics(start + MINUTE + timedelta(seconds=5))
        modes.append(last_publish(conn)["mode"])
    # as of 00:00 the complete-day windows (demand, aging) moved; as of 00:01 a new day has its first rows.
    assert modes == ["window", "window", "pairs"]
    # As of 00:01 the new day is under way: flagged, without growth; day on day is about the day that just ended.
    new_day = (EVENING + 3 * MINUTE).date()
    days = query(conn, "SELECT date_key, is_complete_day, revenue_growth_pct FROM analytics.sales_daily")
    assert days and all(complete == (day < new_day) for day, complete, _ in days)
    assert all(growth is None for _, complete, growth in days if not complete)
    assert query(conn, "SELECT dod_day FROM analytics.kpi_sales_summary") == [(new_day - timedelta(days=1),)]


def test_skipped_minutes_are_caught_up_in_one_run(history):
    conn = history
    first = EVENING + 5 * MINUTE
    starts = [first + i * MINUTE for i in range(4)]
    for start in starts:
        minute(conn, start)
    touched = query(
        conn,
        "SELECT count(DISTINCT (product_id, warehouse_id)) FROM raw.inventory "
        "WHERE counted_at > %s AND counted_at <= %s",
        (first, starts[-1] + MINUTE),
    )[0][0]
    run_analytics(starts[-1] + MINUTE + timedelta(seconds=5))
    log = last_publish(conn)
    assert log["as_of"] == starts[-1] + MINUTE  # every minute since the last publish, in one run
    assert log["mode"] == "pairs" and log["pairs"] >= touched


def only_orders(conn, start: datetime, orders=(), receipts=()) -> None:
    """A minute batch holding nothing but these purchase orders or receipts (simulation.WindowRows tuples)."""
    rows = sim.WindowRows(orders=list(orders), receipts=list(receipts))
    batch = Batch(sim.window_batch_id(start, start + MINUTE), "simulation", "simulator", start, start + MINUTE)
    run_batch(conn, batch, lambda cur: (sim.write_rows(cur, batch.batch_id, rows), 0))


def on_order_of(conn, product_id: int, warehouse_id: int) -> int:
    return query(
        conn,
        "SELECT on_order_qty FROM analytics.current_stock WHERE product_id = %s AND warehouse_id = %s",
        (product_id, warehouse_id),
    )[0][0]


def test_a_purchase_order_alone_placed_then_received_moves_its_pair(history):
    """A minute whose batch holds only a purchase order touches its pair: the minute's run puts the units on order;
    a later minute holding only its receipt takes them off again. (This history has no low pair: the net
    suggestion is held to a full rebuild by the next test, and computed on low pairs in test_analytics_pipeline.)"""
    conn = history
    (as_of,) = query(conn, "SELECT max(window_end) FROM raw.ingest_batches WHERE kind = 'simulation'")[0]
    product_id, warehouse_id, before = query(
        conn,
        "SELECT product_id, warehouse_id, on_order_qty FROM analytics.current_stock "
        "ORDER BY quantity, product_id, warehouse_id LIMIT 1",
    )[0]
    (supplier,) = query(conn, "SELECT min(supplier_id) FROM raw.suppliers")[0]
    placed = as_of + timedelta(seconds=30)
    order = (f"PO-test-{product_id}-{warehouse_id}", product_id, warehouse_id, supplier, 25, 1, placed)

    only_orders(conn, as_of, orders=[(*order, placed + timedelta(days=3))])
    run_analytics(as_of + MINUTE + timedelta(seconds=5))
    log = last_publish(conn)
    assert (log["mode"], log["pairs"], log["as_of"]) == ("pairs", 1, as_of + MINUTE)
    assert on_order_of(conn, product_id, warehouse_id) == before + 25
    assert on_order_against_raw(conn)[0] == []

    only_orders(conn, as_of + MINUTE, receipts=[(*order, as_of + MINUTE + timedelta(seconds=10))])
    run_analytics(as_of + 2 * MINUTE + timedelta(seconds=5))
    log = last_publish(conn)
    assert (log["mode"], log["pairs"], log["as_of"]) == ("pairs", 1, as_of + 2 * MINUTE)
    assert on_order_of(conn, product_id, warehouse_id) == before
    assert on_order_against_raw(conn)[0] == []


def test_incremental_minutes_equal_a_full_rebuild_by_spark_submit(history):
    """Everything the minutes above published on Spark Connect = a full rebuild with spark-submit."""
    conn = history
    incremental = published(conn)
    orphans = orphan_keys(conn)  # every key of the incremental tables has its dimension row
    assert len(orphans) > 25 and set(orphans.values()) == {0}, orphans
    (as_of,) = query(conn, "SELECT max(window_end) FROM raw.ingest_batches WHERE kind = 'simulation'")[0]
    run = run_analytics(as_of + timedelta(seconds=10), full_refresh=True)
    assert run.get_task_instance("build_analytics").xcom_pull(task_ids="build_analytics")["engine"] == "spark_submit"
    assert last_publish(conn)["mode"] == "full"
    full = published(conn)
    assert full.keys() == incremental.keys()
    for table in full:
        assert incremental[table] == full[table], table
    assert set(orphan_keys(conn).values()) == {0}
    # and a full rebuild on top of identical tables writes nothing
    assert all(c == {"deleted": 0, "inserted": 0} for c in last_publish(conn)["tables"].values())


def test_an_unreachable_server_falls_back_to_spark_submit(history, monkeypatch):
    from include.inventory import spark_connect

    conn = history
    closed = "sc://127.0.0.1:9"
    with pytest.raises(spark_connect.SparkConnectUnavailable, match=r"127\.0\.0\.1:9 \(connection spark_connect_def"):
        spark_connect.check_reachable(closed)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_CONNECT_DEFAULT",
        json.dumps({"conn_type": "spark_connect", "host": "sc://127.0.0.1", "port": 9}),
    )
    (as_of,) = query(conn, "SELECT max(window_end) FROM raw.ingest_batches WHERE kind = 'simulation'")[0]
    minute(conn, as_of)
    run = run_analytics(as_of + MINUTE + timedelta(seconds=5))
    assert run.get_task_instance("build_analytics").xcom_pull(task_ids="build_analytics")["engine"] == "spark_submit"
    assert last_publish(conn)["as_of"] == as_of + MINUTE
