"""
### Build and publish the analytics tables (Spark)

Runs whenever the ingest DAGs update the Asset `inventory_raw_layer`. A run covers every batch loaded since the
last publish, however many minutes that is: when a run takes long, the next one catches up in one go.

1. `plan_refresh` fixes the instant the run is *as of* (the end of the last simulated window at or before the
   run, so a re-run reproduces it), reads the settings (Variables) once for the whole run, and picks how much
   to recompute: **pairs** (only the product x warehouse pairs the new batches touched: a normal minute),
   **window** (a new day began, settings or master data changed: the fact days since the last publish, every
   other table whole), or **full** (param `full_refresh`, or nothing published yet).
2. `build_analytics` runs `spark_jobs/build_analytics.py`: incremental runs on the warm **Spark Connect**
   server (connection `spark_connect_default`; no JVM starts per minute), full rebuilds with **spark-submit**
   on `spark_default` (a cluster, if it points at one). If the Spark Connect server does not answer, the log
   says so and the run falls back to spark-submit.
3. `quality_gate`: `list_checks` names the checks that apply to what the run staged, and `check` runs each as
   its own task instance, named after the check (unique non-null keys of every staged table, no negative
   stock, aging buckets = on hand, reconciliation identity, low-stock rule, one-row KPIs; the SQL is in
   `sql/quality/`). A minute's pairs-mode run stages a few hundred rows: one instance, `all_checks`, runs every
   check and returns each one's violations by name (one instance per check would add seconds to the minute).
   A failed check fails its instance at once, naming the violations; `publish` runs only when every check
   passed.
4. `publish` applies staging to `analytics` in one transaction, writing only rows that changed: Power BI never
   sees a missing, empty or half-written table. Each publish records its freshness in
   `analytics.publish_log`: the newest source minute (`as_of`), `published_at` and `lag_seconds`.
5. `alerts.send_alerts` emails each inventory manager one digest of the low-stock episodes that opened (or hit
   a stock-out) since their last email, the daily discrepancy digest, and on-call when the lag exceeds
   `freshness_limit_minutes` (and when it recovers), through `smtp_default` (see `docs/alerts.md`).

Metrics and their formulas: `docs/metrics.md`. Variables: `low_stock_threshold`, `demand_window_days`,
`overstock_coverage_days`, `aging_threshold_days`, `kpi_period_days` (read once per run, by `plan_refresh`),
`analytics_engine`, `spark_jdbc_jar`, `freshness_limit_minutes`. Watch the minute's lag with
`python -m tools.cycles`, or in `plan_refresh`'s and `publish`'s logs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, TaskGroup, dag, task

from include.inventory.config import SPARK_CONN_ID
from include.inventory.dag_defaults import default_args
from include.inventory.ingest_tasks import RAW_LAYER
from include.inventory.spark_connect import AnalyticsBuildOperator

APPLICATION = str(Path(__file__).resolve().parents[1] / "spark_jobs" / "build_analytics.py")


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
            description="Recompute every table from all of the raw layer (spark-submit on spark_default) instead "
            "of only what changed since the last publish. Both give identical tables.",
        )
    },
)
def build_inventory_analytics():
    @task
    def plan_refresh(dag_run=None, params=None) -> dict:
        """Decide as of when, with which settings, and how much this run recomputes (see the DAG's docs)."""
        import logging

        from include.inventory import analytics, config
        from include.inventory.warehouse import Warehouse

        settings = {name: int(config.setting(var)) for name, var in analytics.PLAN_SETTINGS.items()}
        run_after = dag_run.logical_date or dag_run.run_after
        with Warehouse.from_airflow().connect() as conn:
            plan = analytics.plan(conn, run_after, settings, full_refresh=bool(params.get("full_refresh")))
            lag = analytics.current_lag(conn)
        logging.getLogger(__name__).info("%s; settings %s; last publish %s", plan.summary(), settings, lag)
        return plan.to_xcom()

    build = AnalyticsBuildOperator(
        task_id="build_analytics",
        conn_id=SPARK_CONN_ID,
        application=APPLICATION,
        name="build_inventory_analytics",
        jars="{{ var.value.get('spark_jdbc_jar', '/usr/share/java/postgresql.jar') }}",
        conf={
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.extraJavaOptions": "-XX:+UseParallelGC",
        },
        driver_memory="1g",
    )

    @task
    def list_checks(plan: dict, run_id=None) -> list[str]:
        """The quality checks that apply to what build_analytics staged (include/inventory/analytics.gate_checks),
        by group: a rule applied to many tables (unique keys) is one check here."""
        import logging

        from include.inventory import analytics
        from include.inventory.warehouse import Warehouse

        with Warehouse.from_airflow().connect() as conn:
            entries = analytics.read_manifest(conn, run_id)
            run_plan = analytics.plan_from_xcom(plan)
            names = analytics.check_groups(entries, run_plan.settings, run_plan.mode)
            counts = analytics.staged_counts(conn, entries)
        logging.getLogger(__name__).info("%s checks: %s; rows staged: %s", len(names), ", ".join(names), counts)
        return names

    # One task instance per check, named after it in the UI (quality_gate.check > Mapped Tasks). A violation fails
    # its instance at once: staging does not change between tries, so only errors reaching the database retry.
    # Keys are one check over every staged table, not one per table: under the scheduler each instance costs the
    # minute about 0.6 s of CPU and 0.5 s of wall time on two cores (docs/performance.md).
    @task(map_index_template="{{ task.op_kwargs['name'] }}")
    def check(name: str, plan: dict, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from include.inventory import analytics
        from include.inventory.warehouse import Warehouse

        with Warehouse.from_airflow().connect() as conn:
            try:
                return analytics.run_check_group(conn, run_id, analytics.plan_from_xcom(plan).settings, name)
            except analytics.QualityGateFailed as exc:
                raise AirflowFailException(str(exc)) from exc

    @task
    def publish(plan: dict, run_id=None) -> dict:
        import logging

        from include.inventory import analytics
        from include.inventory.warehouse import Warehouse

        with Warehouse.from_airflow().connect() as conn:
            written = analytics.publish(conn, run_id, analytics.plan_from_xcom(plan))
            lag = analytics.current_lag(conn)
        changed = {t: c for t, c in written.items() if c["deleted"] or c["inserted"]}
        logging.getLogger(__name__).info("published %s; rows changed: %s", lag, changed or "none")
        return {"tables": written, "freshness": lag.as_dict()}

    @task
    def send_alerts(plan: dict) -> dict:
        """Low-stock episodes -> one digest per manager, the daily discrepancy digest, the freshness alert, then
        the outbox is sent. An SMTP outage leaves the alerts pending in alerts.alert_log; the next run sends
        them, exactly once.
        """
        import logging

        from include.inventory import alerts
        from include.inventory.analytics import plan_from_xcom

        plan_ = plan_from_xcom(plan)
        summary = alerts.run_alerts_from_airflow(plan_.as_of, plan_.settings["low_stock_threshold"])
        logging.getLogger(__name__).info("alerts: %s", summary)
        return summary

    plan = plan_refresh()
    published = publish(plan)
    with TaskGroup("quality_gate", tooltip="One task instance per quality check of staging; publish waits for all"):
        checks = list_checks(plan)
        # publish (trigger rule all_success) waits for every check's instance: one fails, nothing is published.
        checked = check.partial(plan=plan).expand(name=checks)
    plan >> build >> checks
    checked >> published
    with TaskGroup("alerts", tooltip="Low-stock, discrepancy and freshness emails"):
        published >> send_alerts(plan)


build_inventory_analytics()
