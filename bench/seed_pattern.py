"""The seed's approach, reproduced so that it can be timed against ours on the same data.

- Ingest (`insert_rows_one_by_one`): one INSERT per row, and a SELECT of the product's price before each sale.
  Given the benefit of the doubt: one transaction per batch, not a commit per row.
- Analytics (`main`, a spark-submit application): every raw table read whole with one unpartitioned JDBC read
  (`spark.read.jdbc(url, table)`: no pushed-down filter, one partition, the driver's default fetch size), the
  same tables computed by the same pure transforms (`spark_jobs.build_analytics.build_tables`), each written
  one after the other with plain JDBC `mode("overwrite")` (drop and re-create, 1,000-row batches, no
  `reWriteBatchedInserts`) into the bench's schema `seed_pattern`. Same formulas, the seed's I/O.

    spark-submit --jars postgresql.jar bench/seed_pattern.py --as-of 2026-06-01T00:00:00+00:00 --run-id x
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = "seed_pattern"
RAW = {
    "products": "raw.products",
    "warehouses": "raw.warehouse",
    "locations": "raw.warehouse_locations",
    "counts": "raw.inventory",
    "sales": "raw.product_sales",
    "receipts": "raw.stock_receipts",
    "orders": "raw.purchase_orders",
    "suppliers": "raw.suppliers",
    "product_suppliers": "raw.product_suppliers",
}


# ------------------------------------------------------------------------------------------------ ingest


def insert_rows_one_by_one(cur, batch_id: str, rows) -> int:
    """The seed's loader: a SELECT per sale (its price) and one INSERT per row. Returns the rows inserted."""
    count = 0
    for product_id, warehouse_id, units, _price, sale_date in rows.sales:
        cur.execute("SELECT selling_price FROM raw.products WHERE product_id = %s", (product_id,))
        (price,) = cur.fetchone()
        cur.execute(
            "INSERT INTO raw.product_sales (product_id, warehouse_id, units_sold, unit_price, sale_date, batch_id) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (product_id, warehouse_id, units, price, sale_date, batch_id),
        )
        count += 1
    for table, columns, data in (
        (
            "raw.purchase_orders",
            "order_id, product_id, warehouse_id, supplier_id, quantity, unit_cost, ordered_at, expected_at",
            rows.orders,
        ),
        (
            "raw.stock_receipts",
            "order_id, product_id, warehouse_id, supplier_id, quantity, unit_cost, ordered_at, received_at",
            rows.receipts,
        ),
        ("raw.inventory", "product_id, warehouse_id, quantity, count_type, counted_at", rows.counts),
        ("sim.shrinkage_events", "product_id, warehouse_id, occurred_at, units, reason", rows.shrinkage),
    ):
        marks = ", ".join(["%s"] * (len(columns.split(",")) + 1))
        statement = f"INSERT INTO {table} ({columns}, batch_id) VALUES ({marks})"  # constant table names
        for row in data:
            cur.execute(statement, (*row, batch_id))
            count += 1
    return count


# ------------------------------------------------------------------------------------------------ analytics


def read_whole(spark, url: str, props: dict, table: str, schema):
    """One unpartitioned JDBC read of a whole table, conformed to the job's named schema."""
    from pyspark.sql import functions as F

    from spark_jobs.jobio import conform

    df = spark.read.jdbc(url, table, properties=props)
    if "transactions" in schema.fieldNames():  # sale lines read as they are: each stands for one
        df = df.withColumn("transactions", F.lit(1))
    return conform(df, schema)


def main(argv: list[str] | None = None) -> int:
    if __package__ in (None, ""):  # run by spark-submit as a file: make the project importable
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from spark_jobs import schemas, transforms
    from spark_jobs.build_analytics import build_tables, parse_args

    # The same arguments as build_analytics.py (a full rebuild's): as of, run id and the plan's settings.
    p = parse_args(argv)
    began = time.monotonic()
    spark = SparkSession.builder.appName(f"seed_pattern {p.run_id}").getOrCreate()
    url = os.environ["WAREHOUSE_JDBC_URL"]
    props = {
        "user": os.environ.get("WAREHOUSE_DB_USER", "postgres"),
        "password": os.environ.get("WAREHOUSE_DB_PASSWORD", ""),
        "driver": "org.postgresql.Driver",
    }
    s = schemas
    raw = {
        name: read_whole(spark, url, props, table, schema)
        for (name, table), schema in zip(
            RAW.items(),
            (
                s.PRODUCTS,
                s.WAREHOUSES,
                s.LOCATIONS,
                s.COUNTS,
                s.SALES,
                s.RECEIPTS,
                s.ORDERS,
                s.SUPPLIERS,
                s.PRODUCT_SUPPLIERS,
            ),
            strict=True,
        )
    }
    raw["first_counts"] = transforms.first_counts(raw["counts"], p.as_of)
    raw["sales_totals"] = raw["sales"]
    raw["first_sale"] = raw["sales"].agg(F.min("sale_date").alias("sale_date"))
    refreshed_at = datetime.now(UTC)
    for name, df in build_tables(raw, p).items():
        step = time.monotonic()
        df.withColumn("refreshed_at", F.lit(refreshed_at).cast("timestamp")).write.jdbc(
            url, f"{SCHEMA}.{name}", mode="overwrite", properties=props
        )
        print(f"seed_pattern: {SCHEMA}.{name} written in {time.monotonic() - step:.1f}s", flush=True)
    print(f"seed_pattern: done in {time.monotonic() - began:.1f}s", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
