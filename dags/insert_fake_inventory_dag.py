"""
### Every-minute ingest: dummyjson catalogue + one minute of simulated retail activity

Each run covers its data interval (one minute): it refreshes the product catalogue from dummyjson when the last
refresh is older than `catalogue_refresh_minutes` (default 60; otherwise `fetch_catalogue_if_due` and
`upsert_products` show as skipped), falling back to the shipped snapshot with a WARNING when the API cannot be
reached, makes sure the master data exists, then
simulates that minute of business (sales, replenishment orders and receipts, rare shrinkage, stock counts) and
loads it into the `raw` tables as **one atomic batch**. Re-running a run (or clearing a task) replaces that
batch's rows: no duplicates, nothing lost. Each batch is audited in `raw.ingest_batches`.

Updates the Asset `inventory_raw_layer`, on which the analytics DAG is scheduled.
Variables: `dummyjson_base_url`, `dummyjson_timeout_seconds`, `catalogue_refresh_minutes`, `sim_*`
(see docs/configuration.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from include.inventory.dag_defaults import default_args
from include.inventory.ingest_tasks import (
    RAW_LAYER,
    ensure_master_data,
    fetch_catalogue_if_due,
    sim_config,
    upsert_products,
)


@dag(
    dag_id="insert_fake_inventory_dag",
    # Data intervals, not trigger times: each run owns the minute [start, end) it simulates.
    schedule=CronDataIntervalTimetable("* * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=5),
    tags=["postgres", "inventory", "ingest"],
    # A per-minute DAG cannot wait minutes to retry: short exponential backoff, and each task well under a minute.
    default_args=default_args(
        retries=3,
        retry_delay=timedelta(seconds=5),
        max_retry_delay=timedelta(seconds=20),
        execution_timeout=timedelta(seconds=50),
    ),
    doc_md=__doc__,
)
def insert_fake_inventory_dag():
    @task(outlets=[RAW_LAYER])
    def simulate_and_load(data_interval_start=None, data_interval_end=None) -> dict:
        """Simulate the run's window and load it as one batch (deterministic, so simulate and load are one step)."""
        from airflow.sdk.exceptions import AirflowFailException

        from include.inventory import db, simulation

        conn = db.airflow_connection()
        try:
            try:
                window = data_interval_end - data_interval_start
                simulation.check_no_overlap(conn, data_interval_start, data_interval_end, window)
            except RuntimeError as exc:  # retrying cannot help: the period was simulated by the history DAG
                raise AirflowFailException(str(exc)) from exc
            result = simulation.run_window(conn, sim_config(), data_interval_start, data_interval_end)
        finally:
            conn.close()
        print(result.summary())
        return {"batch_id": result.batch.batch_id, "row_counts": result.row_counts}

    @task
    def record_batch(loaded: dict) -> str:
        """Check the batch's audit row agrees with what was loaded, and report it."""
        from include.inventory import db
        from include.inventory.batches import audit_row

        conn = db.airflow_connection()
        try:
            row = audit_row(conn, loaded["batch_id"])
        finally:
            conn.close()
        if row is None or row["status"] != "success" or row["row_counts"] != loaded["row_counts"]:
            raise RuntimeError(f"batch {loaded['batch_id']} audit row does not match the load: {row}")
        return f"batch {row['batch_id']}: {row['row_counts']} in {row['duration_ms']} ms"

    catalogue = upsert_products(fetch_catalogue_if_due())
    master = ensure_master_data()
    loaded = simulate_and_load()
    catalogue >> master >> loaded
    record_batch(loaded)


insert_fake_inventory_dag()
