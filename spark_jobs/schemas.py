"""Named schemas for every table the Spark jobs read or write; tests and the publish code share them.

Inputs mirror `sql/ddl/020_raw.sql` (only the columns the transforms use; a NOT NULL column is non-nullable).
Outputs are keyed by table name, which is also the name of the transform in `spark_jobs.transforms` that
builds the table; `refreshed_at` is not part of them (the I/O layer adds it). `OUTPUT_KEYS` gives each output
table's unique key; an empty list marks a single-row table. docs/metrics.md describes every output column.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# Column types used across the layer, named once.
PRICE = DecimalType(12, 2)  # a unit price or cost: numeric(12,2) in raw
LINE_AMOUNT = DecimalType(14, 2)  # raw.product_sales.total_revenue: numeric(14,2)
MONEY = DecimalType(18, 2)  # every computed amount of money (sums, stock values, averages)
DEMAND = DecimalType(12, 4)  # units per day
DEMAND_TOTAL = DecimalType(18, 4)  # a sum of units per day over many pairs
DAYS = DecimalType(12, 2)  # a duration in days (cover, weighted age)
RATIO = DecimalType(12, 4)  # a turnover ratio
PERCENT = DecimalType(18, 2)  # a growth percentage (unbounded: the previous day may have been tiny)
QUANTITY = IntegerType()  # a stock level, as in raw.inventory.quantity
UNITS = LongType()  # a sum of units moved, or a count of rows


def _schema(*fields: tuple[str, DataType] | tuple[str, DataType, bool]) -> StructType:
    """(name, type) is NOT NULL; (name, type, True) may be null."""
    return StructType([StructField(f[0], f[1], f[2] if len(f) > 2 else False) for f in fields])


# ------------------------------------------------------------------------------------------------ raw inputs

PRODUCTS = _schema(
    ("product_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("brand", StringType(), True),
    ("unit", StringType()),
    ("cost_price", PRICE),
    ("selling_price", PRICE),
    ("lead_time", IntegerType()),
)

WAREHOUSES = _schema(
    ("warehouse_id", IntegerType()),
    ("warehouse_name", StringType()),
    ("location_id", IntegerType()),
    ("capacity", IntegerType()),
)

LOCATIONS = _schema(
    ("location_id", IntegerType()),
    ("location_name", StringType()),
    ("city", StringType()),
    ("state", StringType(), True),
    ("country", StringType()),
)

COUNTS = _schema(  # raw.inventory
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("quantity", QUANTITY),
    ("count_type", StringType()),
    ("counted_at", TimestampType()),
)

SALES = _schema(  # raw.product_sales, as build_analytics reads it: sale lines pre-summed by PostgreSQL
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("units_sold", IntegerType()),
    ("unit_price", PRICE),
    ("total_revenue", LINE_AMOUNT),
    ("sale_date", TimestampType()),
    # How many sale lines the row stands for: 1 for a line, n for the sum of n lines that every filter of the
    # transforms treats alike (same pair, UTC day and side of each time boundary; see build_analytics.sales_query).
    ("transactions", IntegerType()),
)

RECEIPTS = _schema(  # raw.stock_receipts
    ("order_id", StringType()),
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("supplier_id", IntegerType()),
    ("quantity", IntegerType()),
    ("unit_cost", PRICE),
    ("ordered_at", TimestampType()),
    ("received_at", TimestampType()),
)

ORDERS = _schema(  # raw.purchase_orders
    ("order_id", StringType()),
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("quantity", IntegerType()),
    ("ordered_at", TimestampType()),
)

SUPPLIERS = _schema(  # raw.suppliers without the contact email and phone: personal data stays out of BI
    ("supplier_id", IntegerType()),
    ("supplier_name", StringType()),
    ("country", StringType(), True),
)

PRODUCT_SUPPLIERS = _schema(
    ("product_id", IntegerType()),
    ("supplier_id", IntegerType()),
    ("is_primary", BooleanType()),
)

# The earliest count of each pair (the opening stock inventory_aging falls back to): `transforms.first_counts`.
FIRST_COUNTS = _schema(
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("counted_at", TimestampType()),
)

# The first sale at or before as_of (one row; null without sales): where `dim_date` starts, with the first counts.
FIRST_SALE = _schema(("sale_date", TimestampType(), True))

# The DDL table each input mirrors (a unit test holds the schemas to the DDL's names and types).
RAW_TABLES: dict[str, StructType] = {
    "raw.products": PRODUCTS,
    "raw.warehouse": WAREHOUSES,
    "raw.warehouse_locations": LOCATIONS,
    "raw.inventory": COUNTS,
    "raw.product_sales": SALES,
    "raw.stock_receipts": RECEIPTS,
    "raw.purchase_orders": ORDERS,
    "raw.suppliers": SUPPLIERS,
    "raw.product_suppliers": PRODUCT_SUPPLIERS,
}
# Input columns the read computes rather than copies from the table.
COMPUTED_BY_READ: dict[str, set[str]] = {"raw.product_sales": {"transactions"}}

# ------------------------------------------------------------------------------------------------ outputs

# The single-column key of a product x warehouse pair (`transforms.pair_key`): Power BI relates on one column.
PAIR_KEY = ("pair_key", LongType())

CURRENT_STOCK = _schema(
    PAIR_KEY,
    ("product_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("cost_price", PRICE),
    ("selling_price", PRICE),
    ("warehouse_id", IntegerType()),
    ("warehouse_name", StringType()),
    ("location_id", IntegerType()),
    ("location_name", StringType()),
    ("quantity", QUANTITY),
    ("counted_at", TimestampType()),
    ("units_sold", UNITS),
    ("revenue", MONEY),
    ("stock_value", MONEY),
    ("on_order_qty", UNITS),  # units on the pair's open purchase orders (`on_order`)
)

ON_ORDER = _schema(
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("on_order_qty", UNITS),
)

AVERAGE_DAILY_DEMAND = _schema(
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("avg_daily_demand", DEMAND),
    ("window_units", UNITS),  # exact numerator: low_stock and the dashboards compute from it, not the rounded rate
    ("window_days", IntegerType()),
)

LOW_STOCK_DATA = StructType(
    CURRENT_STOCK.fields
    + _schema(
        ("avg_daily_demand", DEMAND),
        ("lead_time", IntegerType()),
        ("reorder_point", IntegerType()),
        ("suggested_order_qty", IntegerType()),
        ("days_of_cover", DAYS, True),
        ("is_stock_out", BooleanType()),
    ).fields
)

INVENTORY_AGING = _schema(
    PAIR_KEY,
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("bucket", StringType()),
    ("bucket_order", IntegerType()),
    ("units", QUANTITY),
    ("value", MONEY),
    ("unit_age_days_sum", UNITS),
    ("aging_threshold_days", IntegerType()),
    ("aged_units", QUANTITY),
    ("aged_value", MONEY),
)

# The product dimension: the catalogue's columns as they are, plus price band, primary supplier and ABC class.
DIM_PRODUCTS = StructType(
    PRODUCTS.fields
    + _schema(
        ("price_band", StringType()),
        ("price_band_order", IntegerType()),
        ("primary_supplier_id", IntegerType(), True),
        ("consumption_value", MONEY),
        ("abc_class", StringType()),
    ).fields
)

DIM_DATE = _schema(
    ("date_key", DateType()),
    ("year", IntegerType()),
    ("quarter", IntegerType()),
    ("month", IntegerType()),
    ("month_name", StringType()),
    ("day_of_month", IntegerType()),
    ("iso_year", IntegerType()),
    ("iso_week", IntegerType()),
    ("iso_day_of_week", IntegerType()),
    ("day_name", StringType()),
    ("is_weekend", BooleanType()),
    ("week_start", DateType()),
    ("is_week_to_date", BooleanType()),
    ("is_month_to_date", BooleanType()),
    ("is_complete_day", BooleanType()),
    ("days_ago", IntegerType()),
)

DIM_LOCATION = _schema(
    ("location_id", IntegerType()),
    ("location_name", StringType()),
    ("city", StringType()),
    ("state", StringType(), True),
    ("country", StringType()),
    ("region", StringType()),
)

DIM_WAREHOUSE = _schema(
    ("warehouse_id", IntegerType()),
    ("warehouse_name", StringType()),
    ("capacity", IntegerType()),
    ("location_id", IntegerType()),
    ("location_name", StringType()),
    ("city", StringType()),
    ("state", StringType(), True),
    ("country", StringType()),
    ("region", StringType()),
)

DIM_SUPPLIER = SUPPLIERS

DIM_STOCK_ITEM = _schema(
    PAIR_KEY,
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("warehouse_name", StringType()),
    ("location_name", StringType()),
)

FACT_DAILY_SALES = _schema(
    PAIR_KEY,
    ("date_key", DateType()),
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("units", UNITS),
    ("revenue", MONEY),
    ("transactions", UNITS),
)

FACT_INVENTORY_RECONCILIATION = _schema(
    PAIR_KEY,
    ("date_key", DateType()),
    ("sku", StringType()),
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("product_name", StringType()),
    ("opening_stock", QUANTITY),
    ("quantity_sold", UNITS),
    ("quantity_received", UNITS),
    ("expected_closing_stock", UNITS),
    ("actual_closing_stock", QUANTITY),
    ("discrepancy_amount", UNITS),
    ("discrepancy_value", MONEY),
)

PRODUCT_INVENTORY_METRICS = _schema(
    PAIR_KEY,
    ("product_id", IntegerType()),
    ("warehouse_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("warehouse_name", StringType()),
    ("on_hand", QUANTITY),
    ("stock_value", MONEY),
    ("avg_daily_demand", DEMAND),
    ("coverage_days", DAYS, True),
    ("is_overstock", BooleanType()),
    ("cogs", MONEY),
    ("avg_inventory_value", MONEY, True),
    ("turnover", RATIO, True),
    ("consumption_value", MONEY),
    ("abc_class", StringType()),
)

KPI_INVENTORY_SUMMARY = _schema(
    ("total_units", UNITS),
    ("unique_products", UNITS),
    ("stock_value", MONEY),
    ("inventory_turnover", RATIO, True),
    ("weighted_aging_days", DAYS, True),
    ("aging_units", UNITS),
    ("aging_value", MONEY),
    ("avg_price_aging_stock", MONEY, True),
    ("overstock_products", UNITS),
    ("low_stock_products", UNITS),
    ("avg_daily_demand", DEMAND_TOTAL),
)

LOW_STOCK_BY_WAREHOUSE = _schema(
    ("warehouse_id", IntegerType()),
    ("warehouse_name", StringType()),
    ("location_name", StringType()),
    ("low_stock_products", UNITS),
    ("stock_out_products", UNITS),
    ("suggested_order_units", UNITS),
)

SALES_DAILY = _schema(
    ("date_key", DateType()),
    ("units", UNITS),
    ("revenue", MONEY),
    ("transactions", UNITS),
    ("is_complete_day", BooleanType()),  # false for as_of's own date: a day under way
    ("revenue_growth_pct", PERCENT, True),  # complete days only
)

KPI_SALES_SUMMARY = _schema(
    ("wtd_revenue", MONEY),
    ("wtd_units", UNITS),
    ("avg_daily_sales", MONEY),
    ("total_revenue", MONEY),
    ("total_units", UNITS),
    ("dod_day", DateType()),  # the last complete day: day on day compares it with the day before
    ("dod_revenue", MONEY),
    ("dod_previous_revenue", MONEY),
    ("dod_growth_pct", PERCENT, True),
)

TOP_PRODUCTS = _schema(
    ("ranking", StringType()),  # the list: 'revenue' or 'units' (transforms.TOP_RANKINGS)
    ("ranking_label", StringType()),
    ("rank", IntegerType()),  # RANK() within the list: ties share it
    ("product_id", IntegerType()),
    ("sku", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("units", UNITS),
    ("revenue", MONEY),
)

SALES_DAILY_BY_WAREHOUSE = _schema(
    ("date_key", DateType()),
    ("warehouse_id", IntegerType()),
    ("units", UNITS),
    ("revenue", MONEY),
    ("transactions", UNITS),
)

INVENTORY_BY_WAREHOUSE = _schema(
    ("warehouse_id", IntegerType()),
    ("total_units", UNITS),
    ("unique_products", UNITS),
    ("stock_value", MONEY),
    ("low_stock_products", UNITS),
    ("stock_out_products", UNITS),
    ("aging_units", UNITS),
    ("aging_value", MONEY),
    ("overstock_products", UNITS),
)

SALES_BY_WAREHOUSE = _schema(
    ("warehouse_id", IntegerType()),
    ("warehouse_name", StringType()),
    ("location_id", IntegerType()),
    ("location_name", StringType()),
    ("units", UNITS),
    ("revenue", MONEY),
)

OUTPUTS: dict[str, StructType] = {
    "current_stock": CURRENT_STOCK,
    "on_order": ON_ORDER,
    "average_daily_demand": AVERAGE_DAILY_DEMAND,
    "low_stock_data": LOW_STOCK_DATA,
    "inventory_aging": INVENTORY_AGING,
    "dim_products": DIM_PRODUCTS,
    "fact_daily_sales": FACT_DAILY_SALES,
    "fact_inventory_reconciliation": FACT_INVENTORY_RECONCILIATION,
    "product_inventory_metrics": PRODUCT_INVENTORY_METRICS,
    "kpi_inventory_summary": KPI_INVENTORY_SUMMARY,
    "low_stock_by_warehouse": LOW_STOCK_BY_WAREHOUSE,
    "sales_daily": SALES_DAILY,
    "kpi_sales_summary": KPI_SALES_SUMMARY,
    "top_products": TOP_PRODUCTS,
    "sales_by_warehouse": SALES_BY_WAREHOUSE,
    "dim_date": DIM_DATE,
    "dim_location": DIM_LOCATION,
    "dim_warehouse": DIM_WAREHOUSE,
    "dim_supplier": DIM_SUPPLIER,
    "dim_stock_item": DIM_STOCK_ITEM,
    "sales_daily_by_warehouse": SALES_DAILY_BY_WAREHOUSE,
    "inventory_by_warehouse": INVENTORY_BY_WAREHOUSE,
}

_PAIR = ("product_id", "warehouse_id")
OUTPUT_KEYS: dict[str, list[str]] = {
    "current_stock": [*_PAIR],
    "on_order": [*_PAIR],
    "average_daily_demand": [*_PAIR],
    "low_stock_data": [*_PAIR],
    "inventory_aging": [*_PAIR, "bucket_order"],
    "dim_products": ["product_id"],
    "fact_daily_sales": ["date_key", *_PAIR],
    "fact_inventory_reconciliation": ["date_key", *_PAIR],
    "product_inventory_metrics": [*_PAIR],
    "kpi_inventory_summary": [],
    "low_stock_by_warehouse": ["warehouse_id"],
    "sales_daily": ["date_key"],
    "kpi_sales_summary": [],
    "top_products": ["ranking", "rank", "product_id"],
    "sales_by_warehouse": ["warehouse_id"],
    "dim_date": ["date_key"],
    "dim_location": ["location_id"],
    "dim_warehouse": ["warehouse_id"],
    "dim_supplier": ["supplier_id"],
    "dim_stock_item": ["pair_key"],
    "sales_daily_by_warehouse": ["date_key", "warehouse_id"],
    "inventory_by_warehouse": ["warehouse_id"],
}

# The star schema: each foreign-key column and the dimension (table, key column) it refers to, wherever it appears.
# Every relationship is one column, as Power BI's are; tests hold every published row to it (no orphan keys).
DIMENSION_OF: dict[str, tuple[str, str]] = {
    "product_id": ("dim_products", "product_id"),
    "warehouse_id": ("dim_warehouse", "warehouse_id"),
    "location_id": ("dim_location", "location_id"),
    "date_key": ("dim_date", "date_key"),
    "pair_key": ("dim_stock_item", "pair_key"),
    "supplier_id": ("dim_supplier", "supplier_id"),
    "primary_supplier_id": ("dim_supplier", "supplier_id"),
}
