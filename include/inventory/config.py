"""Connection ids and Airflow Variables: the one place their names and defaults are written.

Variables may also be given as environment variables (AIRFLOW_VAR_<NAME>), which Airflow reads first.
docs/configuration.md documents each one; airflow_settings.yaml declares them for astro.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

WAREHOUSE_CONN_ID = "warehouse_db"
SPARK_CONN_ID = "spark_default"
SPARK_CONNECT_CONN_ID = "spark_connect_default"
SMTP_CONN_ID = "smtp_default"


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    description: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("dummyjson_base_url", "https://dummyjson.com", "Base URL of the dummyjson product API."),
        Setting(
            "dummyjson_timeout_seconds",
            "5",
            "Timeout of each dummyjson request, in seconds. The whole fetch (pages, retries, back-off) also ends "
            "10 s before the task's execution_timeout (half of it when shorter), with the snapshot used instead.",
        ),
        Setting(
            "catalogue_refresh_minutes",
            "60",
            "The minute ingest DAG refreshes the catalogue at most this often (it changes rarely); 0: every run.",
        ),
        Setting(
            "ingest_catchup_minutes",
            "60",
            "A minute run also loads the minutes the scheduler skipped before it (runs were late), up to this many.",
        ),
        Setting("sim_seed", "42", "Seed of the retail simulation; the same seed reproduces the same data."),
        Setting("sim_locations", "3", "Number of warehouse locations the simulation creates (once)."),
        Setting("sim_warehouses", "5", "Number of warehouses, spread over the locations (created once)."),
        Setting("sim_suppliers", "8", "Number of suppliers (created once); each product has 1-3."),
        Setting(
            "sim_products",
            "0",
            "Products to simulate: 0 uses the catalogue as it is; a larger number adds deterministic variants.",
        ),
        Setting("sim_shrinkage_rate", "0.02", "Expected shrinkage events per product x warehouse per day."),
        Setting("low_stock_threshold", "50", "On-hand units at or under which a product is low on stock."),
        Setting("demand_window_days", "30", "Complete days of sales the average daily demand is computed over."),
        Setting("overstock_coverage_days", "90", "Stock coverage (days of demand) above which a pair is overstock."),
        Setting("aging_threshold_days", "90", "Age in days beyond which stock counts as aging inventory."),
        Setting("kpi_period_days", "30", "Days the sales KPIs, turnover and top products are computed over."),
        Setting("spark_jdbc_jar", "/usr/share/java/postgresql.jar", "PostgreSQL JDBC driver jar for Spark."),
        Setting(
            "analytics_engine",
            "spark_connect",
            "Where incremental analytics runs build: spark_connect (the warm server of the connection "
            "spark_connect_default; spark-submit when it does not answer) or spark_submit (always spark-submit). "
            "Full rebuilds always use spark-submit on spark_default.",
        ),
        Setting(
            "freshness_limit_minutes",
            "5",
            "The analytics lag (now - the newest published source minute) above which on-call gets one email; "
            "one more when it recovers. 0: no freshness alerts (the demo, which publishes a past day).",
        ),
        Setting(
            "spark_cds_dir",
            "",
            "Where the Spark driver's class-data-sharing archive is kept (empty: $AIRFLOW_HOME/spark-cds; off: none). "
            "Runs whose driver class path holds a non-empty directory (e.g. SPARK_CONF_DIR) go without it and log why.",
        ),
        Setting("alert_email_recipients", "", "Comma-separated fallback recipients for alerts."),
        Setting(
            "discrepancy_tolerance_units",
            "0",
            "Reconciliation rows whose absolute discrepancy_amount exceeds this many units are in the digest.",
        ),
        Setting(
            "discrepancy_tolerance_value",
            "0.00",
            "Reconciliation rows whose absolute discrepancy_value exceeds this amount are in the digest.",
        ),
        Setting("oncall_email", "oncall@example.com", "Recipient of task failure notifications."),
        Setting(
            "portal_base_url",
            "http://localhost:8090",
            "The manager portal's address as people reach it: the links in emails start with it.",
        ),
    )
}


def setting(key: str) -> str:
    """A Variable's value, read at task run time (never at DAG parse time)."""
    from airflow.sdk import Variable

    return Variable.get(key, default=SETTINGS[key].default)


def env_setting(key: str) -> str:
    """The same value for code outside Airflow: AIRFLOW_VAR_<KEY> or the default."""
    return os.environ.get(f"AIRFLOW_VAR_{key.upper()}", SETTINGS[key].default)
