"""build_analytics reads sales pre-summed by PostgreSQL (`sales_query`): every table built from those rows must
equal the table built from the sale lines themselves, including lines exactly on the instants the transforms
filter on (as_of, the demand window's open start, midnight).

Eight simulated days, plus hand-placed lines on those boundaries; both inputs are read with psycopg2 into the
test's local Spark session, and every table is compared row for row, for a full rebuild and an incremental
run whose as_of falls mid-day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from include.inventory import db
from include.inventory import simulation as sim

pytestmark = pytest.mark.slow

CONFIG = sim.SimConfig(seed=314, locations=2, warehouses=3, suppliers=3, shrinkage_per_pair_day=0.05)
END = datetime(2026, 9, 10, tzinfo=UTC)
DAYS = 8
DEMAND_DAYS = 3
AS_OF_INCREMENTAL = END - timedelta(hours=9, microseconds=1)  # mid-day, not on a whole second

LINES = (
    "SELECT product_id, warehouse_id, units_sold, unit_price, total_revenue, sale_date, 1 AS transactions "
    "FROM raw.product_sales WHERE sale_date <= %(as_of)s AND sale_date >= %(start)s"
)
OTHER_INPUTS = {
    "products": ("PRODUCTS", "SELECT * FROM raw.products"),
    "warehouses": ("WAREHOUSES", "SELECT * FROM raw.warehouse"),
    "locations": ("LOCATIONS", "SELECT * FROM raw.warehouse_locations"),
    "counts": ("COUNTS", "SELECT * FROM raw.inventory WHERE counted_at <= %(as_of)s"),
    "receipts": ("RECEIPTS", "SELECT * FROM raw.stock_receipts WHERE received_at <= %(as_of)s"),
    "orders": ("ORDERS", "SELECT * FROM raw.purchase_orders WHERE ordered_at <= %(as_of)s"),
    "first_counts": (
        "FIRST_COUNTS",
        "SELECT product_id, warehouse_id, min(counted_at) AS counted_at FROM raw.inventory "
        "WHERE counted_at <= %(as_of)s GROUP BY product_id, warehouse_id",
    ),
    "suppliers": ("SUPPLIERS", "SELECT * FROM raw.suppliers"),
    "product_suppliers": ("PRODUCT_SUPPLIERS", "SELECT * FROM raw.product_suppliers"),
    "first_sale": (
        "FIRST_SALE",
        "SELECT min(sale_date) AS sale_date FROM raw.product_sales WHERE sale_date <= %(as_of)s",
    ),
    "sales_totals": (
        "SALES",
        "SELECT product_id, warehouse_id, sum(units_sold)::int AS units_sold, min(unit_price) AS unit_price, "
        "sum(total_revenue) AS total_revenue, max(sale_date) AS sale_date, count(*)::int AS transactions "
        "FROM raw.product_sales WHERE sale_date <= %(as_of)s GROUP BY product_id, warehouse_id",
    ),
}


def read(spark, conn, statement: str, schema_name: str, params: dict):
    from spark_jobs import schemas

    struct = getattr(schemas, schema_name)
    with conn.cursor() as cur:
        cur.execute(statement, params)
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.rollback()
    return spark.createDataFrame([tuple(r[f.name] for f in struct.fields) for r in rows], struct), len(rows)


@pytest.fixture(scope="module")
def loaded(simulated_history):
    with simulated_history(CONFIG, END, DAYS, 6, "pushdown") as conn:
        # Lines exactly on each boundary a transform filters on, for both runs below, and just either side of them
        # on the same day (a sum that wrongly merged the two sides would then differ).
        boundaries = []
        for as_of in (END, AS_OF_INCREMENTAL):
            window_start = as_of - timedelta(days=DEMAND_DAYS)
            boundaries += [as_of, as_of - timedelta(seconds=1), window_start, window_start + timedelta(microseconds=1)]
        midnight = END - timedelta(days=2)
        boundaries += [midnight, midnight - timedelta(microseconds=1)]
        with db.transaction(conn) as cur:
            cur.execute("SELECT product_id, warehouse_id, batch_id FROM raw.product_sales LIMIT 1")
            product_id, warehouse_id, batch_id = cur.fetchone()
            for i, moment in enumerate(boundaries):
                cur.execute(
                    "INSERT INTO raw.product_sales "
                    "(product_id, warehouse_id, units_sold, unit_price, sale_date, batch_id) "
                    "VALUES (%s, %s, %s, 1.25, %s, %s), (%s, %s, %s, 1.75, %s, %s)",
                    (product_id, warehouse_id, i + 1, moment, batch_id) * 2,
                )
        yield conn


@pytest.mark.parametrize(
    ("as_of", "from_date"),
    [(END, None), (AS_OF_INCREMENTAL, date(2026, 9, 8))],
    ids=["full rebuild", "incremental, as_of mid-day"],
)
def test_tables_from_presummed_sales_equal_tables_from_sale_lines(spark, loaded, as_of, from_date):
    from include.inventory.analytics import default_settings
    from spark_jobs.build_analytics import Params, build_tables, compute_from, sales_query

    # Every pair under the threshold: low_stock_data (days of cover from the demand) holds every pair too.
    settings = {**default_settings(), "demand_window_days": DEMAND_DAYS, "low_stock_threshold": 1_000_000}
    mode = "window" if from_date else "full"
    p = Params(as_of=as_of, run_id="pushdown-test", mode=mode, from_date=from_date, **settings)
    since = compute_from(p)
    start = datetime.combine(since, datetime.min.time(), UTC) if since else datetime(1970, 1, 1, tzinfo=UTC)
    params = {"as_of": as_of, "start": start}
    inputs = {name: read(spark, loaded, q, s, params)[0] for name, (s, q) in OTHER_INPUTS.items()}
    lines, n_lines = read(spark, loaded, LINES, "SALES", params)
    presummed, n_rows = read(spark, loaded, sales_query(p), "SALES", {})
    assert 0 < n_rows < n_lines / 2  # the query does sum lines, and the boundary lines are in both inputs
    # A full rebuild sums its own sales input for current_stock (build_analytics.read_raw); an incremental run
    # reads the totals with a query of their own, the same for both.
    full = from_date is None
    from_lines = build_tables({**inputs, "sales": lines, **({"sales_totals": lines} if full else {})}, p)
    from_rows = build_tables({**inputs, "sales": presummed, **({"sales_totals": presummed} if full else {})}, p)
    for name, expected in from_lines.items():
        assert expected.count() > 0, name
        assertDataFrameEqual(from_rows[name], expected, rtol=0, atol=0)
