"""Named schemas for every table the Spark jobs read or write; tests and the publish code share them.

Inputs mirror `sql/ddl/020_raw.sql` (only the columns the transforms use; a NOT NULL column is non-nullable).
Outputs are keyed by table name, which is also the name of the transform in `spark_jobs.transforms` that
builds the table; `refreshed_at` is not part of them (the I/O layer adds it). The published tables' schemas and
keys (`OUTPUTS`, `OUTPUT_KEYS`; an empty key marks a single-row table) come from `spark_jobs/registry.py`.
"""

from __future__ import annotations

import re

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

from spark_jobs import registry


def spark_type(sql_type: str) -> DataType:
    """The Spark type of a registry column type (PostgreSQL's spelling)."""
    numeric = re.fullmatch(r"numeric\((\d+),(\d+)\)", sql_type)
    if numeric:
        return DecimalType(int(numeric[1]), int(numeric[2]))
    return _SPARK_TYPES[sql_type]


_SPARK_TYPES: dict[str, DataType] = {
    registry.INT: IntegerType(),
    registry.BIGINT: LongType(),
    registry.TEXT: StringType(),
    registry.BOOL: BooleanType(),
    registry.DATE: DateType(),
    registry.TIMESTAMP: TimestampType(),
}


# Column types used across the layer: the registry's (spark_jobs/registry.py names each one).
PRICE = spark_type(registry.PRICE)
LINE_AMOUNT = DecimalType(14, 2)  # raw.product_sales.total_revenue: numeric(14,2)
MONEY = spark_type(registry.MONEY)
DEMAND = spark_type(registry.DEMAND)
QUANTITY = spark_type(registry.QUANTITY)
UNITS = spark_type(registry.UNITS)


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


def output_schema(table: registry.Table) -> StructType:
    return StructType([StructField(c.name, spark_type(c.type), c.nullable) for c in table.columns])


# Inputs of published tables that the job computes but does not publish.
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

_PAIR = ("product_id", "warehouse_id")
# Every table a transform builds: the published ones (spark_jobs/registry.py) and the two intermediates above.
OUTPUTS: dict[str, StructType] = {
    "on_order": ON_ORDER,
    "average_daily_demand": AVERAGE_DAILY_DEMAND,
    **{name: output_schema(table) for name, table in registry.TABLES.items()},
}
OUTPUT_KEYS: dict[str, list[str]] = {
    "on_order": [*_PAIR],
    "average_daily_demand": [*_PAIR],
    **{name: list(table.keys) for name, table in registry.TABLES.items()},
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
