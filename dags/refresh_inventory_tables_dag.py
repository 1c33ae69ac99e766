"""
### Refresh the inventory warehouse schema

**Destructive.** Drops the `raw`, `staging`, `analytics` and `sim` schemas with everything in them, recreates
them from the DDL in `sql/ddl/`, and verifies that every expected table, column and primary key exists.

Trigger it with the param `confirm` set to `true`; without it `clear_tables` refuses and nothing is dropped.

Tables: see `docs/tables.md`. Connection: `warehouse_db`.
"""

from __future__ import annotations

import logging
import time

from airflow.sdk import Param, dag, task

from include.inventory.dag_defaults import default_args

log = logging.getLogger(__name__)


@dag(
    dag_id="refresh_inventory_tables_dag",
    schedule=None,
    catchup=False,
    tags=["postgres", "inventory", "setup"],
    default_args=default_args(),
    doc_md=__doc__,
    params={
        "confirm": Param(
            False,
            type="boolean",
            title="Confirm: drop and recreate every warehouse table",
            description="Destructive. All raw, staging, analytics and sim data is deleted. "
            "Set to true to proceed; otherwise the run refuses and changes nothing.",
        )
    },
)
def refresh_inventory_tables_dag():
    @task(retries=0)
    def clear_tables(params=None) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        from include.inventory import schema
        from include.inventory.warehouse import Warehouse

        if params.get("confirm") is not True:
            raise AirflowFailException(
                "Refusing to drop the warehouse schemas: trigger this DAG with the param confirm=true."
            )
        began = time.monotonic()
        with Warehouse.from_airflow().connect() as conn:
            schema.drop(conn)
        log.info("dropped schemas %s in %.1f s", ", ".join(schema.SCHEMAS), time.monotonic() - began)

    @task
    def create_tables() -> list[str]:
        from include.inventory import schema
        from include.inventory.warehouse import Warehouse

        began = time.monotonic()
        with Warehouse.from_airflow().connect() as conn:
            files = schema.create(conn)
        log.info("applied %s DDL files in %.1f s: %s", len(files), time.monotonic() - began, ", ".join(files))
        return files

    @task
    def verify_tables() -> int:
        from airflow.sdk.exceptions import AirflowFailException

        from include.inventory import schema
        from include.inventory.warehouse import Warehouse

        with Warehouse.from_airflow().connect() as conn:
            result = schema.verify(conn)
        if not result.ok:
            raise AirflowFailException(f"schema verification failed: {result.problems()}")
        log.info("verified %s tables in schemas %s", result.checked_tables, ", ".join(schema.SCHEMAS))
        return result.checked_tables

    clear_tables() >> create_tables() >> verify_tables()


refresh_inventory_tables_dag()
