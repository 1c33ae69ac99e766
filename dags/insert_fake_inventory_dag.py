"""
### Every-minute ingest: one minute of simulated retail activity, and the dummyjson catalogue when due

`simulate_and_load` simulates the run's data interval (one minute of business: sales, replenishment orders and
receipts, rare shrinkage, stock counts) and loads it into the `raw` tables as **one atomic batch**, then
updates the Asset `inventory_raw_layer`, on which the analytics DAG is scheduled. When the scheduler skipped
minutes (runs were late; `catchup` is off so runs never pile up), the next run also loads each minute it
skipped, as the batch its own run would have written, up to `ingest_catchup_minutes` (default 60): the raw
layer has no hole, and the analytics run after it covers them all at once. Re-running a run (or clearing a
task) replaces its batches: no duplicates, nothing lost. Each batch is audited in `raw.ingest_batches`
(`record_batch` checks it).

Beside it, `fetch_catalogue_if_due` >> `upsert_products` refresh the product catalogue from dummyjson when the
last refresh is older than `catalogue_refresh_minutes` (default 60; otherwise both show as skipped), falling
back to the shipped snapshot with a WARNING when the API cannot be reached, returns fewer distinct products than
its `total`, or has not answered 10 s before the task's `execution_timeout`. They are off the minute's critical
path: a refreshed catalogue is simulated from the next minute on. On a fresh warehouse `simulate_and_load`
loads the catalogue and the master data itself first.

Variables: `dummyjson_base_url`, `dummyjson_timeout_seconds`, `catalogue_refresh_minutes`,
`ingest_catchup_minutes`, `sim_*` (see docs/configuration.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from include.inventory.dag_defaults import default_args
from include.inventory.ingest_tasks import RAW_LAYER, fetch_catalogue_if_due, upsert_products


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
        """Simulate the run's minute, and the minutes skipped before it, each loaded as one batch."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException

        from include.inventory import config, simulation
        from include.inventory.ingest_tasks import fetch_deadline, prepare_catalogue_and_master_data, sim_config
        from include.inventory.warehouse import Warehouse

        deadline = fetch_deadline()  # a fresh warehouse's catalogue fetch must leave time for the minute
        log = logging.getLogger(__name__)
        sim = sim_config()
        with Warehouse.from_airflow().connect() as conn:
            prepared = prepare_catalogue_and_master_data(conn, sim, deadline)
            if prepared:
                log.info("fresh warehouse: %s", prepared)
            limit = int(config.setting("ingest_catchup_minutes"))
            windows, gap = simulation.minutes_to_load(conn, data_interval_start, data_interval_end, limit)
            if gap is not None:
                log.warning(
                    "the raw layer ends at %s, more than ingest_catchup_minutes=%s before this minute: leaving that "
                    "gap (simulate_retail_history fills whole days)",
                    gap,
                    limit,
                )
            try:
                window = data_interval_end - data_interval_start
                simulation.check_no_overlap(conn, windows[0][0], data_interval_end, window)
            except RuntimeError as exc:  # retrying cannot help: the period was simulated by the history DAG
                raise AirflowFailException(str(exc)) from exc
            results = simulation.run_windows(conn, sim, windows)
        if len(results) > 1:
            log.info("caught up %s minutes the scheduler skipped", len(results) - 1)
        for result in results:
            log.info(result.summary())
        return {"batches": {r.batch.batch_id: r.row_counts for r in results}}

    @task
    def record_batch(loaded: dict) -> str:
        """Check each batch's audit row agrees with what was loaded, and report it; then check that the published
        analytics keep up with the minute (the freshness alert fires here too when the analytics DAG stalls)."""
        from datetime import UTC, datetime

        from include.inventory.alerts.freshness import check_freshness_from_airflow
        from include.inventory.batches import audit_row
        from include.inventory.warehouse import Warehouse

        lines = []
        with Warehouse.from_airflow().connect() as conn:
            for batch_id, row_counts in loaded["batches"].items():
                row = audit_row(conn, batch_id)
                if row is None or row["status"] != "success" or row["row_counts"] != row_counts:
                    raise RuntimeError(f"batch {batch_id} audit row does not match the load: {row}")
                lines.append(f"batch {row['batch_id']}: {row['row_counts']} in {row['duration_ms']} ms")
        change = check_freshness_from_airflow(datetime.now(UTC))
        if change is not None:
            lines.append(f"freshness: {change.event}, {change.lag_seconds:.0f} s behind")
        return "; ".join(lines)

    # The catalogue refresh is a branch of its own, off the minute's critical path.
    upsert_products(fetch_catalogue_if_due())
    record_batch(simulate_and_load())


insert_fake_inventory_dag()
