"""The ingest DAGs end to end through dag.test(): real Airflow, real PostgreSQL, a real HTTP server for the API."""

from __future__ import annotations

import logging
import re
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


TASK_TIMEOUT = timedelta(seconds=4)


def test_slow_api_falls_back_inside_the_task_timeout(airflow_db, fresh_schema, monkeypatch, caplog, capfd):
    """An API slower than the per-request timeout, which is longer than the task's execution_timeout (the issue:
    15 s requests, a 50 s task, 4 tries, all AirflowTaskTimeout): the fetch gives up when the time the task's
    timeout leaves for it runs out and the minute loads from the snapshot, inside the timeout, on the first try."""
    monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_TIMEOUT_SECONDS", "15")
    with DummyJsonStandIn(delay=60) as api:  # answers after 60 s (or when the stand-in stops)
        monkeypatch.setenv("AIRFLOW_VAR_DUMMYJSON_BASE_URL", api.url)
        minute = load_dag("insert_fake_inventory_dag")
        for task in minute.tasks:
            task.execution_timeout, task.retries = TASK_TIMEOUT, 0
        with caplog.at_level(logging.INFO, logger="include.inventory"):
            run = minute.test(logical_date=datetime(2026, 4, 12, 8, 0, tzinfo=UTC))
    # dag.test() sends task logs to the console or, once Airflow's logging is set up in this process, to logging.
    task_log = caplog.text + "".join(capfd.readouterr())
    assert api.requests, "the API was never asked"
    assert run.state == "success"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    states = {t: ti.state for t, ti in tis.items()}
    assert states["simulate_and_load"] == states["record_batch"] == "success", states
    # Whichever of the two branches ran first fetched (and fell back); the refresh branch skips when it came second.
    assert states["fetch_catalogue_if_due"] == states["upsert_products"] in ("success", "skipped"), states
    # retries=0 and a real SIGALRM execution_timeout: any task that overran it would have failed (AirflowTaskTimeout).
    assert {ti.try_number for ti in tis.values() if ti.state == "success"} == {1}
    with fresh_schema.cursor() as cur:
        cur.execute("SELECT DISTINCT source FROM raw.ingest_batches WHERE kind = 'catalogue'")
        assert cur.fetchall() == [("snapshot",)]
        cur.execute(
            "SELECT count(*) FROM raw.ingest_batches WHERE kind = 'simulation' AND status = 'success' "
            "AND window_start = %s",
            (run.data_interval_start,),
        )
        assert cur.fetchone()[0] == 1
    fresh_schema.rollback()
    fallbacks = [line for line in task_log.splitlines() if "using the 'snapshot' catalogue instead" in line]
    budgets = [float(b) for b in re.findall(r"time budget of ([0-9.]+) s ran out after 1 attempts", task_log)]
    # 4 s less the 2 s kept for the load (half the timeout: under 20 s), less what the task did before the fetch.
    assert fallbacks and budgets and all(0 < b <= 2.0 for b in budgets), fallbacks
    fetches = [float(m) for m in re.findall(r"catalogue records from the snapshot in ([0-9.]+) s", task_log)]
    assert fetches and all(f < TASK_TIMEOUT.total_seconds() for f in fetches), fetches
