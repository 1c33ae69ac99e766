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


# Open purchase orders by pair, written independently of the Spark transform: an order placed by as_of whose
# receipt is missing or came after as_of.
ON_ORDER_SQL = """
WITH published AS (SELECT as_of FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1),
open_orders AS (
    SELECT o.product_id, o.warehouse_id, sum(o.quantity) AS units
    FROM raw.purchase_orders o
    CROSS JOIN published p
    LEFT JOIN raw.stock_receipts r ON r.order_id = o.order_id
    WHERE o.ordered_at <= p.as_of AND (r.receipt_id IS NULL OR r.received_at > p.as_of)
    GROUP BY o.product_id, o.warehouse_id
)
SELECT product_id, warehouse_id, c.on_order_qty, coalesce(o.units, 0), l.product_id IS NOT NULL, l.on_order_qty
FROM analytics.current_stock c
LEFT JOIN open_orders o USING (product_id, warehouse_id)
LEFT JOIN analytics.low_stock_data l USING (product_id, warehouse_id)
"""


def on_order_against_raw(conn) -> tuple[list[tuple], int, int]:
    """(pairs whose published on_order_qty differs from plain SQL over raw, pairs with units on order, low pairs
    with units on order) as of the last publish. Every pair with an open order has a count, so current_stock
    holds them all."""
    with conn.cursor() as cur:
        cur.execute(ON_ORDER_SQL)
        rows = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM raw.purchase_orders o WHERE NOT EXISTS (SELECT 1 FROM analytics.current_stock c "
            "WHERE (c.product_id, c.warehouse_id) = (o.product_id, o.warehouse_id))"
        )
        (uncounted,) = cur.fetchone()
    conn.rollback()
    assert uncounted == 0, "orders of pairs without a stock count: the comparison would miss them"
    wrong = [r for r in rows if r[2] != r[3] or (r[4] and r[5] != r[2])]
    return wrong, sum(1 for r in rows if r[3] > 0), sum(1 for r in rows if r[4] and r[3] > 0)


def orphan_keys(conn) -> dict[str, int]:
    """Per `table.column` holding a dimension's key (spark_jobs.schemas.DIMENSION_OF), the published rows whose
    key has no row in that dimension: all 0 when Power BI's relationships close."""
    from spark_jobs.schemas import DIMENSION_OF, OUTPUTS

    found = {}
    with conn.cursor() as cur:
        for table in analytics.EXPECTED_TABLES:
            for column in OUTPUTS[table].fieldNames():
                dim, key = DIMENSION_OF.get(column, (table, column))
                if (dim, key) == (table, column):
                    continue
                cur.execute(
                    sql.SQL(
                        "SELECT count(*) FROM analytics.{t} AS f WHERE f.{c} IS NOT NULL "
                        "AND NOT EXISTS (SELECT 1 FROM analytics.{d} AS d WHERE d.{k} = f.{c})"
                    ).format(
                        t=sql.Identifier(table), c=sql.Identifier(column), d=sql.Identifier(dim), k=sql.Identifier(key)
                    )
                )
                found[f"{table}.{column}"] = cur.fetchone()[0]
    conn.rollback()
    return found
