"""Connection ids and Airflow Variables: the one place their names and defaults are written.

Variables may also be given as environment variables (AIRFLOW_VAR_<NAME>), which Airflow reads first.
docs/configuration.md documents each one; airflow_settings.yaml declares them for astro.
"""

from __future__ import annotations

from dataclasses import dataclass

WAREHOUSE_CONN_ID = "warehouse_db"
SPARK_CONN_ID = "spark_default"
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
        Setting("low_stock_threshold", "50", "On-hand units at or under which a product is low on stock."),
        Setting("alert_email_recipients", "", "Comma-separated fallback recipients for alerts."),
    )
}


def setting(key: str) -> str:
    """A Variable's value, read at task run time (never at DAG parse time)."""
    from airflow.sdk import Variable  # noqa: PLC0415 - Airflow runtime only

    return Variable.get(key, default=SETTINGS[key].default)
