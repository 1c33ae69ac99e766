"""The ingest DAGs end to end through dag.test(): real Airflow, real PostgreSQL, a real HTTP server for the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.dummyjson_standin import DummyJsonStandIn

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
FACTS = ("raw.product_sales", "raw.purchase_orders", "raw.stock_receipts", "raw.inventory", "sim.shrinkage_events")


@pytest.fixture(scope="module")
def dummyjson_server():
    """A real HTTP server standing in for dummyjson: /products with limit and skip over the snapshot."""
    with DummyJsonStandIn() as api:
        yield api.url


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    assert not bag.import_errors
    return bag.dags[dag_id]


def counts(conn) -> dict[str, int]:
    out = {}
    with conn.cursor() as cur:
        for table in FACTS:
            cur.execute(f"SELECT count(*) FROM {table}")
            out[table] = cur.fetchone()[0]
    conn.rollback()
    return out


def rows(conn, table: str, key: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        names = [d.name for d in cur.description]
        data = sorted(tuple(v for n, v in zip(names, r, strict=True) if n != key) for r in cur.fetchall())
    conn.rollback()
    return data


def test_history_then_minute_runs_are_idempotent(airflow_db, fresh_schema, dummyjson_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_BASE_URL", dummyjson_server)
    conn = fresh_schema
    day = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)

    run = load_dag("simulate_retail_history").test(logical_date=day, run_conf={"days": 3, "seed": 5})
    assert run.state == "success"
    after_history = counts(conn)
    assert after_history["raw.product_sales"] > 0 and after_history["raw.inventory"] >= 194 * 5 * 3
    with conn.cursor() as cur:
        cur.execute("SELECT source, status FROM raw.ingest_batches WHERE kind = 'catalogue'")
        assert cur.fetchall() == [("api", "success")]  # the real client read our HTTP server
        cur.execute("SELECT count(*) FROM raw.products")
        assert cur.fetchone()[0] == 194
    conn.rollback()

    minute = load_dag("insert_fake_inventory_dag")
    run = minute.test(logical_date=day)
    assert run.state == "success"
    # The history run refreshed the catalogue moments ago: not due again (catalogue_refresh_minutes).
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["fetch_catalogue_if_due"] == states["upsert_products"] == "skipped", states
    assert states["simulate_and_load"] == states["record_batch"] == "success", states
    interval = (run.data_interval_start, run.data_interval_end)
    assert interval[1] - interval[0] == timedelta(minutes=1)
    once = {t: rows(conn, t, k) for t, k in (("raw.product_sales", "sale_id"), ("raw.inventory", "inventory_id"))}

    # The same run again (what a task clear does): the batch is replaced, nothing duplicated.
    run = load_dag("insert_fake_inventory_dag").test(logical_date=day)
    assert run.state == "success"
    twice = {t: rows(conn, t, k) for t, k in (("raw.product_sales", "sale_id"), ("raw.inventory", "inventory_id"))}
    assert twice == once
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM raw.ingest_batches WHERE kind = 'simulation' AND window_start = %s", (interval[0],)
        )
        assert cur.fetchone()[0] == 1
    conn.rollback()

    # Minutes the scheduler skipped (runs were late) are loaded by the next run, each as the batch its own run
    # would have written; clearing one of them later changes nothing.
    midnight = datetime(2026, 4, 10, tzinfo=UTC)  # where the history ends
    assert load_dag("insert_fake_inventory_dag").test(logical_date=midnight + timedelta(minutes=1)).state == "success"
    assert load_dag("insert_fake_inventory_dag").test(logical_date=midnight + timedelta(minutes=5)).state == "success"
    with conn.cursor() as cur:
        cur.execute(
            "SELECT window_start, window_end FROM raw.ingest_batches WHERE kind = 'simulation' "
            "AND window_start >= %s AND window_end <= %s ORDER BY 1",
            (midnight, midnight + timedelta(minutes=5)),
        )
        windows = cur.fetchall()
    conn.rollback()
    assert windows == [(midnight + timedelta(minutes=i), midnight + timedelta(minutes=i + 1)) for i in range(5)]
    caught_up = counts(conn)
    assert load_dag("insert_fake_inventory_dag").test(logical_date=midnight + timedelta(minutes=3)).state == "success"
    assert counts(conn) == caught_up

    # A minute inside the history DAG's days would count that minute twice: refused at once, not retried.
    counts_before_overlap = counts(conn)
    run = load_dag("insert_fake_inventory_dag").test(logical_date=day - timedelta(days=1))
    assert run.state == "failed"
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert tries["simulate_and_load"] == ("failed", 1)
    assert counts(conn) == counts_before_overlap


def test_history_triggered_without_a_logical_date_ends_at_the_day_it_was_triggered(
    airflow_db, fresh_schema, dummyjson_server, monkeypatch
):
    """A trigger from the UI or `airflow dags trigger` has no logical date in Airflow 3 (it crashed on None)."""
    monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_BASE_URL", dummyjson_server)
    triggered = datetime(2026, 5, 3, 14, 25, tzinfo=UTC)
    run = load_dag("simulate_retail_history").test(logical_date=None, run_after=triggered, run_conf={"days": 1})
    assert run.logical_date is None
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    with fresh_schema.cursor() as cur:
        cur.execute("SELECT window_start, window_end FROM raw.ingest_batches WHERE kind = 'simulation'")
        assert cur.fetchall() == [(datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 5, 3, tzinfo=UTC))]
        cur.execute("SELECT batch_id FROM raw.ingest_batches WHERE kind = 'catalogue'")
        assert cur.fetchall() == [("catalogue-20260503T142500Z",)]
    fresh_schema.rollback()


def test_api_down_falls_back_to_the_snapshot(airflow_db, fresh_schema, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_TIMEOUT_SECONDS", "1")
    run = load_dag("insert_fake_inventory_dag").test(logical_date=datetime(2026, 4, 11, 8, 0, tzinfo=UTC))
    assert run.state == "success"
    with fresh_schema.cursor() as cur:
        # The first minute on a fresh warehouse loads the catalogue itself; the refresh branch then finds it fresh.
        cur.execute("SELECT DISTINCT source FROM raw.ingest_batches WHERE kind = 'catalogue'")
        assert cur.fetchall() == [("snapshot",)]
        cur.execute("SELECT count(*) FROM raw.products")
        assert cur.fetchone()[0] == 194
    fresh_schema.rollback()
