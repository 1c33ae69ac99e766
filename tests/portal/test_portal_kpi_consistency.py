"""The location-scoped KPIs of sql/portal/ against the published global KPIs, on tables built by the real Spark
transforms (`spark_jobs.build_analytics.build_tables`) from two simulated weeks.

Over every warehouse, the scoped queries must give exactly the one-row KPI tables the Spark job publishes (the
same formulas, the same rounding); the additive figures of the three locations must add up to the global ones.
The simulation is small (12 products x 5 warehouses in 3 locations, 14 days; short aging threshold, demand window
and sales period so that every KPI is defined) and runs once for the module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import portal_seed
import pytest
from db_helpers import create_published_tables
from db_helpers import rows as fetch
from psycopg2 import sql

from include.inventory import db
from include.inventory import simulation as sim
from include.portal import dashboards

pytestmark = pytest.mark.slow

CONFIG = sim.SimConfig(seed=909, locations=3, warehouses=5, suppliers=4, shrinkage_per_pair_day=0.05)
END = datetime(2026, 9, 2, tzinfo=UTC)  # a Wednesday at 00:00: "today" is Tuesday (docs/metrics.md)
DAYS = 14
PERIOD_DAYS = 10
RAW_QUERIES = {
    "products": "SELECT * FROM raw.products",
    "warehouses": "SELECT * FROM raw.warehouse",
    "locations": "SELECT * FROM raw.warehouse_locations",
    "counts": "SELECT * FROM raw.inventory WHERE counted_at <= %(as_of)s",
    "sales": "SELECT *, 1 AS transactions FROM raw.product_sales WHERE sale_date <= %(as_of)s",
    "receipts": "SELECT * FROM raw.stock_receipts WHERE received_at <= %(as_of)s",
    "orders": "SELECT * FROM raw.purchase_orders WHERE ordered_at <= %(as_of)s",
    "first_counts": "SELECT product_id, warehouse_id, min(counted_at) AS counted_at FROM raw.inventory "
    "WHERE counted_at <= %(as_of)s GROUP BY product_id, warehouse_id",
    "suppliers": "SELECT * FROM raw.suppliers",
    "product_suppliers": "SELECT * FROM raw.product_suppliers",
    "first_sale": "SELECT min(sale_date) AS sale_date FROM raw.product_sales WHERE sale_date <= %(as_of)s",
}
RAW_SCHEMAS = {
    "products": "PRODUCTS",
    "warehouses": "WAREHOUSES",
    "locations": "LOCATIONS",
    "counts": "COUNTS",
    "sales": "SALES",
    "receipts": "RECEIPTS",
    "orders": "ORDERS",
    "first_counts": "FIRST_COUNTS",
    "suppliers": "SUPPLIERS",
    "product_suppliers": "PRODUCT_SUPPLIERS",
    "first_sale": "FIRST_SALE",
}


def raw_frames(spark, conn, as_of: datetime) -> dict:
    """The full-rebuild inputs of build_tables, read with psycopg2 (the session has no JDBC driver)."""
    from spark_jobs import schemas

    frames = {}
    for name, query in RAW_QUERIES.items():
        struct = getattr(schemas, RAW_SCHEMAS[name])
        with conn.cursor() as cur:
            cur.execute(query, {"as_of": as_of})
            names = [d.name for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        conn.rollback()
        data = [tuple(r[f.name] for f in struct.fields) for r in rows]
        frames[name] = spark.createDataFrame(data, struct)
    frames["sales_totals"] = frames["sales"]  # a full rebuild sums every sale (build_analytics.read_raw)
    return frames


@pytest.fixture(scope="module")
def published(spark, simulated_history):
    """A month simulated into raw, built by the Spark transforms and loaded into analytics as publish does."""
    from include.inventory.analytics import default_settings
    from spark_jobs.build_analytics import Params, build_tables

    with simulated_history(CONFIG, END, DAYS, 12, "portal") as conn:
        settings = {
            **default_settings(),
            "period_days": PERIOD_DAYS,
            "demand_window_days": 7,
            "aging_threshold_days": 5,
            "overstock_days": 10,
        }
        params = Params(as_of=END, run_id="portal-kpi-test", **settings)
        tables = build_tables(raw_frames(spark, conn, END), params)
        with db.transaction(conn) as cur:
            create_published_tables(cur)
            for name, frame in tables.items():
                portal_seed.insert(cur, name, [row.asDict() for row in frame.collect()])
            portal_seed.publish(cur, END, "portal-kpi-test")
        yield conn


def query(conn, name: str, params: dict) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE bi_reader")
        rows = dashboards._rows(cur, name, params)
    conn.rollback()
    return rows


def global_row(conn, table: str) -> dict:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM analytics.{}").format(sql.Identifier(table)))
        names = [d.name for d in cur.description]
        (row,) = cur.fetchall()
    conn.rollback()
    return {n: v for n, v in zip(names, row, strict=True) if n != "refreshed_at"}


def locations(conn) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for location_id, warehouse_id in fetch(conn, "SELECT location_id, warehouse_id FROM raw.warehouse ORDER BY 2"):
        found.setdefault(location_id, []).append(warehouse_id)
    return found


def scoped_sales(conn, warehouses: list[int]) -> dict:
    period = dashboards.sales_period(END, PERIOD_DAYS)
    return query(conn, "sales_kpis", {"warehouse_ids": warehouses, "period_days": PERIOD_DAYS, **period})[0]


def test_the_simulation_has_something_to_check(published):
    assert len(locations(published)) == 3
    inventory = global_row(published, "kpi_inventory_summary")
    assert inventory["total_units"] > 0 and inventory["low_stock_products"] > 0 and inventory["aging_units"] > 0
    assert inventory["overstock_products"] > 0
    assert None not in (
        inventory["inventory_turnover"],
        inventory["weighted_aging_days"],
        inventory["avg_price_aging_stock"],
    )
    sales = global_row(published, "kpi_sales_summary")
    assert sales["total_revenue"] > 0 and sales["dod_growth_pct"] is not None


def test_inventory_kpis_over_every_warehouse_are_the_published_ones(published):
    every = [w for ws in locations(published).values() for w in ws]
    scoped = query(published, "inventory_kpis", {"warehouse_ids": every})[0]
    expected = global_row(published, "kpi_inventory_summary")
    assert {k: scoped[k] for k in expected} == expected


def test_sales_kpis_over_every_warehouse_are_the_published_ones(published):
    every = [w for ws in locations(published).values() for w in ws]
    scoped = scoped_sales(published, every)
    expected = global_row(published, "kpi_sales_summary")
    assert {k: scoped[k] for k in expected} == expected


def test_top_products_over_every_warehouse_are_the_published_ones(published):
    every = [w for ws in locations(published).values() for w in ws]
    period = dashboards.sales_period(END, PERIOD_DAYS)
    scoped = query(published, "top_products", {"warehouse_ids": every, "limit": 20, **period})
    columns = "ranking, ranking_label, rank, product_id, sku, product_name, category, units, revenue"
    expected = fetch(published, f"SELECT {columns} FROM analytics.top_products")
    assert sorted(tuple(r.values()) for r in scoped) == sorted(expected)


ADDITIVE_INVENTORY = (
    "total_units",
    "stock_value",
    "aging_units",
    "aging_value",
    "overstock_products",
    "low_stock_products",
    "avg_daily_demand",
)
ADDITIVE_SALES = ("wtd_revenue", "wtd_units", "total_revenue", "total_units")


def test_locations_add_up_to_the_global_kpis(published):
    by_location = locations(published)
    inventory = [query(published, "inventory_kpis", {"warehouse_ids": ws})[0] for ws in by_location.values()]
    sales = [scoped_sales(published, ws) for ws in by_location.values()]
    global_inventory = global_row(published, "kpi_inventory_summary")
    global_sales = global_row(published, "kpi_sales_summary")
    for column in ADDITIVE_INVENTORY:
        assert sum(s[column] for s in inventory) == global_inventory[column], column
    for column in ADDITIVE_SALES:
        assert sum(s[column] for s in sales) == global_sales[column], column
    # Not additive, but bounded: a product stocked in several locations counts once globally.
    assert max(s["unique_products"] for s in inventory) <= global_inventory["unique_products"]
    assert sum(s["unique_products"] for s in inventory) >= global_inventory["unique_products"]
    assert all(s["total_units"] > 0 for s in inventory)  # each location has its own, non-empty share


def test_per_warehouse_tables_agree_with_the_scoped_kpis(published):
    period = dashboards.sales_period(END, PERIOD_DAYS)
    for warehouses in locations(published).values():
        kpis = query(published, "inventory_kpis", {"warehouse_ids": warehouses})[0]
        stock = query(published, "stock_by_warehouse", {"warehouse_ids": warehouses})
        assert sum(w["low_stock_products"] for w in stock) == kpis["low_stock_products"]
        assert sum(w["units"] for w in stock) == kpis["total_units"]
        assert sum(w["stock_value"] for w in stock) == kpis["stock_value"]
        aging = query(published, "aging_buckets", {"warehouse_ids": warehouses})
        assert [b["bucket_order"] for b in aging] == [1, 2, 3, 4]
        assert sum(b["units"] for b in aging) == kpis["total_units"]  # buckets add up to on-hand
        sales = scoped_sales(published, warehouses)
        by_warehouse = query(published, "sales_by_warehouse", {"warehouse_ids": warehouses})
        assert sum(w["revenue"] for w in by_warehouse) == sales["total_revenue"]
        trend = query(published, "sales_trend", {"warehouse_ids": warehouses, **period})
        assert len(trend) == PERIOD_DAYS and trend[-1]["date_key"] == period["today"]
        assert all(d["is_complete_day"] for d in trend)  # as of 00:00: every day of the period has ended
        assert sum(d["revenue"] for d in trend) == sales["total_revenue"]
        assert sales["avg_daily_sales"] == (sales["total_revenue"] / PERIOD_DAYS).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
