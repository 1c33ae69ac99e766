"""The analytics application: build every analytics table as of one instant and write it to `staging`.

The same application runs two ways: submitted with `spark-submit` (its `main`, for full rebuilds, backfills and
clusters), or on a long-lived Spark Connect server (`run`, called by the minute's Airflow task with a remote
session, so no JVM starts per minute). `run` only wires: the reads, `build_tables` (pure: DataFrames in,
DataFrames out) and the writes. The publish step (an Airflow task) gates staging and applies it to `analytics`
in one transaction.

    spark-submit --jars postgresql.jar spark_jobs/build_analytics.py --as-of 2026-11-23T12:00:00+00:00 \
        --run-id manual-1 --low-stock-threshold 50 --demand-window-days 30 --overstock-days 90 \
        --aging-threshold-days 90 --period-days 30 [--mode window --from-date 2026-11-20]

Three modes, chosen by the plan (include/inventory/analytics.py), all giving the tables a full rebuild gives:

- `full`: every table from all of the raw layer.
- `window`: the fact tables from `--from-date` on (the days that changed), every other table whole, from the
  events its rolling windows reach. Used when a day has turned, or settings or master data changed.
- `pairs`: only the product x warehouse pairs the run's batches touched (`--pairs`), the days from
  `--from-date` on. Pair-local tables are built from those pairs' rows alone; the tables that sum over many
  pairs combine those rows with the rollups of the published rows they leave as they are (summed by
  PostgreSQL; `transforms.Rollup`); the ABC class ranks the new rows with the published rest. Its cost follows
  the pairs that moved, not the history or the number of pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run by spark-submit as a file: make the spark_jobs package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from spark_jobs import registry, schemas, transforms  # noqa: E402
from spark_jobs.jobio import MANIFEST_TABLE, Warehouse, read_partitioned, read_query, write_staging  # noqa: E402

MODES = ("full", "window", "pairs")
PAIR = ("product_id", "warehouse_id")
# What each table's staging rows replace in the published table, per incremental mode (the publish step follows
# it): declared with the table in spark_jobs/registry.py (Table.scopes).
SCOPES: dict[str, dict[str, str]] = {name: table.scopes for name, table in registry.TABLES.items()}
DAY_SCOPES = ("days", "pair_days")


def scope(table: str, mode: str) -> str:
    return "all" if mode == "full" else SCOPES[table][mode]


@dataclass(frozen=True)
class Params:
    """One run's instant, mode and settings. The settings have no defaults here: the plan resolves them once."""

    as_of: datetime
    run_id: str
    low_stock_threshold: int
    demand_window_days: int
    overstock_days: int
    aging_threshold_days: int
    period_days: int
    mode: str = "full"
    from_date: date | None = None
    pairs: tuple[tuple[int, int], ...] = field(default=())
    read_partitions: int = 2
    write_threads: int = 4

    def __post_init__(self):
        if self.as_of.tzinfo is None:
            raise ValueError("as_of needs a time zone offset, e.g. 2026-11-23T12:00:00+00:00")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if (self.mode == "full") != (self.from_date is None):
            raise ValueError("a full rebuild has no from_date; the window and pairs modes need one")
        if self.pairs and self.mode != "pairs":
            raise ValueError("pairs are given only in the pairs mode")


def _pairs_arg(text: str) -> tuple[tuple[int, int], ...]:
    """'1:10,2:10' -> ((1, 10), (2, 10))."""
    return tuple(tuple(int(v) for v in item.split(":")) for item in text.split(",") if item.strip())


def parse_args(argv: list[str] | None = None) -> Params:
    parser = argparse.ArgumentParser(description="Build the analytics tables into staging.")
    parser.add_argument("--as-of", required=True, type=datetime.fromisoformat)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--mode", choices=MODES, default=None, help="default: full, or window with --from-date")
    parser.add_argument("--from-date", default="", help="window/pairs: the first fact day written (YYYY-MM-DD)")
    parser.add_argument("--pairs", default="", type=str, help="pairs mode: product:warehouse,...")
    for name in ("low-stock-threshold", "demand-window-days", "overstock-days", "aging-threshold-days", "period-days"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--read-partitions", type=int, default=2)
    parser.add_argument("--write-threads", type=int, default=4)
    a = parser.parse_args(argv)
    from_date = date.fromisoformat(a.from_date) if a.from_date else None
    try:
        return Params(
            as_of=a.as_of.astimezone(UTC) if a.as_of.tzinfo else a.as_of,
            run_id=a.run_id,
            mode=a.mode or ("window" if from_date else "full"),
            from_date=from_date,
            pairs=_pairs_arg(a.pairs),
            low_stock_threshold=a.low_stock_threshold,
            demand_window_days=a.demand_window_days,
            overstock_days=a.overstock_days,
            aging_threshold_days=a.aging_threshold_days,
            period_days=a.period_days,
            read_partitions=a.read_partitions,
            write_threads=a.write_threads,
        )
    except ValueError as exc:
        parser.error(str(exc))


def _last_day(p: Params) -> date:
    return (p.as_of - timedelta(microseconds=1)).date()


def compute_from(p: Params) -> date | None:
    """The first day an incremental run must compute: the first day it writes, the day before it (for day-on-day
    growth), and every day the rolling windows reach. None for a full rebuild (everything is computed)."""
    if p.from_date is None:
        return None
    reach = max(p.period_days, p.demand_window_days) + 1
    return min(p.from_date - timedelta(days=1), _last_day(p) - timedelta(days=reach))


def _cache(df: DataFrame) -> DataFrame:
    return df.cache()


def build_tables(raw: dict[str, DataFrame], p: Params, keep=_cache) -> dict[str, DataFrame]:
    """Every table this run writes, from the raw inputs. Pure: the same inputs and params give the same tables.

    `raw` holds the events since compute_from(p) (everything on a full rebuild), the latest count of each pair
    before that day, each pair's first count, every receipt and purchase order up to as_of (an order open now
    may be of any age), and `sales_totals`: all sales up to as_of pre-summed to one row per
    pair (current_stock only sums them), so an incremental run's cost follows the window, not the history. In
    the pairs mode all of it is limited to the run's pairs, and `published` holds what the run reads of the
    published tables (see `read_published`).
    """
    t = transforms
    counts, sales, receipts = raw["counts"], raw["sales"], raw["receipts"]
    products, warehouses, locations = raw["products"], raw["warehouses"], raw["locations"]
    since = compute_from(p)
    pairs_mode = p.mode == "pairs"
    published = raw.get("published", {})

    on_order = t.on_order(raw["orders"], receipts, p.as_of)
    stock = keep(t.current_stock(counts, products, warehouses, locations, raw["sales_totals"], on_order, p.as_of))
    demand = t.average_daily_demand(sales, p.as_of, p.demand_window_days)
    low = keep(t.low_stock_data(stock, demand, products, p.low_stock_threshold))
    aging = keep(t.inventory_aging(stock, receipts, raw["first_counts"], p.as_of, p.aging_threshold_days))
    daily_sales = keep(t.fact_daily_sales(sales, p.as_of, since))
    reconciliation = keep(t.fact_inventory_reconciliation(counts, sales, receipts, products, p.as_of, since))
    metrics = keep(
        t.product_inventory_metrics(
            stock,
            demand,
            daily_sales,
            reconciliation,
            products,
            p.as_of,
            p.demand_window_days,
            p.overstock_days,
            classify=not pairs_mode,
        )
    )
    if p.from_date is not None:  # the fact days this run writes
        written_days = F.col("date_key") >= F.lit(p.from_date)
        daily_sales_written = daily_sales.where(written_days)
        reconciliation = reconciliation.where(written_days)
    else:
        daily_sales_written = daily_sales

    if pairs_mode:
        # Sums over many pairs: the new rows of this run's pairs + the rollups of the published rows kept.
        sales_input, sales_kept = daily_sales_written, published
        kpi_kept = {
            "current_stock": published["stock_by_product"],
            "inventory_aging": published["aging_totals"],
            "product_inventory_metrics": published["metrics_totals"],
            "low_stock_data": published["low_stock_totals"],
        }
        by_warehouse_kept = {
            "current_stock": published["stock_by_warehouse"],
            "inventory_aging": published["aging_by_warehouse"],
            "product_inventory_metrics": published["metrics_by_warehouse"],
            "low_stock_data": published["low_stock_by_warehouse"],
        }
        by_day = t.sales_daily(daily_sales_written, p.as_of, published["sales_by_day"])
        all_days = published["sales_daily"].unionByName(by_day.where(written_days))
        kept_metrics = published["product_inventory_metrics"]
        classed = t.with_abc_class(metrics.unionByName(kept_metrics))
        # The run's pairs, and every other pair whose class the new numbers moved.
        was = kept_metrics.select(*PAIR, F.col("abc_class").alias("_was"))
        metrics_written = (
            classed.join(was, list(PAIR), "left")
            .where(F.col("_was").isNull() | (F.col("_was") != F.col("abc_class")))
            .select(*classed.columns)
        )
    else:
        sales_input, sales_kept, kpi_kept, by_warehouse_kept = daily_sales, {}, None, None
        by_day = t.sales_daily(daily_sales, p.as_of)
        all_days = by_day
        metrics_written = metrics

    tables = {
        "current_stock": stock,
        "low_stock_data": low,
        "inventory_aging": aging,
        "fact_daily_sales": daily_sales_written,
        "fact_inventory_reconciliation": reconciliation,
        "product_inventory_metrics": metrics_written,
        "kpi_inventory_summary": t.kpi_inventory_summary(stock, aging, metrics, low, p.aging_threshold_days, kpi_kept),
        "low_stock_by_warehouse": t.low_stock_by_warehouse(low, published.get("low_stock_by_warehouse")),
        "sales_daily": by_day.where(written_days) if p.from_date is not None else by_day,
        "kpi_sales_summary": t.kpi_sales_summary(all_days, p.as_of, p.period_days),
        "top_products": t.top_products(
            sales_input, products, p.as_of, p.period_days, published=sales_kept.get("sales_by_product")
        ),
        "sales_by_warehouse": t.sales_by_warehouse(
            sales_input, warehouses, locations, p.as_of, p.period_days, published=sales_kept.get("sales_by_warehouse")
        ),
        "sales_daily_by_warehouse": t.sales_daily_by_warehouse(
            daily_sales_written, published.get("sales_by_day_and_warehouse")
        ),
        "inventory_by_warehouse": t.inventory_by_warehouse(stock, aging, metrics, low, warehouses, by_warehouse_kept),
    }
    if not pairs_mode:  # the pairs mode skips the dimensions and reads none of their inputs
        tables |= {
            "dim_products": t.dim_products(products, raw["product_suppliers"], demand),
            "dim_date": t.dim_date(raw["first_counts"], raw["first_sale"], p.as_of),
            "dim_location": t.dim_location(locations),
            "dim_warehouse": t.dim_warehouse(warehouses, locations),
            "dim_supplier": t.dim_supplier(raw["suppliers"]),
            "dim_stock_item": t.dim_stock_item(products, warehouses, locations),
        }
    return {name: df for name, df in tables.items() if scope(name, p.mode) != "skip"}


# ------------------------------------------------------------------------------------------------ reads


def _instant(moment: datetime) -> str:
    """An SQL timestamptz literal (the moments are ours, never user text)."""
    return f"'{moment.isoformat()}'::timestamptz"


def _start(p: Params) -> str | None:
    """The SQL instant an incremental run reads events from (00:00 UTC of compute_from), None on a full rebuild."""
    since = compute_from(p)
    return _instant(datetime.combine(since, datetime.min.time(), UTC)) if since else None


def _in_pairs(p: Params) -> str:
    """The SQL condition 'the row's pair is one of the run's pairs' (integers from the plan, never user text)."""
    if not p.pairs:
        return "FALSE"
    values = ", ".join(f"({int(a)}, {int(b)})" for a, b in p.pairs)
    return f"(product_id, warehouse_id) IN (VALUES {values})"


def _pair_filter(p: Params) -> str:
    """' AND <the row is of the pair of _per_pair's lateral join>' in the pairs mode, '' otherwise."""
    return " AND product_id = run_pairs.pid AND warehouse_id = run_pairs.wid" if p.mode == "pairs" else ""


def _per_pair(p: Params, query: str) -> str:
    """In the pairs mode, `query` (filtered with _pair_filter) run once per pair of the run, else `query`.

    A lateral join over the pairs: PostgreSQL reads each pair's rows through the raw tables' (product_id,
    warehouse_id, time) indexes. With `(product_id, warehouse_id) IN (VALUES ...)` it scanned the window's days of
    every pair by the time index, or the whole table for the sales totals, so a minute's cost grew with history.
    """
    if p.mode != "pairs":
        return query
    products = ",".join(str(int(a)) for a, _ in p.pairs)
    warehouses = ",".join(str(int(b)) for _, b in p.pairs)
    return (
        f"SELECT q.* FROM unnest('{{{products}}}'::integer[], '{{{warehouses}}}'::integer[]) AS run_pairs(pid, wid) "
        f"CROSS JOIN LATERAL ({query}) AS q"
    )


def sales_query(p: Params) -> str:
    """The sale lines build_tables needs, pre-summed in PostgreSQL (at scale M, 2.8 M rows cross JDBC, not 10.5 M).

    One row per pair, UTC day and side of as_of (the reconciliation counts flows strictly before it, the other
    tables at or before it; the day boundaries are covered by the day): each line a row stands for passes exactly
    the filters the row passes, so every sum over rows equals the sum over lines. `transactions` counts them.
    """
    at, start = _instant(p.as_of), _start(p)
    return _per_pair(
        p,
        "SELECT product_id, warehouse_id, sum(units_sold) AS units_sold, min(unit_price) AS unit_price, "
        "sum(total_revenue) AS total_revenue, min(sale_date) AS sale_date, count(*) AS transactions "
        f"FROM raw.product_sales WHERE sale_date <= {at}"
        + (f" AND sale_date >= {start}" if start else "")
        + _pair_filter(p)
        + f" GROUP BY product_id, warehouse_id, (sale_date AT TIME ZONE 'UTC')::date, sale_date = {at}",
    )


class JdbcReader:
    """Reads queries through Spark's JDBC source, on the server (or cluster): the path for any amount of data."""

    def __init__(self, spark: SparkSession, db: Warehouse):
        self.spark, self.db = spark, db

    def query(self, sql: str, schema) -> DataFrame:
        return read_query(self.spark, self.db, sql, schema)

    def partitioned(self, sql: str, schema, column: str, partitions: int, bounds_query: str | None = None):
        return read_partitioned(self.spark, self.db, sql, schema, column, partitions, bounds_query)


def read_raw(reader, p: Params) -> dict[str, DataFrame]:
    """The raw inputs as of p.as_of (events after it are not read at all), limited to what build_tables needs.

    `reader`: JdbcReader, or localio.LocalReader for the pairs mode's few rows on Spark Connect.
    """
    at, start, pairs = _instant(p.as_of), _start(p), _pair_filter(p)
    s = schemas
    counts_query = (
        "SELECT inventory_id, product_id, warehouse_id, quantity, count_type, counted_at FROM raw.inventory "
        f"WHERE counted_at <= {at}{pairs}"
    )
    if start:
        # The window's counts, plus each pair's latest count before it (the opening stock of its first day).
        counts_query = (
            f"{counts_query} AND counted_at >= {start} UNION ALL (SELECT DISTINCT ON (product_id, warehouse_id) "
            "inventory_id, product_id, warehouse_id, quantity, count_type, counted_at FROM raw.inventory "
            f"WHERE counted_at < {start}{pairs} ORDER BY product_id, warehouse_id, counted_at DESC)"
        )
    counts_query = _per_pair(p, counts_query)
    small = p.mode == "pairs"  # a few pairs' rows: one JDBC query each, no range partitions
    partitions = 1 if small else p.read_partitions
    sales = reader.partitioned(
        sales_query(p),
        s.SALES,
        "product_id",
        partitions,
        bounds_query="SELECT min(product_id) AS lo, max(product_id) AS hi FROM raw.products",
    )
    if start:
        totals = reader.query(
            _per_pair(
                p,
                "SELECT product_id, warehouse_id, sum(units_sold) AS units_sold, min(unit_price) AS unit_price, "
                f"sum(total_revenue) AS total_revenue, max(sale_date) AS sale_date, count(*) AS transactions "
                f"FROM raw.product_sales WHERE sale_date <= {at}{pairs} GROUP BY product_id, warehouse_id",
            ),
            s.SALES,
        )
    else:
        totals = sales
    raw = {
        "products": reader.query("SELECT * FROM raw.products", s.PRODUCTS),
        "warehouses": reader.query("SELECT * FROM raw.warehouse", s.WAREHOUSES),
        "locations": reader.query("SELECT * FROM raw.warehouse_locations", s.LOCATIONS),
        "counts": reader.partitioned(counts_query, s.COUNTS, "inventory_id", partitions),
        "first_counts": reader.query(
            _per_pair(
                p,
                "SELECT product_id, warehouse_id, min(counted_at) AS counted_at FROM raw.inventory "
                f"WHERE counted_at <= {at}{pairs} GROUP BY product_id, warehouse_id",
            ),
            s.FIRST_COUNTS,
        ),
        "sales": sales,
        "sales_totals": totals,
        "receipts": reader.query(
            _per_pair(p, f"SELECT * FROM raw.stock_receipts WHERE received_at <= {at}{pairs}"), s.RECEIPTS
        ),
        # Every order placed by as_of (one still open may be of any age); `on_order` keeps those not received.
        "orders": reader.query(
            _per_pair(
                p,
                "SELECT order_id, product_id, warehouse_id, quantity, ordered_at FROM raw.purchase_orders "
                f"WHERE ordered_at <= {at}{pairs}",
            ),
            s.ORDERS,
        ),
    }
    if p.mode == "pairs":
        raw["published"] = read_published(reader, p)
    else:  # the dimensions' own inputs (the pairs mode does not build them)
        raw["suppliers"] = reader.query("SELECT supplier_id, supplier_name, country FROM raw.suppliers", s.SUPPLIERS)
        raw["product_suppliers"] = reader.query(
            "SELECT product_id, supplier_id, is_primary FROM raw.product_suppliers", s.PRODUCT_SUPPLIERS
        )
        raw["first_sale"] = reader.query(
            f"SELECT min(sale_date) AS sale_date FROM raw.product_sales WHERE sale_date <= {at}", s.FIRST_SALE
        )
    return raw


def read_published(reader, p: Params) -> dict:
    """What the pairs mode reads of the published tables: rollups of the rows it keeps, and two small tables.

    Kept rows: every row of another pair (for the fact tables: or of a day before from_date). PostgreSQL sums
    them by the rollups' keys, so a few hundred rows cross JDBC, not the tables.
    """
    t = transforms
    kept = f"NOT {_in_pairs(p)}"
    kept_facts = f"NOT ({_in_pairs(p)} AND date_key >= DATE '{p.from_date.isoformat()}')"
    period = t.period(p.as_of, p.period_days)
    yesterday = (p.from_date - timedelta(days=1), _last_day(p))

    def rollup(r: transforms.Rollup, where: str, days=None) -> DataFrame:
        return reader.query(r.sql(where, days), r.schema())

    aging = t.aging_totals(p.aging_threshold_days)
    return {
        "stock_by_product": rollup(t.STOCK_BY_PRODUCT, kept),
        "aging_totals": rollup(aging, kept),
        "metrics_totals": rollup(t.METRICS_TOTALS, kept),
        "low_stock_totals": rollup(t.LOW_STOCK_TOTALS, kept),
        "low_stock_by_warehouse": rollup(t.LOW_STOCK_BY_WAREHOUSE, kept),
        "stock_by_warehouse": rollup(t.STOCK_BY_WAREHOUSE, kept),
        "aging_by_warehouse": rollup(t.AGING_BY_WAREHOUSE, kept),
        "metrics_by_warehouse": rollup(t.METRICS_BY_WAREHOUSE, kept),
        "sales_by_day_and_warehouse": rollup(t.SALES_BY_DAY_AND_WAREHOUSE, kept_facts, (p.from_date, _last_day(p))),
        "sales_by_day": rollup(t.SALES_BY_DAY, kept_facts, yesterday),
        "sales_by_product": rollup(t.SALES_BY_PRODUCT, kept_facts, period),
        "sales_by_warehouse": rollup(t.SALES_BY_WAREHOUSE, kept_facts, period),
        "sales_daily": reader.query(
            f"SELECT * FROM analytics.sales_daily WHERE date_key < DATE '{p.from_date.isoformat()}'",
            schemas.OUTPUTS["sales_daily"],
        ),
        "product_inventory_metrics": reader.query(
            f"SELECT * FROM analytics.product_inventory_metrics WHERE {kept}",
            schemas.OUTPUTS["product_inventory_metrics"],
        ),
    }


# ------------------------------------------------------------------------------------------------ writes


def manifest_rows(p: Params, tables: list[str]) -> list[tuple]:
    """What this run writes to staging, one row per table: (table, key columns, scope, from_date, as_of, run_id)."""
    rows = []
    for name in tables:
        how = scope(name, p.mode)
        rows.append(
            (
                name,
                ",".join(schemas.OUTPUT_KEYS[name]),
                how,
                p.from_date if how in DAY_SCOPES else None,
                p.as_of,
                p.run_id,
            )
        )
    return rows


MANIFEST_SCHEMA = "table_name string, key_columns string, scope string, from_date date, as_of timestamp, run_id string"


def write_manifest(spark: SparkSession, db: Warehouse, p: Params, tables: list[str], refreshed_at: datetime) -> None:
    """The manifest the publish step follows (it refuses a manifest of another run).

    Built from literals in the JVM (not spark.createDataFrame of Python rows, which would start Python workers
    on the executors): the job runs no Python on executors at all, so a cluster's workers need no Python.
    """
    columns = [c.split() for c in MANIFEST_SCHEMA.split(", ")]
    rows = [
        F.struct(*[F.lit(v).cast(t).alias(c) for v, (c, t) in zip(row, columns, strict=True)])
        for row in manifest_rows(p, tables)
    ]
    df = spark.range(1).select(F.inline(F.array(*rows)))
    write_staging(db, df, MANIFEST_TABLE.split(".", 1)[1], refreshed_at)


def _scope_text(p: Params) -> str:
    return {"full": "full rebuild", "window": f"window mode, fact days from {p.from_date}"}.get(
        p.mode, f"pairs mode, {len(p.pairs)} pairs from {p.from_date}"
    )


def run(spark: SparkSession, db: Warehouse, p: Params, log=print) -> dict[str, float]:
    """Read, build and write every table of this run to staging, then the manifest. Returns phase timings (s).

    Works on a classic session (spark-submit) and on a Spark Connect one alike. On Spark Connect the pairs mode
    moves its few rows through the client (spark_jobs/localio.py: one read transaction, one action, one write
    transaction); every other run reads and writes through JDBC. Cached inputs are released at the end, so a
    long-lived server keeps nothing of this run.
    """
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, p.read_partitions)))
    remote = type(spark).__module__.startswith("pyspark.sql.connect")
    if remote and p.mode == "pairs":
        return _run_small(spark, db, p, log)
    began = time.monotonic()
    refreshed_at = datetime.now(UTC)
    kept: list[DataFrame] = []

    def keep(df: DataFrame) -> DataFrame:
        """Several tables read it: computed once. On Spark Connect a local checkpoint, computed now: later plans
        refer to its result instead of carrying (and re-resolving, and re-running) the JDBC reads it came from.
        On a classic session a lazy cache, filled by the first write that needs it."""
        kept.append(df.localCheckpoint() if remote else df.cache())
        return kept[-1]

    raw = read_raw(JdbcReader(spark, db), p)
    # The inputs several tables share (on Spark Connect: every raw input), read concurrently.
    shared = [k for k, v in raw.items() if isinstance(v, DataFrame) and (remote or k in ("sales", "counts"))]
    with ThreadPoolExecutor(max_workers=p.write_threads) as pool:
        raw.update(zip(shared, pool.map(keep, [raw[k] for k in shared]), strict=True))
    tables = build_tables(raw, p, keep)
    planned = time.monotonic()
    log(f"build_analytics: plans of {len(tables)} tables in {planned - began:.1f}s ({_scope_text(p)})")

    def write(item: tuple[str, DataFrame]) -> None:
        name, df = item
        step = time.monotonic()
        # Small tables in one insert stream; the whole fact tables in as many as the cores.
        whole_facts = name in ("fact_daily_sales", "fact_inventory_reconciliation")
        write_staging(db, df if whole_facts else df.coalesce(1), name, refreshed_at)
        log(f"build_analytics: staging.{name} written in {time.monotonic() - step:.1f}s")

    try:
        # The tables share cached inputs: writing several at once keeps both cores busy while each write waits
        # on PostgreSQL.
        with ThreadPoolExecutor(max_workers=p.write_threads) as pool:
            list(pool.map(write, tables.items()))
        write_manifest(spark, db, p, list(tables), refreshed_at)
    finally:
        for df in kept:
            df.unpersist()
    done = time.monotonic()
    log(f"build_analytics: {len(tables)} tables as of {p.as_of.isoformat()} ({_scope_text(p)}) in {done - began:.1f}s")
    return {"plan_s": round(planned - began, 2), "write_s": round(done - planned, 2), "total_s": round(done - began, 2)}


def _run_small(spark: SparkSession, db: Warehouse, p: Params, log) -> dict[str, float]:
    """The pairs mode on Spark Connect: the same reads, transforms and staging rows, through spark_jobs/localio.py."""
    import psycopg2

    from spark_jobs import localio

    began = time.monotonic()
    refreshed_at = datetime.now(UTC)
    kept: list[DataFrame] = []

    def keep(df: DataFrame) -> DataFrame:
        """An intermediate several tables read: computed once, so each table's plan stays small."""
        kept.append(df.localCheckpoint())
        return kept[-1]

    # A few hundred rows: no adaptive re-planning stage by stage, and no broadcast (each one a job of its own).
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    # One task per stage: the final action has ~30 stages, and a second task each only adds scheduling (demo scale:
    # 3.9-4.3 s a build against 4.3-4.4 s with two, about 10% less server CPU, measured alternately on one server).
    spark.conf.set("spark.sql.shuffle.partitions", "1")
    with closing(psycopg2.connect(**localio.libpq_kwargs(db))) as conn:
        raw = read_raw(localio.LocalReader(spark, conn), p)
        conn.rollback()  # the read snapshot ends here
        read = time.monotonic()
        tables = build_tables(raw, p, keep)
        rows = localio.collect_tables(tables, refreshed_at)
        built = time.monotonic()
        localio.write_staging(conn, rows, manifest_rows(p, list(tables)))
    done = time.monotonic()
    log(
        f"build_analytics: {len(tables)} tables as of {p.as_of.isoformat()} ({_scope_text(p)}) in {done - began:.1f}s "
        f"(read {read - began:.1f}s, built {built - read:.1f}s, {sum(map(len, rows.values()))} rows written "
        f"in {done - built:.1f}s)"
    )
    return {"plan_s": round(read - began, 2), "write_s": round(done - read, 2), "total_s": round(done - began, 2)}


def main(argv: list[str] | None = None) -> int:
    p = parse_args(argv)
    spark = (
        SparkSession.builder.appName(f"build_inventory_analytics {p.run_id}")
        .config("spark.sql.session.timeZone", "UTC")
        # PySpark 4 records the Python call site of every DataFrame call for error messages: four extra JVM
        # round trips per call, about a fifth of the time spent building the plans (profiled with cProfile).
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
        .getOrCreate()
    )
    run(spark, Warehouse.from_spark(spark), p, log=lambda line: print(line, flush=True))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
