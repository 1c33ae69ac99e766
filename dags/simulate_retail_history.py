"""
### Simulate retail history (manual)

Generates `days` days of coherent history ending at the start of the run's day (00:00 UTC of its logical date, or
of the moment it was triggered when it has none, as when triggered from the UI or CLI), as one-day batches with
the same simulation the every-minute DAG uses, so dashboards, aging buckets and reconciliation have data.
Each day is its own atomic, re-runnable batch: running this DAG again with the same params replaces the same
rows. `make demo` runs it with 90 days.

Params: `days`, `seed` and `scale` (`demo`: the catalogue x 5 warehouses; `S`: 200 products x 5 warehouses;
`M`: 2,000 products x 20 warehouses). It refuses to overlap a period already simulated minute by minute.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from airflow.sdk import Param, dag, task

from include.inventory.dag_defaults import default_args
from include.inventory.ingest_tasks import (
    RAW_LAYER,
    SCALES,
    ensure_master_data,
    fetch_catalogue,
    sim_config,
    upsert_products,
)

log = logging.getLogger(__name__)


@dag(
    dag_id="simulate_retail_history",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["postgres", "inventory", "ingest", "setup"],
    default_args=default_args(execution_timeout=timedelta(hours=2)),
    doc_md=__doc__,
    params={
        "days": Param(
            90,
            type="integer",
            minimum=1,
            maximum=1100,
            title="Days of history",
            description="Number of one-day batches, ending at 00:00 UTC of the run's day.",
        ),
        "seed": Param(42, type="integer", title="Random seed", description="Same seed, same data."),
        "scale": Param(
            "demo",
            enum=list(SCALES),
            title="Scale",
            description="demo: catalogue x 5 warehouses; S: 200 x 5; M: 2,000 x 20.",
        ),
    },
)
def simulate_retail_history():
    @task(outlets=[RAW_LAYER])
    def simulate_history(params=None, dag_run=None) -> dict:
        from include.inventory import simulation
        from include.inventory.warehouse import Warehouse

        # A run triggered from the UI or CLI has no logical date in Airflow 3: it ends at its own run_after.
        windows = simulation.day_windows(dag_run.logical_date or dag_run.run_after, int(params["days"]))
        began = time.monotonic()
        with Warehouse.from_airflow().connect() as conn:
            simulation.check_no_overlap(conn, windows[0][0], windows[-1][1], timedelta(days=1))

            def progress(done, total, result):
                if done == total or done % 10 == 0:
                    log.info("[%s/%s days, %.0f s] %s", done, total, time.monotonic() - began, result.summary())

            results = simulation.run_windows(conn, sim_config(params["scale"], params["seed"]), windows, progress)
        totals: dict[str, int] = {}
        for r in results:
            for table, n in r.row_counts.items():
                totals[table] = totals.get(table, 0) + n
        log.info(
            "simulated %s days %s .. %s in %.0f s: %s",
            len(results),
            f"{windows[0][0]:%Y-%m-%d}",
            f"{windows[-1][1]:%Y-%m-%d}",
            time.monotonic() - began,
            totals,
        )
        return totals

    upsert_products(fetch_catalogue()) >> ensure_master_data() >> simulate_history()


simulate_retail_history()
