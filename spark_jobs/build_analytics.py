"""spark-submit application: build every analytics table as of one instant and write them to `staging`.

One application builds all the tables, so the JVM starts once per cycle. `main` only wires: arguments, the
session, the reads, `build_tables` (pure: DataFrames in, DataFrames out) and the writes. The publish step
(an Airflow task) checks staging and swaps the tables into `analytics` in one transaction.

    spark-submit --jars postgresql.jar spark_jobs/build_analytics.py --as-of 2026-11-23T12:00:00+00:00 \
        --run-id manual-1 [--from-date 2026-11-20] [--low-stock-threshold 50] ...

Fact tables (`fact_daily_sales`, `fact_inventory_reconciliation`) are incremental: with --from-date only the
days from that date on are written (and replaced by the publish step); every other table is rebuilt whole.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run by spark-submit as a file: make the spark_jobs package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from spark_jobs import schemas, transforms  # noqa: E402
from spark_jobs.jobio import MANIFEST_TABLE, Warehouse, read_partitioned, read_query, write_staging  # noqa: E402

INCREMENTAL_TABLES = ("fact_daily_sales", "fact_inventory_reconciliation", "sales_daily")
# Published table name -> its schema in spark_jobs.schemas (named after the transform that makes it).
SCHEMA_OF = {
    "current_stock": "current_stock",
    "low_stock_data": "low_stock",
    "inventory_aging": "inventory_aging",
    "dim_products": "dim_products",
    "fact_daily_sales": "fact_daily_sales",
    "fact_inventory_reconciliation": "daily_reconciliation",
    "product_inventory_metrics": "product_inventory_metrics",
    "kpi_inventory_summary": "kpi_inventory_summary",
    "low_stock_by_warehouse": "low_stock_by_warehouse",
    "sales_daily": "sales_daily",
    "kpi_sales_summary": "kpi_sales_summary",
    "top_products": "top_products",
    "sales_by_warehouse": "sales_by_warehouse",
}


@dataclass(frozen=True)
class Params:
    as_of: datetime
    run_id: str
    from_date: date | None = None
    low_stock_threshold: int = 50
    demand_window_days: int = 30
    overstock_days: int = 90
    aging_threshold_days: int = 90
    period_days: int = 30
    read_partitions: int = 2
    write_threads: int = 4


def parse_args(argv: list[str] | None = None) -> Params:
    parser = argparse.ArgumentParser(description="Build the analytics tables into staging.")
    parser.add_argument("--as-of", required=True, type=datetime.fromisoformat)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--from-date", default="", help="incremental: write fact days from this date (YYYY-MM-DD)")
    for name, default in (
        ("low-stock-threshold", 50),
        ("demand-window-days", 30),
        ("overstock-days", 90),
        ("aging-threshold-days", 90),
        ("period-days", 30),
        ("read-partitions", 2),
        ("write-threads", 4),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    a = parser.parse_args(argv)
    if a.as_of.tzinfo is None:
        parser.error("--as-of needs a time zone offset, e.g. 2026-11-23T12:00:00+00:00")
    return Params(
        as_of=a.as_of.astimezone(UTC),
        run_id=a.run_id,
        from_date=date.fromisoformat(a.from_date) if a.from_date else None,
        low_stock_threshold=a.low_stock_threshold,
        demand_window_days=a.demand_window_days,
        overstock_days=a.overstock_days,
        aging_threshold_days=a.aging_threshold_days,
        period_days=a.period_days,
        read_partitions=a.read_partitions,
        write_threads=a.write_threads,
    )


def compute_from(p: Params) -> date | None:
    """The first day an incremental run must compute: the first day it writes, the day before it (for day-on-day
    growth), and every day the rolling windows reach. None for a full rebuild (everything is computed)."""
    if p.from_date is None:
        return None
    last_day = (p.as_of - timedelta(microseconds=1)).date()
    reach = max(p.period_days, p.demand_window_days) + 1
    return min(p.from_date - timedelta(days=1), last_day - timedelta(days=reach))


def build_tables(raw: dict[str, DataFrame], p: Params) -> dict[str, DataFrame]:
    """Every analytics table from the raw inputs. Pure: the same inputs and params give the same tables.

    `raw` holds the events since compute_from(p) (everything on a full rebuild), the latest count of each pair
    before that day, each pair's first count, and `sales_totals`: all sales up to as_of pre-summed to one row per
    pair (current_stock only sums them), so an incremental run's cost follows the window, not the history.
    """
    t = transforms
    counts, sales, receipts = raw["counts"], raw["sales"], raw["receipts"]
    products, warehouses, locations = raw["products"], raw["warehouses"], raw["locations"]
    since = compute_from(p)

    stock = t.current_stock(counts, products, warehouses, locations, raw["sales_totals"], p.as_of).cache()
    demand = t.average_daily_demand(sales, p.as_of, p.demand_window_days)
    low = t.low_stock(stock, demand, products, p.low_stock_threshold).cache()
    aging = t.inventory_aging(stock, receipts, raw["first_counts"], p.as_of, p.aging_threshold_days).cache()
    daily_sales = t.fact_daily_sales(sales, p.as_of, since).cache()
    reconciliation = t.daily_reconciliation(counts, sales, receipts, products, p.as_of, since).cache()
    metrics = t.product_inventory_metrics(
        stock, demand, daily_sales, reconciliation, products, p.as_of, p.demand_window_days, p.overstock_days
    ).cache()
    by_day = t.sales_daily(daily_sales)
    tables = {
        "current_stock": stock,
        "low_stock_data": low,
        "inventory_aging": aging,
        "dim_products": t.dim_products(products),
        "fact_daily_sales": daily_sales,
        "fact_inventory_reconciliation": reconciliation,
        "product_inventory_metrics": metrics,
        "kpi_inventory_summary": t.kpi_inventory_summary(stock, aging, metrics, low, p.aging_threshold_days),
        "low_stock_by_warehouse": t.low_stock_by_warehouse(low),
        "sales_daily": by_day,
        "kpi_sales_summary": t.kpi_sales_summary(by_day, p.as_of, p.period_days),
        "top_products": t.top_products(daily_sales, products, p.as_of, p.period_days),
        "sales_by_warehouse": t.sales_by_warehouse(daily_sales, warehouses, locations, p.as_of, p.period_days),
    }
    if p.from_date is not None:  # fact tables: only the days that changed are written
        for name in INCREMENTAL_TABLES:
            tables[name] = tables[name].where(F.col("date_key") >= F.lit(p.from_date))
    return tables


def _instant(moment: datetime) -> str:
    """An SQL timestamptz literal (the moments are ours, never user text)."""
    return f"'{moment.isoformat()}'::timestamptz"


def _start(p: Params) -> str | None:
    """The SQL instant an incremental run reads events from (00:00 UTC of compute_from), None on a full rebuild."""
    since = compute_from(p)
    return _instant(datetime.combine(since, datetime.min.time(), UTC)) if since else None


def sales_query(p: Params) -> str:
    """The sale lines build_tables needs, pre-summed in PostgreSQL (at scale M, 2.8 M rows cross JDBC, not 10.5 M).

    One row per pair, UTC day and side of every instant a transform filters sales on (the demand window's open
    start, as_of itself; the day boundaries are covered by the day): each line a row stands for passes exactly
    the filters the row passes, so every sum over rows equals the sum over lines. `transactions` counts them.
    """
    at, start = _instant(p.as_of), _start(p)
    window_start = _instant(p.as_of - timedelta(days=p.demand_window_days))
    return (
        "SELECT product_id, warehouse_id, sum(units_sold) AS units_sold, min(unit_price) AS unit_price, "
        "sum(total_revenue) AS total_revenue, min(sale_date) AS sale_date, count(*) AS transactions "
        f"FROM raw.product_sales WHERE sale_date <= {at}"
        + (f" AND sale_date >= {start} " if start else " ")
        + "GROUP BY product_id, warehouse_id, (sale_date AT TIME ZONE 'UTC')::date, "
        f"sale_date > {window_start}, sale_date = {at}"
    )


def read_raw(spark: SparkSession, db: Warehouse, p: Params) -> dict[str, DataFrame]:
    """The raw inputs as of p.as_of (events after it are not read at all), limited to what build_tables needs."""
    at, start = _instant(p.as_of), _start(p)
    s = schemas
    counts_query = (
        "SELECT inventory_id, product_id, warehouse_id, quantity, count_type, counted_at FROM raw.inventory "
        f"WHERE counted_at <= {at}"
    )
    if start:
        # The window's counts, plus each pair's latest count before it (the opening stock of its first day).
        counts_query = (
            f"{counts_query} AND counted_at >= {start} UNION ALL (SELECT DISTINCT ON (product_id, warehouse_id) "
            "inventory_id, product_id, warehouse_id, quantity, count_type, counted_at FROM raw.inventory "
            f"WHERE counted_at < {start} ORDER BY product_id, warehouse_id, counted_at DESC)"
        )
    sales = read_partitioned(
        spark,
        db,
        sales_query(p),
        s.SALES,
        "product_id",
        p.read_partitions,
        bounds_query="SELECT min(product_id) AS lo, max(product_id) AS hi FROM raw.products",
    ).cache()
    if start:
        totals = read_query(
            spark,
            db,
            "SELECT product_id, warehouse_id, sum(units_sold) AS units_sold, min(unit_price) AS unit_price, "
            f"sum(total_revenue) AS total_revenue, max(sale_date) AS sale_date, count(*) AS transactions "
            f"FROM raw.product_sales WHERE sale_date <= {at} GROUP BY product_id, warehouse_id",
            s.SALES,
        )
    else:
        totals = sales
    return {
        "products": read_query(spark, db, "SELECT * FROM raw.products", s.PRODUCTS),
        "warehouses": read_query(spark, db, "SELECT * FROM raw.warehouse", s.WAREHOUSES),
        "locations": read_query(spark, db, "SELECT * FROM raw.warehouse_locations", s.LOCATIONS),
        "counts": read_partitioned(spark, db, counts_query, s.COUNTS, "inventory_id", p.read_partitions).cache(),
        "first_counts": read_query(
            spark,
            db,
            "SELECT product_id, warehouse_id, min(counted_at) AS counted_at FROM raw.inventory "
            f"WHERE counted_at <= {at} GROUP BY product_id, warehouse_id",
            s.FIRST_COUNTS,
        ),
        "sales": sales,
        "sales_totals": totals,
        "receipts": read_query(spark, db, f"SELECT * FROM raw.stock_receipts WHERE received_at <= {at}", s.RECEIPTS),
    }


def manifest_rows(p: Params) -> list[tuple]:
    """What this run writes to staging, one row per table: (table, key columns, scope, from_date, as_of, run_id)."""
    return [
        (
            name,
            ",".join(schemas.OUTPUT_KEYS[SCHEMA_OF[name]]),
            "days" if name in INCREMENTAL_TABLES and p.from_date else "all",
            p.from_date if name in INCREMENTAL_TABLES else None,
            p.as_of,
            p.run_id,
        )
        for name in SCHEMA_OF
    ]


MANIFEST_SCHEMA = "table_name string, key_columns string, scope string, from_date date, as_of timestamp, run_id string"


def write_manifest(spark: SparkSession, db: Warehouse, p: Params, refreshed_at: datetime) -> None:
    """The manifest the publish step follows (it refuses a manifest of another run).

    Built from literals in the JVM (not spark.createDataFrame of Python rows, which would start Python workers
    on the executors): the job runs no Python on executors at all, so a cluster's workers need no Python.
    """
    columns = [c.split() for c in MANIFEST_SCHEMA.split(", ")]
    rows = [
        F.struct(*[F.lit(v).cast(t).alias(c) for v, (c, t) in zip(row, columns, strict=True)])
        for row in manifest_rows(p)
    ]
    df = spark.range(1).select(F.inline(F.array(*rows)))
    write_staging(db, df, MANIFEST_TABLE.split(".", 1)[1], refreshed_at)


def main(argv: list[str] | None = None) -> int:
    p = parse_args(argv)
    began = time.monotonic()
    spark = (
        SparkSession.builder.appName(f"build_inventory_analytics {p.run_id}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2, p.read_partitions)))
        # PySpark 4 records the Python call site of every DataFrame call for error messages: four extra JVM
        # round trips per call, about a fifth of the time spent building the plans (profiled with cProfile).
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
        .getOrCreate()
    )
    db = Warehouse.from_env()
    refreshed_at = datetime.now(UTC)
    started = time.monotonic()
    tables = build_tables(read_raw(spark, db, p), p)
    print(
        f"build_analytics: session in {started - began:.1f}s, plans of {len(tables)} tables in "
        f"{time.monotonic() - started:.1f}s",
        flush=True,
    )

    def write(item: tuple[str, DataFrame]) -> None:
        name, df = item
        step = time.monotonic()
        # Small tables in one insert stream; the fact tables in as many as the cores.
        write_staging(db, df if name in INCREMENTAL_TABLES else df.coalesce(1), name, refreshed_at)
        print(f"build_analytics: staging.{name} written in {time.monotonic() - step:.1f}s", flush=True)

    # The tables are small and share cached inputs: writing several at once keeps both cores busy while
    # each write waits on PostgreSQL.
    with ThreadPoolExecutor(max_workers=p.write_threads) as pool:
        list(pool.map(write, tables.items()))
    write_manifest(spark, db, p, refreshed_at)
    scope = f"fact days from {p.from_date}" if p.from_date else "full rebuild"
    print(
        f"build_analytics: {len(tables)} tables as of {p.as_of.isoformat()} ({scope}) in "
        f"{time.monotonic() - began:.1f}s",
        flush=True,
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
