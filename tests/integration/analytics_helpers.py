"""Helpers shared by the tests that run the analytics DAG end to end.

`run_analytics` runs the real `build_inventory_analytics` DAG through `dag.test()` (spark-submit on the
connection `spark_default`, whatever it points at); `published` reads back every analytics table without its
`refreshed_at`, so two runs can be compared exactly.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from psycopg2 import sql

from include.inventory import analytics

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


def run_analytics(logical_date: datetime, full_refresh: bool = False):
    """One run of the analytics DAG; fails the test naming every task's state unless the run succeeded."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "build_inventory_analytics.py"))
    assert not bag.import_errors
    run = bag.dags["build_inventory_analytics"].test(logical_date=logical_date, run_conf={"full_refresh": full_refresh})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    return run


def published(conn) -> dict[str, list[tuple]]:
    """Every analytics table's rows without refreshed_at, sorted."""
    out = {}
    for table in analytics.EXPECTED_TABLES:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM analytics.{}").format(sql.Identifier(table)))
            names = [d.name for d in cur.description]
            out[table] = sorted(
                (tuple(v for n, v in zip(names, r, strict=True) if n != "refreshed_at") for r in cur.fetchall()),
                key=repr,
            )
        conn.rollback()
    return out
