"""
### Build and publish the analytics tables (Spark)

Runs whenever the ingest DAGs update the Asset `inventory_raw_layer`:

1. `plan_refresh` fixes the instant the run is *as of* (the end of the last simulated window at or before the
   run, so a re-run reproduces it) and the first day whose fact rows must be recomputed (incremental), or a
   full rebuild when the param `full_refresh` is true or nothing was published yet.
2. `build_analytics` runs `spark_jobs/build_analytics.py` with `spark-submit` on the `spark_default`
   connection: one application builds every table into `staging` (the JVM starts once per cycle).
3. `quality_gate` checks staging (unique non-null keys, no negative stock, aging buckets = on hand,
   reconciliation identity, low-stock rule, one-row KPIs); on any failure nothing is published.
4. `publish` moves every table into `analytics` in one transaction: Power BI never sees a missing, empty or
   half-written table.
5. `alerts.send_alerts` emails each inventory manager one digest of the low-stock episodes that opened (or hit
   a stock-out) since their last email, plus the daily discrepancy digest, through `smtp_default`
   (see `docs/alerts.md`).

Metrics and their formulas: `docs/metrics.md`. Variables: `low_stock_threshold`, `demand_window_days`,
`overstock_coverage_days`, `aging_threshold_days`, `kpi_period_days`, `spark_jdbc_jar`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, TaskGroup, dag, task

from include.inventory.config import SPARK_CONN_ID
from include.inventory.dag_defaults import default_args
from include.inventory.ingest_tasks import RAW_LAYER
from include.inventory.spark import WarehouseSparkSubmitOperator

APPLICATION = str(Path(__file__).resolve().parents[1] / "spark_jobs" / "build_analytics.py")
PLAN = "ti.xcom_pull(task_ids='plan_refresh')"


@dag(
    dag_id="build_inventory_analytics",
    schedule=[RAW_LAYER],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["spark", "inventory", "analytics"],
    default_args=default_args(retry_delay=timedelta(seconds=15), execution_timeout=timedelta(minutes=20)),
    doc_md=__doc__,
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full rebuild",
            description="Recompute every day of the fact tables instead of only the days changed since the "
            "last publish. Both give identical tables.",
        )
    },
)
def build_inventory_analytics():
    @task
    def plan_refresh(dag_run=None, params=None) -> dict:
        from include.inventory import analytics, db

        run_after = dag_run.logical_date or dag_run.run_after
        conn = db.airflow_connection()
        try:
            plan = analytics.plan(conn, run_after, full_refresh=bool(params.get("full_refresh")))
        finally:
            conn.close()
        scope = f"fact days from {plan.from_date}" if plan.from_date else "full rebuild"
        print(f"as of {plan.as_of.isoformat()}: {scope}")
        return plan.to_xcom()

    build = WarehouseSparkSubmitOperator(
        task_id="build_analytics",
        conn_id=SPARK_CONN_ID,
        application=APPLICATION,
        name="build_inventory_analytics",
        jars="{{ var.value.get('spark_jdbc_jar', '/usr/share/java/postgresql.jar') }}",
        conf={
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            # A minute's incremental build is over in seconds: the C1 JIT alone warms up faster. A full rebuild
            # runs for minutes, where C2's code pays back its compile time many times over (README, Performance).
            "spark.driver.extraJavaOptions": "-XX:+UseParallelGC{{ '' if not " + PLAN + "['from_date'] "
            "else ' -XX:TieredStopAtLevel=1' }}",
        },
        driver_memory="1g",
        application_args=[
            "--as-of", "{{ " + PLAN + "['as_of'] }}",
            "--from-date", "{{ " + PLAN + "['from_date'] }}",
            "--run-id", "{{ run_id }}",
            "--low-stock-threshold", "{{ var.value.get('low_stock_threshold', '50') }}",
            "--demand-window-days", "{{ var.value.get('demand_window_days', '30') }}",
            "--overstock-days", "{{ var.value.get('overstock_coverage_days', '90') }}",
            "--aging-threshold-days", "{{ var.value.get('aging_threshold_days', '90') }}",
            "--period-days", "{{ var.value.get('kpi_period_days', '30') }}",
        ],
    )  # fmt: skip

    @task
    def quality_gate(run_id=None) -> dict:
        from include.inventory import analytics, config, db

        conn = db.airflow_connection()
        try:
            counts = analytics.quality_gate(conn, run_id, int(config.setting("low_stock_threshold")))
        finally:
            conn.close()
        print(f"quality gate passed: {counts}")
        return counts

    @task
    def publish(plan: dict, run_id=None) -> dict:
        from include.inventory import analytics, db

        conn = db.airflow_connection()
        try:
            written = analytics.publish(conn, run_id, analytics.plan_from_xcom(plan))
        finally:
            conn.close()
        print(f"published {len(written)} tables: {written}")
        return written

    @task
    def send_alerts(plan: dict) -> dict:
        """Low-stock episodes -> one digest per manager, the daily discrepancy digest, then the outbox is sent.

        An SMTP outage leaves the alerts pending in alerts.alert_log; the next run sends them, exactly once.
        """
        from include.inventory import alerts
        from include.inventory.analytics import plan_from_xcom

        summary = alerts.run_alerts_from_airflow(plan_from_xcom(plan).as_of)
        print(f"alerts: {summary}")
        return summary

    plan = plan_refresh()
    published = publish(plan)
    plan >> build >> quality_gate() >> published
    with TaskGroup("alerts", tooltip="Low-stock and discrepancy emails to inventory managers"):
        published >> send_alerts(plan)


build_inventory_analytics()
