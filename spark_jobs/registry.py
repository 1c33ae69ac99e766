"""The published tables, declared once: name, grain, key, columns (type, nullability, description), how an
incremental run replaces them, indexes.

Everything else about a published table comes from here or is tested against it:

- the DDL of `staging.<table>` and `analytics.<table>` (sql/ddl/045_published_tables.sql, written by `make ddl`:
  `python -m spark_jobs.registry --write`; a test fails when the file is not what the registry gives),
- the Spark output schema (`spark_jobs.schemas.OUTPUTS`), the key the gate checks and the publish step matches
  rows on (`schemas.OUTPUT_KEYS`, carried in the run's manifest), the publish list (`analytics.EXPECTED_TABLES`),
  each mode's scope (`build_analytics.SCOPES`) and the secondary indexes,
- the column reference in docs/tables.md (the block between the `registry` markers); docs/metrics.md's
  definitions are tested to name exactly these columns.

Adding a table: one `Table` here, its transform in `spark_jobs.transforms` (named like the table), `make ddl`.

Pure Python (no pyspark): the Airflow side imports it too. Types are PostgreSQL's, spelled as `format_type`
prints them, so the catalog can be compared with them as they are.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

# Column types, named once (schemas.py maps them to Spark types).
INT = "integer"
BIGINT = "bigint"
TEXT = "text"
BOOL = "boolean"
DATE = "date"
TIMESTAMP = "timestamp with time zone"
PRICE = "numeric(12,2)"  # a unit price or cost, as in raw.products
MONEY = "numeric(18,2)"  # every computed amount of money (sums, stock values, averages)
DEMAND = "numeric(12,4)"  # units per day
DEMAND_TOTAL = "numeric(18,4)"  # a sum of units per day over many pairs
DAYS = "numeric(12,2)"  # a duration in days (cover, weighted age)
RATIO = "numeric(12,4)"  # a turnover ratio
PERCENT = "numeric(18,2)"  # a growth percentage (unbounded: the previous day may have been tiny)
QUANTITY = INT  # a stock level, as in raw.inventory.quantity
UNITS = BIGINT  # a sum of units moved, or a count of rows

REFRESHED_AT = "refreshed_at"  # every published table's last column, added by the I/O layer: when the row last changed


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One published table.

    keys: the unique key (the primary key of `analytics.<name>`; empty for a one-row table).
    scopes: what the table's staged rows replace in an incremental run, per mode (window, pairs): all = the whole
    table, days = its rows from from_date, pairs = the run's pairs' rows, pair_days = the run's pairs' rows from
    from_date, keys = the rows with the staged rows' keys, skip = not built. A full run replaces every table whole.
    indexes: secondary indexes for DirectQuery's filtered scans (a slicer on a dimension filters by its key).
    """

    name: str
    kind: str  # dimension | daily fact | snapshot | card
    grain: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    scopes: dict[str, str]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# ------------------------------------------------------------------------------------------------ column sets

PAIR_KEY = Column(
    "pair_key", BIGINT, "the pair's single-column key, product_id x 100000 + warehouse_id (dim_stock_item)"
)
PRODUCT_ID = Column("product_id", INT, "the product (dim_products)")
WAREHOUSE_ID = Column("warehouse_id", INT, "the warehouse (dim_warehouse)")
DATE_KEY = Column("date_key", DATE, "the UTC day (dim_date)")
SKU = Column("sku", TEXT, "the product's SKU")
PRODUCT_NAME = Column("product_name", TEXT, "the product's name")
CATEGORY = Column("category", TEXT, "the product's category")
WAREHOUSE_NAME = Column("warehouse_name", TEXT, "the warehouse's name")
LOCATION_ID = Column("location_id", INT, "the warehouse's location (dim_location)")
LOCATION_NAME = Column("location_name", TEXT, "the location's name")

CURRENT_STOCK_COLUMNS = (
    PAIR_KEY,
    PRODUCT_ID,
    SKU,
    PRODUCT_NAME,
    CATEGORY,
    Column("cost_price", PRICE, "the product's unit cost"),
    Column("selling_price", PRICE, "the product's unit selling price"),
    WAREHOUSE_ID,
    WAREHOUSE_NAME,
    LOCATION_ID,
    LOCATION_NAME,
    Column("quantity", QUANTITY, "on hand: the latest count at or before as_of"),
    Column("counted_at", TIMESTAMP, "when that count was taken"),
    Column("units_sold", UNITS, "units sold up to as_of; 0 when none"),
    Column("revenue", MONEY, "revenue of those sales; 0.00 when none"),
    Column("stock_value", MONEY, "quantity x cost_price"),
    Column("on_order_qty", UNITS, "units on the pair's open purchase orders; 0 when none"),
)

LOCATION_COLUMNS = (
    Column("city", TEXT, "the location's city"),
    Column("state", TEXT, "the location's state or province", nullable=True),
    Column("country", TEXT, "the location's country"),
    Column("region", TEXT, "US census region of the state (US Other for other codes), elsewhere the country"),
)

_DAILY_SALES = (
    Column("units", UNITS, "units sold"),
    Column("revenue", MONEY, "revenue"),
    Column("transactions", UNITS, "sale lines"),
)

_ALWAYS = {"window": "all", "pairs": "all"}
_PAIRS = {"window": "all", "pairs": "pairs"}
_DIMENSION = {"window": "all", "pairs": "skip"}  # built whole by full and window runs; a minute does not touch them
_DAYS = {"window": "days", "pairs": "days"}
_PAIR_DAYS = {"window": "days", "pairs": "pair_days"}
_PAIR_INDEXES = (("pair_key",), ("warehouse_id",))
_FACT_INDEXES = (("warehouse_id", "date_key"), ("product_id", "date_key"), ("pair_key", "date_key"))

# ------------------------------------------------------------------------------------------------ the tables

_TABLES = (
    # -------------------------------------------------------------------------------------------- snapshots
    Table(
        "current_stock",
        "snapshot",
        "one row per pair with a count at or before as_of",
        ("product_id", "warehouse_id"),
        CURRENT_STOCK_COLUMNS,
        _PAIRS,
        _PAIR_INDEXES,
    ),
    Table(
        "low_stock_data",
        "snapshot",
        "one row per current_stock pair with quantity <= the low-stock threshold",
        ("product_id", "warehouse_id"),
        (
            *CURRENT_STOCK_COLUMNS,
            Column("avg_daily_demand", DEMAND, "units per day over the demand window's complete days (d)"),
            Column("lead_time", INT, "the product's lead time in days"),
            Column("reorder_point", INT, "ceil(d x lead_time + d x safety_days)"),
            Column("suggested_order_qty", INT, "the order up to reorder point + cover, net of open purchase orders"),
            Column("days_of_cover", DAYS, "quantity / d, 2 places; null when d = 0", nullable=True),
            Column("is_stock_out", BOOL, "quantity = 0"),
        ),
        _PAIRS,
        _PAIR_INDEXES,
    ),
    Table(
        "inventory_aging",
        "snapshot",
        "four rows per current_stock pair, one per age bucket",
        ("product_id", "warehouse_id", "bucket_order"),
        (
            PAIR_KEY,
            PRODUCT_ID,
            WAREHOUSE_ID,
            SKU,
            PRODUCT_NAME,
            Column("bucket", TEXT, "the age bucket: 0-30 Days, 31-60 Days, 61-90 Days, 90+ Days"),
            Column("bucket_order", INT, "the bucket's order, 1 to 4"),
            Column("units", QUANTITY, "on-hand units in layers of that age (FIFO); the 4 rows add up to on hand"),
            Column("value", MONEY, "units x cost_price"),
            Column("unit_age_days_sum", UNITS, "sum of the bucket's units' ages in days (for weighted averages)"),
            Column("aging_threshold_days", INT, "the threshold aged_units uses"),
            Column("aged_units", QUANTITY, "units older than aging_threshold_days"),
            Column("aged_value", MONEY, "aged_units x cost_price"),
        ),
        _PAIRS,
        _PAIR_INDEXES,
    ),
    Table(
        "product_inventory_metrics",
        "snapshot",
        "one row per current_stock pair",
        ("product_id", "warehouse_id"),
        (
            PAIR_KEY,
            PRODUCT_ID,
            WAREHOUSE_ID,
            SKU,
            PRODUCT_NAME,
            CATEGORY,
            WAREHOUSE_NAME,
            Column("on_hand", QUANTITY, "current_stock.quantity"),
            Column("stock_value", MONEY, "current_stock.stock_value"),
            Column("avg_daily_demand", DEMAND, "units per day over the demand window's complete days (d)"),
            Column("coverage_days", DAYS, "on_hand / d, 2 places; null when d = 0", nullable=True),
            Column("is_overstock", BOOL, "cover above overstock_days, or no demand and stock on hand"),
            Column("cogs", MONEY, "units sold in the window x cost_price"),
            Column("avg_inventory_value", MONEY, "mean closing stock value over the window", nullable=True),
            Column("turnover", RATIO, "cogs / avg_inventory_value, 4 places", nullable=True),
            Column("consumption_value", MONEY, "cogs: what the ABC class ranks by"),
            Column("abc_class", TEXT, "A, B or C by share of consumption value over all pairs"),
        ),
        {"window": "all", "pairs": "keys"},
        _PAIR_INDEXES,
    ),
    Table(
        "inventory_by_warehouse",
        "snapshot",
        "one row per warehouse (every warehouse)",
        ("warehouse_id",),
        (
            WAREHOUSE_ID,
            Column("total_units", UNITS, "units on hand"),
            Column("unique_products", UNITS, "products with a count in the warehouse"),
            Column("stock_value", MONEY, "value on hand at cost"),
            Column("low_stock_products", UNITS, "low_stock_data rows"),
            Column("stock_out_products", UNITS, "of those, stocked out"),
            Column("aging_units", UNITS, "units older than the aging threshold"),
            Column("aging_value", MONEY, "their value at cost"),
            Column("overstock_products", UNITS, "product_inventory_metrics rows with is_overstock"),
        ),
        _ALWAYS,
    ),
    Table(
        "low_stock_by_warehouse",
        "snapshot",
        "one row per warehouse with a low-stock pair",
        ("warehouse_id",),
        (
            WAREHOUSE_ID,
            WAREHOUSE_NAME,
            LOCATION_NAME,
            Column("low_stock_products", UNITS, "low_stock_data rows (products) in the warehouse"),
            Column("stock_out_products", UNITS, "of those, stocked out"),
            Column("suggested_order_units", UNITS, "sum of suggested_order_qty (net of open purchase orders)"),
        ),
        _ALWAYS,
    ),
    Table(
        "sales_by_warehouse",
        "snapshot",
        "one row per warehouse (every warehouse), over the KPI period",
        ("warehouse_id",),
        (
            WAREHOUSE_ID,
            WAREHOUSE_NAME,
            LOCATION_ID,
            LOCATION_NAME,
            Column("units", UNITS, "units sold in the period_days days ending with as_of's date; 0 when none"),
            Column("revenue", MONEY, "their revenue; 0.00 when none"),
        ),
        _ALWAYS,
    ),
    Table(
        "top_products",
        "snapshot",
        "two labelled lists: the top products by revenue and by units over the KPI period",
        ("ranking", "rank", "product_id"),
        (
            Column("ranking", TEXT, "the list: revenue or units"),
            Column("ranking_label", TEXT, "the list's title"),
            Column("rank", INT, "RANK() by the list's measure, descending (ties share a rank)"),
            PRODUCT_ID,
            SKU,
            PRODUCT_NAME,
            CATEGORY,
            Column("units", UNITS, "units sold in the period"),
            Column("revenue", MONEY, "their revenue"),
        ),
        _ALWAYS,
    ),
    # -------------------------------------------------------------------------------------------- daily facts
    Table(
        "fact_daily_sales",
        "daily fact",
        "one row per day x pair with a sale (sales up to as_of)",
        ("date_key", "product_id", "warehouse_id"),
        (PAIR_KEY, DATE_KEY, PRODUCT_ID, WAREHOUSE_ID, *_DAILY_SALES),
        _PAIR_DAYS,
        _FACT_INDEXES,
    ),
    Table(
        "fact_inventory_reconciliation",
        "daily fact",
        "one row per day x pair, from the pair's first opening count",
        ("date_key", "product_id", "warehouse_id"),
        (
            PAIR_KEY,
            DATE_KEY,
            SKU,
            PRODUCT_ID,
            WAREHOUSE_ID,
            PRODUCT_NAME,
            Column("opening_stock", QUANTITY, "the latest count at or before the day's 00:00"),
            Column("quantity_sold", UNITS, "units sold during the day"),
            Column("quantity_received", UNITS, "units received during the day"),
            Column("expected_closing_stock", UNITS, "opening_stock + quantity_received - quantity_sold"),
            Column("actual_closing_stock", QUANTITY, "the latest count at or before the day's close"),
            Column("discrepancy_amount", UNITS, "actual - expected closing stock: minus the units lost (shrinkage)"),
            Column("discrepancy_value", MONEY, "discrepancy_amount x cost_price"),
        ),
        _PAIR_DAYS,
        _FACT_INDEXES,
    ),
    Table(
        "sales_daily_by_warehouse",
        "daily fact",
        "one row per day x warehouse with a sale",
        ("date_key", "warehouse_id"),
        (DATE_KEY, WAREHOUSE_ID, *_DAILY_SALES),
        _DAYS,
        (("warehouse_id", "date_key"),),
    ),
    Table(
        "sales_daily",
        "daily fact",
        "one row per day with a sale",
        ("date_key",),
        (
            DATE_KEY,
            *_DAILY_SALES,
            Column("is_complete_day", BOOL, "the day ended at or before as_of (false for the day under way)"),
            Column("revenue_growth_pct", PERCENT, "day-on-day revenue growth, complete days only", nullable=True),
        ),
        _DAYS,
    ),
    # -------------------------------------------------------------------------------------------- cards
    Table(
        "kpi_inventory_summary",
        "card",
        "one row",
        (),
        (
            Column("total_units", UNITS, "units on hand"),
            Column("unique_products", UNITS, "distinct products with a count"),
            Column("stock_value", MONEY, "value on hand at cost"),
            Column("inventory_turnover", RATIO, "sum of cogs / sum of avg_inventory_value", nullable=True),
            Column("weighted_aging_days", DAYS, "quantity-weighted age of stock in days", nullable=True),
            Column("aging_units", UNITS, "units older than the aging threshold"),
            Column("aging_value", MONEY, "their value at cost"),
            Column("avg_price_aging_stock", MONEY, "aging_value / aging_units", nullable=True),
            Column("overstock_products", UNITS, "product_inventory_metrics rows with is_overstock"),
            Column("low_stock_products", UNITS, "low_stock_data rows"),
            Column("avg_daily_demand", DEMAND_TOTAL, "sum of product_inventory_metrics.avg_daily_demand"),
        ),
        _ALWAYS,
    ),
    Table(
        "kpi_sales_summary",
        "card",
        "one row",
        (),
        (
            Column("wtd_revenue", MONEY, "week to date revenue (ISO week through today so far)"),
            Column("wtd_units", UNITS, "week to date units"),
            Column("avg_daily_sales", MONEY, "total_revenue / period_days"),
            Column("total_revenue", MONEY, "revenue of the period_days days ending today"),
            Column("total_units", UNITS, "units of those days"),
            Column("dod_day", DATE, "the last complete day, which day-on-day growth is about"),
            Column("dod_revenue", MONEY, "revenue on dod_day"),
            Column("dod_previous_revenue", MONEY, "revenue on the day before dod_day"),
            Column("dod_growth_pct", PERCENT, "day-on-day growth of two complete days", nullable=True),
        ),
        _ALWAYS,
    ),
    # -------------------------------------------------------------------------------------------- dimensions
    Table(
        "dim_products",
        "dimension",
        "one row per product",
        ("product_id",),
        (
            PRODUCT_ID,
            SKU,
            PRODUCT_NAME,
            CATEGORY,
            Column("brand", TEXT, "the product's brand", nullable=True),
            Column("unit", TEXT, "the unit it is sold in (pcs, kg, ltr)"),
            Column("cost_price", PRICE, "unit cost"),
            Column("selling_price", PRICE, "unit selling price"),
            Column("lead_time", INT, "days from order to receipt"),
            Column("price_band", TEXT, "a fixed band of selling_price"),
            Column("price_band_order", INT, "the band's order, 1 to 5"),
            Column("primary_supplier_id", INT, "the primary supplier (dim_supplier)", nullable=True),
            Column("consumption_value", MONEY, "units sold in the demand window x cost_price"),
            Column("abc_class", TEXT, "A, B or C by share of consumption value over all products"),
        ),
        _DIMENSION,
    ),
    Table(
        "dim_date",
        "dimension",
        "one row per UTC day from the first day in the data through as_of's date",
        ("date_key",),
        (
            DATE_KEY,
            Column("year", INT, "calendar year"),
            Column("quarter", INT, "calendar quarter"),
            Column("month", INT, "calendar month"),
            Column("month_name", TEXT, "English month name"),
            Column("day_of_month", INT, "day of the month"),
            Column("iso_year", INT, "ISO 8601 year (the year of the week's Thursday)"),
            Column("iso_week", INT, "ISO 8601 week"),
            Column("iso_day_of_week", INT, "Monday 1 to Sunday 7"),
            Column("day_name", TEXT, "English day name"),
            Column("is_weekend", BOOL, "Saturday or Sunday"),
            Column("week_start", DATE, "the Monday of the day's ISO week"),
            Column("is_week_to_date", BOOL, "in today's ISO week, through today"),
            Column("is_month_to_date", BOOL, "in today's month, through today"),
            Column("is_complete_day", BOOL, "the day ended at or before as_of"),
            Column("days_ago", INT, "as_of's date minus date_key"),
        ),
        _DIMENSION,
    ),
    Table(
        "dim_location",
        "dimension",
        "one row per location",
        ("location_id",),
        (
            Column("location_id", INT, "the location"),
            LOCATION_NAME,
            *LOCATION_COLUMNS,
        ),
        _DIMENSION,
    ),
    Table(
        "dim_warehouse",
        "dimension",
        "one row per warehouse",
        ("warehouse_id",),
        (
            WAREHOUSE_ID,
            WAREHOUSE_NAME,
            Column("capacity", INT, "the warehouse's capacity in units"),
            LOCATION_ID,
            LOCATION_NAME,
            *LOCATION_COLUMNS,
        ),
        _DIMENSION,
    ),
    Table(
        "dim_supplier",
        "dimension",
        "one row per supplier (contact details stay out of BI)",
        ("supplier_id",),
        (
            Column("supplier_id", INT, "the supplier"),
            Column("supplier_name", TEXT, "the supplier's name"),
            Column("country", TEXT, "the supplier's country", nullable=True),
        ),
        _DIMENSION,
    ),
    Table(
        "dim_stock_item",
        "dimension",
        "one row per pair of the catalogue (every product x every warehouse)",
        ("pair_key",),
        (PAIR_KEY, PRODUCT_ID, WAREHOUSE_ID, SKU, PRODUCT_NAME, WAREHOUSE_NAME, LOCATION_NAME),
        _DIMENSION,
        (("product_id",), ("warehouse_id",)),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in _TABLES}
KINDS = ("dimension", "daily fact", "snapshot", "card")
MODES = ("window", "pairs")  # the incremental modes (a full run replaces every table whole)
SCOPES = ("all", "days", "pairs", "pair_days", "keys", "skip")


def validate(tables: tuple[Table, ...]) -> None:
    """The registry's own rules, checked at import: a bad entry fails every consumer at once, naming itself."""
    for t in tables:
        names = t.column_names
        problems = []
        if len(set(names)) != len(names):
            problems.append("a column is declared twice")
        if REFRESHED_AT in names:
            problems.append(f"{REFRESHED_AT} is added by the I/O layer, not declared")
        problems += [f"key {k} is not a column" for k in t.keys if k not in names]
        problems += [f"key {c.name} may be null" for c in t.columns if c.name in t.keys and c.nullable]
        problems += [f"index column {c} is not a column" for ix in t.indexes for c in ix if c not in names]
        if t.kind not in KINDS:
            problems.append(f"kind {t.kind!r} is not one of {KINDS}")
        if set(t.scopes) != set(MODES) or not set(t.scopes.values()) <= set(SCOPES):
            problems.append(f"scopes {t.scopes} must give one of {SCOPES} for each of {MODES}")
        if problems:
            raise ValueError(f"spark_jobs/registry.py, table {t.name}: " + "; ".join(problems))


validate(_TABLES)

# ------------------------------------------------------------------------------------------------ DDL

DDL_FILE = Path(__file__).resolve().parents[1] / "sql" / "ddl" / "045_published_tables.sql"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def index_name(table: str, columns: tuple[str, ...]) -> str:
    """PostgreSQL's own name for an unnamed index (<table>_<columns>_idx), so tables created either way agree."""
    return f"{table}_{'_'.join(columns)}_idx"


def create_table(table: Table, schema: str) -> str:
    """CREATE TABLE IF NOT EXISTS <schema>.<table>: the declared columns, then refreshed_at; in `analytics` also
    the primary key, the secondary indexes and the comments (what a BI tool's catalog browser shows)."""
    lines = [f"    {c.name} {c.type}{'' if c.nullable else ' NOT NULL'}," for c in table.columns]
    lines.append(f"    {REFRESHED_AT} {TIMESTAMP} NOT NULL")
    if schema == "analytics" and table.keys:
        lines[-1] += ","
        lines.append(f"    PRIMARY KEY ({', '.join(table.keys)})")
    statements = [f"CREATE TABLE IF NOT EXISTS {schema}.{table.name} (\n" + "\n".join(lines) + "\n);"]
    if schema == "analytics":
        statements += [
            f"CREATE INDEX IF NOT EXISTS {index_name(table.name, ix)} ON analytics.{table.name} ({', '.join(ix)});"
            for ix in table.indexes
        ]
        statements.append(f"COMMENT ON TABLE analytics.{table.name} IS {_quote(table.grain)};")
        statements += [
            f"COMMENT ON COLUMN analytics.{table.name}.{c.name} IS {_quote(c.description)};" for c in table.columns
        ]
        statements.append(
            f"COMMENT ON COLUMN analytics.{table.name}.{REFRESHED_AT} IS 'when the row was last published';"
        )
    return "\n".join(statements)


def ddl() -> str:
    """sql/ddl/045_published_tables.sql: staging and analytics tables for every published table."""
    head = [
        "-- GENERATED from spark_jobs/registry.py by `make ddl`: edit the registry, not this file (a test compares",
        "-- them). The published tables, declared: `staging.<t>` (written by the Spark job, read by the gate and the",
        "-- publish step, never by BI) and `analytics.<t>` (written only by the publish step; what Power BI, the",
        "-- portal and the alerts read). Both are created empty here; a run that finds a table of an older release's",
        "-- shape replaces it (the staging table before the Spark job writes, the analytics table as it publishes).",
        "",
    ]
    body = []
    for schema in ("staging", "analytics"):
        body.append(f"-- {schema}")
        body += [create_table(t, schema) + "\n" for t in _TABLES]
    return "\n".join(head + body).rstrip() + "\n"


# ------------------------------------------------------------------------------------------------ docs

DOC_FILE = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
DOC_BEGIN = "<!-- registry: generated from spark_jobs/registry.py by `make ddl`; do not edit by hand -->"
DOC_END = "<!-- /registry -->"


def _checks_of(table: str) -> list[str]:
    quality = Path(__file__).resolve().parents[1] / "sql" / "quality"
    return sorted(p.stem for p in quality.glob("*.sql") if f"staging.{table} " in p.read_text().replace("\n", " "))


def doc_block() -> str:
    """The column reference of docs/tables.md: per table, grain, key, scopes, indexes, checks and columns."""
    out = [DOC_BEGIN, ""]
    for kind in KINDS:
        for t in (t for t in _TABLES if t.kind == kind):
            key = ", ".join(f"`{k}`" for k in t.keys) or "none (one row)"
            checks = ["unique, non-null key" if t.keys else "", *(f"`{c}`" for c in _checks_of(t.name))]
            out += [
                f"### `analytics.{t.name}` ({kind})",
                "",
                f"{t.grain[0].upper()}{t.grain[1:]}. Key: {key}. Incremental runs replace: "
                + "; ".join(f"{mode} mode {scope}" for mode, scope in t.scopes.items())
                + ". Indexes: "
                + (", ".join("(" + ", ".join(ix) + ")" for ix in t.indexes) or "the key's")
                + ". Gate: "
                + (", ".join(c for c in checks if c) or "the quality checks of its inputs")
                + ".",
                "",
                "| column | type | null | description |",
                "|---|---|---|---|",
                *(
                    f"| {c.name} | {c.type} | {'yes' if c.nullable else ''} | {c.description} |"
                    for c in (*t.columns, Column(REFRESHED_AT, TIMESTAMP, "when the row was last published"))
                ),
                "",
            ]
    out.append(DOC_END)
    return "\n".join(out)


def doc_text(current: str) -> str:
    """docs/tables.md with its registry block replaced by the registry's."""
    begin, end = current.index(DOC_BEGIN), current.index(DOC_END) + len(DOC_END)
    return current[:begin] + doc_block() + current[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or check) the DDL and docs the registry generates.")
    parser.add_argument("--write", action="store_true", help="rewrite the files; default: check them")
    args = parser.parse_args(argv)
    wanted = {DDL_FILE: ddl(), DOC_FILE: doc_text(DOC_FILE.read_text())}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.write:
        for path in stale:
            path.write_text(wanted[path])
            print(f"wrote {path.relative_to(DDL_FILE.parents[2])}")
        print(f"registry: {len(_TABLES)} tables; {len(stale)} file(s) rewritten")
        return 0
    for path in stale:
        print(f"{path.relative_to(DDL_FILE.parents[2])} is not what spark_jobs/registry.py gives: run `make ddl`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
