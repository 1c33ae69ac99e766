"""Ingestion against a real PostgreSQL: idempotent, atomic, conserving stock, audited."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from include.inventory import simulation as sim
from include.inventory.batches import BATCH_FACT_TABLES, audit_row
from include.inventory.catalogue import SnapshotCatalogue, load_catalogue_records

CONFIG = sim.SimConfig(seed=11)
END = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def seeded(fresh_schema):
    """Schema + snapshot catalogue + master data."""
    conn = fresh_schema
    load_catalogue_records(conn, SnapshotCatalogue().fetch_products(), "snapshot", "catalogue-test", 40)
    sim.ensure_master_data(conn, CONFIG)
    return conn


def table_rows(conn, table: str, where: str = "TRUE", params=()) -> list[tuple]:
    """Every row of a table minus its surrogate id, sorted: what 'the same rows' means."""
    ident = {
        "raw.product_sales": "sale_id",
        "raw.stock_receipts": "receipt_id",
        "raw.inventory": "inventory_id",
        "sim.shrinkage_events": "event_id",
        "raw.purchase_orders": None,
    }[table]
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} WHERE {where}", params)
        names = [d.name for d in cur.description]
        rows = sorted(tuple(v for n, v in zip(names, r, strict=True) if n != ident) for r in cur.fetchall())
    conn.rollback()
    return rows


def snapshot(conn) -> dict[str, list[tuple]]:
    return {t: table_rows(conn, t) for t in BATCH_FACT_TABLES}


def test_rerunning_batches_reproduces_identical_rows(seeded):
    windows = sim.day_windows(END, 5)
    sim.run_windows(seeded, CONFIG, windows)
    minute = (END, END + timedelta(minutes=1))
    sim.run_window(seeded, CONFIG, *minute)
    before = snapshot(seeded)
    assert before["raw.product_sales"] and before["raw.inventory"]

    # Re-run a past day (with later batches present), the last minute, and all five days again.
    sim.run_window(seeded, CONFIG, *windows[2])
    sim.run_window(seeded, CONFIG, *minute)
    sim.run_windows(seeded, CONFIG, windows)
    assert snapshot(seeded) == before
    with seeded.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT batch_id) FROM raw.ingest_batches WHERE kind = 'simulation'")
        assert cur.fetchone() == (6, 6)
    seeded.rollback()


def test_stock_conservation_matches_ground_truth(seeded):
    sim.run_windows(seeded, CONFIG, sim.day_windows(END, 20))
    with seeded.cursor() as cur:
        cur.execute(
            """
            WITH c AS (SELECT product_id, warehouse_id, quantity, counted_at,
                              row_number() OVER (PARTITION BY product_id, warehouse_id ORDER BY counted_at) AS first,
                              row_number() OVER (PARTITION BY product_id, warehouse_id ORDER BY counted_at DESC) AS last
                       FROM raw.inventory),
                 s AS (SELECT product_id, warehouse_id, sum(units_sold) u FROM raw.product_sales GROUP BY 1, 2),
                 r AS (SELECT product_id, warehouse_id, sum(quantity) u FROM raw.stock_receipts GROUP BY 1, 2),
                 k AS (SELECT product_id, warehouse_id, sum(units) u FROM sim.shrinkage_events GROUP BY 1, 2)
            SELECT f.product_id, f.warehouse_id, f.quantity, l.quantity,
                   coalesce(r.u, 0), coalesce(s.u, 0), coalesce(k.u, 0)
            FROM c f JOIN c l ON l.product_id = f.product_id AND l.warehouse_id = f.warehouse_id AND l.last = 1
            LEFT JOIN s ON s.product_id = f.product_id AND s.warehouse_id = f.warehouse_id
            LEFT JOIN r ON r.product_id = f.product_id AND r.warehouse_id = f.warehouse_id
            LEFT JOIN k ON k.product_id = f.product_id AND k.warehouse_id = f.warehouse_id
            WHERE f.first = 1
            """
        )
        pairs = cur.fetchall()
        cur.execute("SELECT count(*) FROM sim.shrinkage_events")
        (shrink_events,) = cur.fetchone()
    seeded.rollback()
    assert len(pairs) == 40 * CONFIG.warehouses
    broken = [p for p in pairs if p[3] != p[2] + p[4] - p[5] - p[6]]
    assert broken == [], f"last != first + received - sold - shrinkage for {broken[:5]}"
    assert shrink_events > 0 and sum(p[4] for p in pairs) > 0


def test_a_failure_mid_load_leaves_no_partial_batch(seeded):
    window = sim.day_windows(END, 1)[0]
    batch_id = sim.window_batch_id(*window)
    original = sim.write_rows

    def failing_write_rows(cur, batch, rows):
        counts = original(cur, batch, rows)  # every table copied ...
        assert counts["raw.product_sales"] > 0
        cur.execute(
            "INSERT INTO raw.inventory (product_id, warehouse_id, quantity, count_type, counted_at, batch_id)"
            " VALUES (999999, 1, 1, 'window', now(), %s)",
            (batch,),
        )  # ... then a bad row: FK violation
        return counts

    sim.write_rows = failing_write_rows
    try:
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            sim.run_window(seeded, CONFIG, *window)
    finally:
        sim.write_rows = original
    for table in BATCH_FACT_TABLES:
        assert table_rows(seeded, table, "batch_id = %s", (batch_id,)) == [], table
    audit = audit_row(seeded, batch_id)
    assert audit["status"] == "failed" and "ForeignKeyViolation" in audit["error"]

    # The same batch then succeeds, and a later failing re-run keeps the successful rows and audit.
    sim.run_window(seeded, CONFIG, *window)
    good = snapshot(seeded)
    sim.write_rows = failing_write_rows
    try:
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            sim.run_window(seeded, CONFIG, *window)
    finally:
        sim.write_rows = original
    assert snapshot(seeded) == good
    assert audit_row(seeded, batch_id)["status"] == "success"


def test_audit_row_records_counts_and_window(seeded):
    start, end = END, END + timedelta(minutes=1)
    result = sim.run_window(seeded, CONFIG, start, end)
    row = audit_row(seeded, result.batch.batch_id)
    assert row["status"] == "success" and row["kind"] == "simulation" and row["source"] == "simulator"
    assert row["row_counts"] == result.row_counts
    with seeded.cursor() as cur:
        cur.execute(
            "SELECT window_start, window_end FROM raw.ingest_batches WHERE batch_id = %s", (result.batch.batch_id,)
        )
        assert cur.fetchone() == (start, end)
    seeded.rollback()


def test_master_data_is_created_once(seeded):
    assert sim.ensure_master_data(seeded, CONFIG) is None
    bigger = sim.SimConfig(seed=CONFIG.seed, warehouses=7, suppliers=10)
    result = sim.ensure_master_data(seeded, bigger)
    assert result.row_counts["raw.warehouse"] == 2 and result.row_counts["raw.suppliers"] == 2


def test_history_refuses_to_overlap_minute_batches(seeded):
    sim.run_window(seeded, CONFIG, END + timedelta(hours=3), END + timedelta(hours=3, minutes=1))
    with pytest.raises(RuntimeError, match="double the activity"):
        sim.check_no_overlap(seeded, END, END + timedelta(days=1), timedelta(days=1))
    sim.check_no_overlap(seeded, END - timedelta(days=3), END, timedelta(days=1))  # before them: fine


def test_one_minute_batch_loads_well_under_a_minute(seeded):
    """A sanity bound, not a benchmark (make bench has the figures): 90 days of history, then one minute."""
    sim.run_windows(seeded, CONFIG, sim.day_windows(END, 90))
    began = time.monotonic()
    result = sim.run_window(seeded, CONFIG, END, END + timedelta(minutes=1))
    elapsed = time.monotonic() - began
    print(f"one minute batch after 90 days: {elapsed * 1000:.0f} ms ({result.summary()})")
    assert elapsed < 20
