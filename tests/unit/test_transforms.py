"""The analytics transforms on tiny, hand-computed inputs (the shared local[2] session, no database).

Every expected value is worked out by hand in the comment next to it. Decimals are compared exactly (rtol=0):
the rounding to the cent is part of what is tested.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from pyspark.errors import PySparkException
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)
from pyspark.testing import assertDataFrameEqual

from spark_jobs import schemas as S
from spark_jobs import transforms as T

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)  # a Tuesday, noon


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def d(day: int) -> date:
    return date(2026, 3, day)


PRODUCT_ROWS = [
    (1, "SKU-00001", "Apple", "fruit", "Orchard", "pcs", D("2.50"), D("4.00"), 2),
    (2, "SKU-00002", "Bread", "bakery", None, "pcs", D("1.35"), D("2.00"), 3),
    (3, "SKU-00003", "Cheese", "dairy", "Alp", "kg", D("1.00"), D("1.50"), 5),
    (4, "SKU-00004", "Dates", "fruit", "Oasis", "kg", D("3.00"), D("5.00"), 14),
]
WAREHOUSE_ROWS = [(10, "Austin DC 10", 100, 50_000), (20, "Boston DC 20", 200, 60_000)]
LOCATION_ROWS = [
    (100, "Austin, TX", "Austin", "TX", "United States"),
    (200, "Boston, MA", "Boston", "MA", "United States"),
]

_NEUTRAL = {
    IntegerType: 0,
    LongType: 0,
    DecimalType: D("0.00"),
    StringType: "",
    BooleanType: False,
    TimestampType: AS_OF,
    DateType: AS_OF.date(),
}


def keyed(schema: StructType, row: dict) -> dict:
    """The row with its pair_key (product_id x 100000 + warehouse_id) when the schema has one and the row not."""
    if "pair_key" in schema.fieldNames() and "pair_key" not in row and "warehouse_id" in row:
        return {"pair_key": row["product_id"] * 100_000 + row["warehouse_id"], **row}
    return row


def frame(spark, schema: StructType, rows: list[dict]):
    """Input rows as dicts; a column a row leaves out gets a neutral value (it does not matter to the test)."""
    return spark.createDataFrame(
        [tuple(keyed(schema, r).get(f.name, _NEUTRAL[type(f.dataType)]) for f in schema.fields) for r in rows], schema
    )


def assert_table(spark, actual, table: str, rows: list[dict]):
    """The transform's output equals these rows, every column given (pair_key derived), with the exact types."""
    schema = S.OUTPUTS[table]
    expected = spark.createDataFrame([tuple(keyed(schema, r)[f.name] for f in schema.fields) for r in rows], schema)
    assertDataFrameEqual(actual, expected, rtol=0, atol=0)


@pytest.fixture(scope="module")
def dims(spark):
    return (
        spark.createDataFrame(PRODUCT_ROWS, S.PRODUCTS),
        spark.createDataFrame(WAREHOUSE_ROWS, S.WAREHOUSES),
        spark.createDataFrame(LOCATION_ROWS, S.LOCATIONS),
    )


def stock_row(product_id: int, warehouse_id: int, quantity: int, **columns) -> dict:
    """A current_stock row: names and prices from the dimension rows above, the rest given or zero."""
    p = next(r for r in PRODUCT_ROWS if r[0] == product_id)
    w = next(r for r in WAREHOUSE_ROWS if r[0] == warehouse_id)
    loc = next(r for r in LOCATION_ROWS if r[0] == w[2])
    row = dict(
        product_id=product_id,
        sku=p[1],
        product_name=p[2],
        category=p[3],
        cost_price=p[6],
        selling_price=p[7],
        warehouse_id=warehouse_id,
        warehouse_name=w[1],
        location_id=loc[0],
        location_name=loc[1],
        quantity=quantity,
        counted_at=at(10),
        units_sold=0,
        revenue=D("0.00"),
        stock_value=D("0.00"),
        on_order_qty=0,
    )
    row.update(columns)
    return row


def sale(product_id, warehouse_id, units, price, when):
    return (product_id, warehouse_id, units, D(price), D(price) * units, when, 1)


def order(order_id, product_id, warehouse_id, quantity, ordered_at):
    return (order_id, product_id, warehouse_id, quantity, ordered_at)


def receipt(order_id, product_id, warehouse_id, quantity, received_at):
    return (order_id, product_id, warehouse_id, 1, quantity, D("1.00"), received_at - timedelta(days=2), received_at)


# ------------------------------------------------------------------------------------------------ schemas


def _ddl_columns() -> dict[str, dict[str, str]]:
    text = (ROOT / "sql/ddl/020_raw.sql").read_text()
    tables = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (raw\.\w+) \((.*?)\n\);", text, re.S):
        columns = {}
        for line in body.splitlines():
            match = re.match(r"\s+([a-z_]+)\s+(numeric\(\d+, \d+\)|\w+)", line)
            if match and match.group(1) not in ("primary", "unique", "check"):
                columns[match.group(1)] = match.group(2)
        tables[name] = columns
    return tables


def _spark_type(sql_type: str):
    if sql_type.startswith("numeric"):
        precision, scale = map(int, re.findall(r"\d+", sql_type))
        return DecimalType(precision, scale)
    return {"integer": IntegerType(), "text": StringType(), "timestamptz": TimestampType(), "boolean": BooleanType()}[
        sql_type
    ]


def test_input_schemas_match_the_raw_ddl():
    ddl = _ddl_columns()
    for table, schema in S.RAW_TABLES.items():
        for field in schema.fields:
            if field.name in S.COMPUTED_BY_READ.get(table, ()):
                assert field.name not in ddl[table], f"{table}.{field.name} is in the DDL: read it, do not compute it"
                continue
            assert field.name in ddl[table], f"{table}.{field.name} is not in the DDL"
            assert field.dataType == _spark_type(ddl[table][field.name]), f"{table}.{field.name}"


def test_every_table_relates_to_each_dimension_through_one_column():
    """The star schema Power BI models: single-column relationships only, to published dimensions."""
    from include.inventory.analytics import EXPECTED_TABLES

    for dim, key in S.DIMENSION_OF.values():
        assert dim in EXPECTED_TABLES and S.OUTPUT_KEYS[dim] == [key], dim  # a dimension's key is one column
    related = 0
    for table in EXPECTED_TABLES:
        fields = {f.name: f.dataType for f in S.OUTPUTS[table].fields}
        for column, (dim, key) in S.DIMENSION_OF.items():
            if column in fields and (table, column) != (dim, key):
                assert fields[column] == S.OUTPUTS[dim][key].dataType, f"{table}.{column} -> {dim}.{key}"
                related += 1
        if {"product_id", "warehouse_id"} <= set(fields):
            # at pair grain or finer: the pair dimension through one column, not the two ids
            assert "pair_key" in fields, table
    assert related > 25


def test_every_output_has_a_key_made_of_its_columns_and_a_transform():
    assert S.OUTPUTS.keys() == S.OUTPUT_KEYS.keys()
    for table, schema in S.OUTPUTS.items():
        assert set(S.OUTPUT_KEYS[table]) <= set(schema.fieldNames()), table
        assert "refreshed_at" not in schema.fieldNames()
        assert callable(getattr(T, table)), f"no transform named {table}"


# ------------------------------------------------------------------------------------------------ stock


def test_current_stock_takes_the_latest_count_and_sales_up_to_as_of(spark, dims):
    products, warehouses, locations = dims
    counts = spark.createDataFrame(
        [
            (1, 10, 50, "initial", at(1)),
            (1, 10, 40, "window", at(5, 10)),
            (1, 10, 35, "daily", at(10)),  # a tie on counted_at: same quantity
            (1, 10, 35, "window", at(10)),
            (1, 10, 5, "window", at(10, 12, 0, 1)),  # after as_of: ignored
            (2, 20, 7, "initial", at(9, 8)),  # no sales at all
        ],
        S.COUNTS,
    )
    sales = spark.createDataFrame(
        [
            sale(1, 10, 3, "4.00", at(9, 10)),
            sale(1, 10, 2, "3.99", AS_OF),  # exactly at as_of: counts
            sale(1, 10, 4, "4.00", at(10, 12, 0, 1)),  # after as_of: ignored
        ],
        S.SALES,
    )
    on_order = spark.createDataFrame([(1, 10, 60), (2, 10, 5)], S.ON_ORDER)  # (2, 10) has no count: no row
    actual = T.current_stock(counts, products, warehouses, locations, sales, on_order, AS_OF)
    assert_table(
        spark,
        actual,
        "current_stock",
        [
            # 3 + 2 units; 12.00 + 7.98 revenue; 35 x 2.50; 60 on open orders
            stock_row(1, 10, 35, counted_at=at(10), units_sold=5, revenue=D("19.98"), stock_value=D("87.50"))
            | dict(on_order_qty=60),
            # 7 x 1.35; no open order: 0
            stock_row(2, 20, 7, counted_at=at(9, 8), units_sold=0, revenue=D("0.00"), stock_value=D("9.45")),
        ],
    )


def test_on_order_counts_orders_placed_and_not_yet_received_at_as_of(spark):
    orders = spark.createDataFrame(
        [
            order("PO-a", 1, 10, 40, at(8)),  # received yesterday: not on order
            order("PO-b", 1, 10, 25, at(9)),  # received exactly at as_of: arrived, not on order
            order("PO-c", 1, 10, 30, at(10, 6)),  # received after as_of: still on order
            order("PO-d", 1, 10, 7, AS_OF),  # placed exactly at as_of: on order
            order("PO-e", 1, 10, 99, AS_OF + timedelta(seconds=1)),  # placed after as_of: not yet
            order("PO-f", 2, 20, 12, at(1)),  # never received (of any age): on order
            order("PO-g", 2, 10, 5, at(3)),  # received: the pair has nothing on order, so no row
        ],
        S.ORDERS,
    )
    receipts = spark.createDataFrame(
        [
            receipt("PO-a", 1, 10, 40, at(9, 8)),
            receipt("PO-b", 1, 10, 25, AS_OF),
            receipt("PO-c", 1, 10, 30, AS_OF + timedelta(microseconds=1)),
            receipt("PO-g", 2, 10, 5, at(6)),
        ],
        S.RECEIPTS,
    )
    assert_table(
        spark,
        T.on_order(orders, receipts, AS_OF),
        "on_order",
        [
            dict(product_id=1, warehouse_id=10, on_order_qty=37),  # PO-c 30 + PO-d 7
            dict(product_id=2, warehouse_id=20, on_order_qty=12),
        ],
    )


def test_as_of_must_be_timezone_aware(spark):
    sales = spark.createDataFrame([], S.SALES)
    with pytest.raises(ValueError, match="timezone-aware"):
        T.fact_daily_sales(sales, datetime(2026, 3, 10, 12))


def test_average_daily_demand_over_the_complete_days_before_as_of(spark):
    # 32 complete days before AS_OF (Tuesday 03-10, noon): 02-06 .. 03-09; the morning of 03-10 is not one.
    sales = spark.createDataFrame(
        [
            sale(1, 10, 5, "1.00", datetime(2026, 2, 5, 23, 59, 59, tzinfo=UTC)),  # the day before: excluded
            sale(1, 10, 10, "1.00", datetime(2026, 2, 6, tzinfo=UTC)),  # the first second of the window
            sale(1, 10, 3, "1.00", at(9, 23, 59, 59)),  # the last second of the window
            sale(1, 10, 4, "1.00", at(10)),  # today: a partial day, excluded
            sale(1, 10, 9, "1.00", AS_OF + timedelta(seconds=1)),  # after as_of
            sale(2, 20, 1, "1.00", at(5)),
        ],
        S.SALES,
    )
    assert T.complete_days(AS_OF, 32) == (date(2026, 2, 6), d(9))
    assert T.complete_days(at(10), 1) == (d(9), d(9))  # exactly midnight: the day before is complete
    assert_table(
        spark,
        T.average_daily_demand(sales, AS_OF, 32),
        "average_daily_demand",
        [
            # 13 / 32 = 0.40625 -> 0.4063 (half up)
            dict(product_id=1, warehouse_id=10, avg_daily_demand=D("0.4063"), window_units=13, window_days=32),
            # 1 / 32 = 0.03125 -> 0.0313 (half even would say 0.0312)
            dict(product_id=2, warehouse_id=20, avg_daily_demand=D("0.0313"), window_units=1, window_days=32),
        ],
    )


def test_low_stock_reorder_point_and_order_from_the_exact_demand(spark, dims):
    products = dims[0]
    stock = frame(
        spark,
        S.OUTPUTS["current_stock"],
        [
            stock_row(2, 10, 4),
            stock_row(1, 20, 0),
            stock_row(1, 10, 10),  # at the threshold: included
            stock_row(2, 20, 11),  # over it: not
            stock_row(4, 10, 2, on_order_qty=100),  # open orders cover it: still low, nothing more to order
            stock_row(4, 20, 5, on_order_qty=20),  # open orders cover part of it: order the rest
        ],
    )
    demand = spark.createDataFrame(
        [(2, 10, D("6.6667"), 20, 3), (1, 10, D("0.1429"), 1, 7), (2, 20, D("1.0000"), 7, 7)]
        + [(4, 10, D("2.0000"), 14, 7), (4, 20, D("2.0000"), 14, 7)],
        S.AVERAGE_DAILY_DEMAND,
    )
    assert_table(
        spark,
        T.low_stock_data(stock, demand, products, threshold=10),
        "low_stock_data",
        [
            # d = 20/3, lead 3 + safety 3: ceil(20/3 * 6) = 40 (the rounded 6.6667 * 6 = 40.0002 would say 41);
            # order: 40 + ceil(20/3 * 30) - 4 = 40 + 200 - 4 = 236; cover 4 / (20/3) = 0.60
            stock_row(2, 10, 4)
            | dict(avg_daily_demand=D("6.6667"), lead_time=3, reorder_point=40, suggested_order_qty=236)
            | dict(days_of_cover=D("0.60"), is_stock_out=False),
            # no demand row: rate 0, reorder point 0, nothing to order, cover undefined; out of stock
            stock_row(1, 20, 0)
            | dict(avg_daily_demand=D("0.0000"), lead_time=2, reorder_point=0, suggested_order_qty=0)
            | dict(days_of_cover=None, is_stock_out=True),
            # d = 1/7: ceil(5/7) = 1; max(0, 1 + ceil(30/7) - 10) = max(0, 1 + 5 - 10) = 0; cover 10 * 7 = 70.00
            stock_row(1, 10, 10)
            | dict(avg_daily_demand=D("0.1429"), lead_time=2, reorder_point=1, suggested_order_qty=0)
            | dict(days_of_cover=D("70.00"), is_stock_out=False),
            # d = 2, lead 14 + safety 3: reorder point 34; gross 34 + 60 - 2 = 92, net of 100 on order: 0
            stock_row(4, 10, 2, on_order_qty=100)
            | dict(avg_daily_demand=D("2.0000"), lead_time=14, reorder_point=34, suggested_order_qty=0)
            | dict(days_of_cover=D("1.00"), is_stock_out=False),
            # gross 34 + 60 - 5 = 89, net of 20 on order: 69
            stock_row(4, 20, 5, on_order_qty=20)
            | dict(avg_daily_demand=D("2.0000"), lead_time=14, reorder_point=34, suggested_order_qty=69)
            | dict(days_of_cover=D("2.50"), is_stock_out=False),
        ],
    )


def _aging_row(product_id, warehouse_id, order, units, age_sum, value, aged_units=0, aged_value="0.00"):
    p = next(r for r in PRODUCT_ROWS if r[0] == product_id)
    return dict(
        product_id=product_id,
        warehouse_id=warehouse_id,
        sku=p[1],
        product_name=p[2],
        bucket=T.AGING_BUCKETS[order - 1][0],
        bucket_order=order,
        units=units,
        value=D(value),
        unit_age_days_sum=age_sum,
        aging_threshold_days=90,
        aged_units=aged_units,
        aged_value=D(aged_value),
    )


def test_inventory_aging_fifo_layers_buckets_and_opening_stock(spark):
    def days_ago(days: int, seconds: int = 0) -> datetime:
        return AS_OF - timedelta(days=days, seconds=seconds)

    stock = frame(spark, S.OUTPUTS["current_stock"], [stock_row(1, 10, 100), stock_row(2, 20, 15)])
    receipts = spark.createDataFrame(
        [
            # (1, 10): 7 receipts of 10 at the bucket boundaries = 70 < 100 on hand
            *[
                (f"PO-1-{age}", 1, 10, 1, 10, D("2.00"), days_ago(age + 1), days_ago(age))
                for age in (0, 30, 31, 60, 61, 90, 91)
            ],
            ("PO-1-late", 1, 10, 1, 50, D("2.00"), days_ago(1), AS_OF + timedelta(seconds=1)),  # after as_of
            # (2, 20): 10 + 3 + 7 + 10 received, 15 on hand; 30 days and a second is still age 30
            ("PO-2-a", 2, 20, 1, 10, D("1.00"), days_ago(9), days_ago(30, 1)),
            ("PO-2-b", 2, 20, 1, 3, D("1.00"), days_ago(45), days_ago(40)),  # two receipts at the same time
            ("PO-2-c", 2, 20, 1, 7, D("1.00"), days_ago(45), days_ago(40)),
            ("PO-2-d", 2, 20, 1, 10, D("1.00"), days_ago(105), days_ago(100)),
        ],
        S.RECEIPTS,
    )
    first = spark.createDataFrame([(1, 10, days_ago(200)), (2, 20, days_ago(120))], S.FIRST_COUNTS)
    assert_table(
        spark,
        T.inventory_aging(stock, receipts, first, AS_OF),
        "inventory_aging",
        [
            # (1, 10), cost 2.50: ages 0 and 30 -> bucket 1; 31, 60 -> 2; 61, 90 -> 3; 91 and the 30 units
            # no receipt covers (first count, age 200) -> 4. Over 90 days: 10 + 30 = 40 units.
            _aging_row(1, 10, 1, 20, 0 * 10 + 30 * 10, "50.00"),
            _aging_row(1, 10, 2, 20, 31 * 10 + 60 * 10, "50.00"),
            _aging_row(1, 10, 3, 20, 61 * 10 + 90 * 10, "50.00"),
            _aging_row(1, 10, 4, 40, 91 * 10 + 200 * 30, "100.00", aged_units=40, aged_value="100.00"),
            # (2, 20), cost 1.35: the newest 10 (age 30) then 5 of the 10 at age 40; older receipts and the
            # first count hold nothing
            _aging_row(2, 20, 1, 10, 30 * 10, "13.50"),
            _aging_row(2, 20, 2, 5, 40 * 5, "6.75"),
            _aging_row(2, 20, 3, 0, 0, "0.00"),
            _aging_row(2, 20, 4, 0, 0, "0.00"),
        ],
    )


def test_inventory_aging_counts_calendar_days(spark):
    """A layer's age is as_of's date minus the date it arrived: a receipt at 23:59 is a day old at 00:01."""
    stock = frame(spark, S.OUTPUTS["current_stock"], [stock_row(1, 10, 15)])
    receipts = spark.createDataFrame(
        [
            ("PO-a", 1, 10, 1, 5, D("2.00"), at(1), at(9, 23, 59)),  # 1 day old at 03-10 00:01
            ("PO-b", 1, 10, 1, 5, D("2.00"), at(1), at(10, 0, 0)),  # today: 0 days
        ],
        S.RECEIPTS,
    )
    first = spark.createDataFrame([(1, 10, datetime(2025, 12, 10, 0, 1, tzinfo=UTC))], S.FIRST_COUNTS)
    rows = T.inventory_aging(stock, receipts, first, at(10, 0, 1)).where("units > 0").collect()
    # 5 + 5 units aged 0 and 1 day -> bucket 1 (age sum 5); 5 units of opening stock, 90 days old -> bucket 3
    assert [(r.bucket_order, r.units, r.unit_age_days_sum) for r in rows] == [(1, 10, 5), (3, 5, 450)]


def test_first_counts_and_dim_products(spark, dims):
    counts = spark.createDataFrame(
        [(1, 10, 5, "window", at(3)), (1, 10, 9, "initial", at(2)), (1, 20, 1, "initial", at(11))], S.COUNTS
    )
    assertDataFrameEqual(T.first_counts(counts, AS_OF), spark.createDataFrame([(1, 10, at(2))], S.FIRST_COUNTS))


def test_dim_products_price_band_primary_supplier_and_abc_class(spark):
    # selling prices on the band bounds: 4.00 under 10, 10.00 the second band, 199.99 the third, 1000.00 the last
    prices = {1: ("2.50", "4.00"), 2: ("1.35", "10.00"), 3: ("1.00", "199.99"), 4: ("3.00", "1000.00")}
    products = spark.createDataFrame(
        [r[:6] + (D(prices[r[0]][0]), D(prices[r[0]][1]), r[8]) for r in PRODUCT_ROWS], S.PRODUCTS
    )
    links = spark.createDataFrame(
        [(1, 7, True), (1, 3, False), (2, 5, False), (3, 9, True), (3, 8, True)], S.PRODUCT_SUPPLIERS
    )
    # units in the demand window: product 1 10 + 30 (two warehouses), 2 100, 3 30, 4 none
    demand = spark.createDataFrame(
        [(1, 10, D("1.0000"), 10, 10), (1, 20, D("3.0000"), 30, 10), (2, 10, D("10.0000"), 100, 10)]
        + [(3, 20, D("3.0000"), 30, 10)],
        S.AVERAGE_DAILY_DEMAND,
    )
    # consumption: 1 40 x 2.50 = 100.00, 2 100 x 1.35 = 135.00, 3 30 x 1.00 = 30.00, 4 0; total 265.00.
    # ranked 2, 1, 3, 4: shares before 0 % (A), 50.9 % (A), 88.7 % (B), 100 % (C)
    expected = {
        1: ("Under 10", 1, 7, D("100.00"), "A"),
        2: ("10 to 49.99", 2, None, D("135.00"), "A"),
        3: ("50 to 199.99", 3, 8, D("30.00"), "B"),  # two primary links: the lowest id
        4: ("1000 and over", 5, None, D("0.00"), "C"),
    }
    rows = [r[:6] + (D(prices[r[0]][0]), D(prices[r[0]][1]), r[8]) + expected[r[0]] for r in PRODUCT_ROWS]
    assertDataFrameEqual(
        T.dim_products(products, links, demand), spark.createDataFrame(rows, S.OUTPUTS["dim_products"]), rtol=0, atol=0
    )


def _day(day: date, *, wtd: bool, mtd: bool, complete: bool, ago: int) -> dict:
    """A dim_date row; the calendar columns from Python's own ISO calendar."""
    iso = day.isocalendar()
    return dict(
        date_key=day,
        year=day.year,
        quarter=(day.month - 1) // 3 + 1,
        month=day.month,
        month_name=day.strftime("%B"),
        day_of_month=day.day,
        iso_year=iso.year,
        iso_week=iso.week,
        iso_day_of_week=iso.weekday,
        day_name=day.strftime("%A"),
        is_weekend=iso.weekday >= 6,
        week_start=day - timedelta(days=iso.weekday - 1),
        is_week_to_date=wtd,
        is_month_to_date=mtd,
        is_complete_day=complete,
        days_ago=ago,
    )


def test_dim_date_from_the_first_count_or_sale_through_as_of(spark):
    first_counts = spark.createDataFrame([(1, 10, at(5, 8)), (2, 20, at(7))], S.FIRST_COUNTS)
    first_sale = spark.createDataFrame([(at(4, 23, 59),)], S.FIRST_SALE)  # a Wednesday, before every count
    # as of Tuesday Mar 10 noon: week to date Mon 9 - Tue 10, month to date 1 - 10, today partial
    assert_table(
        spark,
        T.dim_date(first_counts, first_sale, AS_OF),
        "dim_date",
        [_day(d(n), wtd=n >= 9, mtd=True, complete=n < 10, ago=10 - n) for n in range(4, 11)],
    )
    # as of Monday Mar 9 00:00 exactly: today is still Sunday (the dashboards' period), Monday has no time yet
    # but is in the table (a sale at exactly as_of is dated on it); the first day comes from the counts alone
    no_sale = spark.createDataFrame([(None,)], S.FIRST_SALE)
    assert_table(
        spark,
        T.dim_date(first_counts, no_sale, at(9)),
        "dim_date",
        [_day(d(n), wtd=n <= 8 and n >= 2, mtd=n <= 8, complete=n < 9, ago=9 - n) for n in range(5, 10)],
    )


def test_dim_date_iso_weeks_across_a_new_year(spark):
    # 2027-01-01 is a Friday: Dec 31 2026 - Jan 3 2027 are ISO week 53 of 2026
    sale = spark.createDataFrame([(datetime(2026, 12, 31, 10, tzinfo=UTC),)], S.FIRST_SALE)
    no_counts = spark.createDataFrame([], S.FIRST_COUNTS)
    rows = T.dim_date(no_counts, sale, datetime(2027, 1, 4, 1, tzinfo=UTC)).orderBy("date_key").collect()
    assert [(r.iso_year, r.iso_week, r.iso_day_of_week, r.week_start) for r in rows] == [
        (2026, 53, 4, date(2026, 12, 28)),
        (2026, 53, 5, date(2026, 12, 28)),
        (2026, 53, 6, date(2026, 12, 28)),
        (2026, 53, 7, date(2026, 12, 28)),
        (2027, 1, 1, date(2027, 1, 4)),
    ]
    assert [(r.year, r.quarter, r.is_week_to_date, r.is_month_to_date) for r in rows][-2:] == [
        (2027, 1, False, True),  # Sunday Jan 3: the new month, not the new week
        (2027, 1, True, True),
    ]


def test_dim_location_warehouse_supplier_and_stock_item(spark, dims):
    products, warehouses, _ = dims
    locations = spark.createDataFrame(
        LOCATION_ROWS
        + [
            (300, "Toronto, ON", "Toronto", "ON", "Canada"),
            (400, "San Juan, PR", "San Juan", "PR", "United States"),
            (500, "Nowhere", "Nowhere", None, "United States"),
        ],
        S.LOCATIONS,
    )
    regions = {r.location_id: r.region for r in T.dim_location(locations).collect()}
    assert regions == {100: "South", 200: "Northeast", 300: "Canada", 400: "US Other", 500: "US Other"}
    assert_table(
        spark,
        T.dim_warehouse(warehouses, locations),
        "dim_warehouse",
        [
            dict(warehouse_id=10, warehouse_name="Austin DC 10", capacity=50_000, location_id=100)
            | dict(location_name="Austin, TX", city="Austin", state="TX", country="United States", region="South"),
            dict(warehouse_id=20, warehouse_name="Boston DC 20", capacity=60_000, location_id=200)
            | dict(location_name="Boston, MA", city="Boston", state="MA", country="United States", region="Northeast"),
        ],
    )
    suppliers = spark.createDataFrame([(1, "Acme", "United States"), (2, "Bolt", None)], S.SUPPLIERS)
    assert T.dim_supplier(suppliers).columns == ["supplier_id", "supplier_name", "country"]  # no contact data
    items = T.dim_stock_item(products, warehouses, locations)
    assert items.count() == len(PRODUCT_ROWS) * len(WAREHOUSE_ROWS)  # every pair, counted or not
    assert_table(
        spark,
        items.where("product_id = 2 AND warehouse_id = 20"),
        "dim_stock_item",
        [
            dict(pair_key=200_020, product_id=2, warehouse_id=20, sku="SKU-00002", product_name="Bread")
            | dict(warehouse_name="Boston DC 20", location_name="Boston, MA")
        ],
    )


def test_pair_key_refuses_a_warehouse_id_it_cannot_hold(spark):
    from pyspark.sql import functions as F

    ids = spark.createDataFrame([(7, 99_999)], "product_id int, warehouse_id int")
    assert ids.select(T.pair_key(F.col("product_id"), F.col("warehouse_id"))).first()[0] == 799_999
    with pytest.raises(Exception, match="pair_key: warehouse_id outside"):
        ids.select(T.pair_key(F.col("product_id"), F.col("warehouse_id") + 1)).collect()


# ------------------------------------------------------------------------------------------------ daily facts


@pytest.mark.parametrize("from_date", [None, d(9)])
def test_fact_daily_sales_by_utc_day(spark, from_date):
    sales = spark.createDataFrame(
        [
            sale(1, 10, 4, "2.00", at(8, 23)),
            sale(1, 10, 2, "1.99", at(9)),  # midnight belongs to the day it starts
            sale(1, 10, 1, "1.99", at(9, 23, 59, 59)),
            sale(1, 10, 3, "2.00", at(10)),
            sale(2, 20, 1, "5.00", AS_OF),
            sale(2, 20, 1, "5.00", AS_OF + timedelta(microseconds=1)),  # after as_of
        ],
        S.SALES,
    )
    rows = [
        dict(date_key=d(8), product_id=1, warehouse_id=10, units=4, revenue=D("8.00"), transactions=1),
        dict(date_key=d(9), product_id=1, warehouse_id=10, units=3, revenue=D("5.97"), transactions=2),
        dict(date_key=d(10), product_id=1, warehouse_id=10, units=3, revenue=D("6.00"), transactions=1),
        dict(date_key=d(10), product_id=2, warehouse_id=20, units=1, revenue=D("5.00"), transactions=1),
    ]
    expected = [r for r in rows if from_date is None or r["date_key"] >= from_date]
    assert_table(spark, T.fact_daily_sales(sales, AS_OF, from_date), "fact_daily_sales", expected)


def _recon(day, product_id, warehouse_id, opening, sold, received, actual, value):
    p = next(r for r in PRODUCT_ROWS if r[0] == product_id)
    expected = opening + received - sold
    return dict(
        date_key=d(day),
        sku=p[1],
        product_id=product_id,
        warehouse_id=warehouse_id,
        product_name=p[2],
        opening_stock=opening,
        quantity_sold=sold,
        quantity_received=received,
        expected_closing_stock=expected,
        actual_closing_stock=actual,
        discrepancy_amount=actual - expected,
        discrepancy_value=D(value),
    )


# (1, 10), cost 2.50: 100 counted on Mar 7 06:00 (no opening for Mar 7). Mar 8: sold 10 (one at 00:00 exactly,
# after that midnight's count), received 20, 3 units of shrinkage: 95 - 10 + 20 = 105 expected, 102 counted.
# Mar 10 until as_of: sold 4, counted 96 at as_of; the sale at as_of itself is the next count's business.
# (2, 20), cost 1.35, no receipts: 50 counted at Mar 9 00:00, sold 5 + 3, 41 counted: -1 = -1.35.
RECON_ROWS = {
    (8, 1): _recon(8, 1, 10, opening=95, sold=10, received=20, actual=102, value="-7.50"),
    (9, 1): _recon(9, 1, 10, opening=102, sold=2, received=0, actual=100, value="0.00"),
    (10, 1): _recon(10, 1, 10, opening=100, sold=4, received=0, actual=96, value="0.00"),
    (9, 2): _recon(9, 2, 20, opening=50, sold=8, received=0, actual=41, value="-1.35"),
    (10, 2): _recon(10, 2, 20, opening=41, sold=0, received=0, actual=41, value="0.00"),
}


@pytest.mark.parametrize(
    ("as_of", "from_date", "days"),
    [
        # as_of at midnight: Mar 10 has no time yet, so no row
        (at(10), None, [(8, 1), (9, 1), (9, 2)]),
        # from Mar 9 (the opening still comes from the Mar 9 00:00 count), through the partial Mar 10
        (AS_OF, d(9), [(9, 1), (10, 1), (9, 2), (10, 2)]),
    ],
)
def test_fact_inventory_reconciliation(spark, dims, as_of, from_date, days):
    counts = spark.createDataFrame(
        [
            (1, 10, 100, "initial", at(7, 6)),
            (1, 10, 95, "daily", at(8)),
            (1, 10, 102, "daily", at(9)),
            (1, 10, 100, "window", at(9, 18)),
            (1, 10, 100, "daily", at(10)),
            (1, 10, 96, "window", AS_OF),
            (1, 10, 90, "window", at(10, 13)),  # after as_of
            (2, 20, 50, "initial", at(9)),
            (2, 20, 41, "daily", at(10)),
        ],
        S.COUNTS,
    )
    sales = spark.createDataFrame(
        [
            sale(1, 10, 5, "4.00", at(7, 10)),
            sale(1, 10, 6, "4.00", at(8)),
            sale(1, 10, 4, "4.00", at(8, 9)),
            sale(1, 10, 2, "4.00", at(9, 12)),
            sale(1, 10, 4, "4.00", at(10, 11)),
            sale(1, 10, 1, "4.00", AS_OF),
            sale(2, 20, 5, "2.00", at(9)),
            sale(2, 20, 3, "2.00", at(9, 20)),
        ],
        S.SALES,
    )
    receipts = spark.createDataFrame([("PO-1", 1, 10, 1, 20, D("2.00"), at(6), at(8, 15))], S.RECEIPTS)
    actual = T.fact_inventory_reconciliation(counts, sales, receipts, dims[0], as_of, from_date)
    assert_table(spark, actual, "fact_inventory_reconciliation", [RECON_ROWS[k] for k in days])


# ------------------------------------------------------------------------------------------------ inventory dashboard


def _metrics_inputs(spark, stock: list[dict], demand: list[tuple], fact: list[tuple], recon: list[tuple]):
    """current_stock, demand, fact_daily_sales (day, pair, units) and reconciliation (day, pair, closing)."""

    def rows(last: str, values: list[tuple]) -> list[dict]:
        return [dict(zip(("date_key", "product_id", "warehouse_id", last), v, strict=True)) for v in values]

    return (
        frame(spark, S.OUTPUTS["current_stock"], stock),
        spark.createDataFrame(demand, S.AVERAGE_DAILY_DEMAND),
        frame(spark, S.OUTPUTS["fact_daily_sales"], rows("units", fact)),
        frame(spark, S.OUTPUTS["fact_inventory_reconciliation"], rows("actual_closing_stock", recon)),
    )


def _metric(stock: dict, **columns) -> dict:
    row = {k: stock[k] for k in ("product_id", "warehouse_id", "sku", "product_name", "category", "warehouse_name")}
    return row | dict(on_hand=stock["quantity"], stock_value=stock["stock_value"]) | columns


def test_product_inventory_metrics(spark, dims):
    # window: the 3 days Mar 8..10; overstock beyond 30 days of cover
    p1 = stock_row(1, 10, 40, stock_value=D("100.00"))
    p2 = stock_row(2, 10, 100, stock_value=D("135.00"))
    p3 = stock_row(1, 20, 0)
    p4 = stock_row(2, 20, 5, stock_value=D("6.75"))
    inputs = _metrics_inputs(
        spark,
        [p1, p2, p3, p4],
        demand=[(1, 10, D("1.3333"), 4, 3), (2, 10, D("0.4286"), 3, 7)],
        fact=[(d(7), 1, 10, 100), (d(8), 1, 10, 6), (d(10), 1, 10, 4), (d(9), 2, 10, 3)],
        recon=[(d(7), 1, 10, 999), (d(8), 1, 10, 50), (d(9), 1, 10, 45), (d(10), 1, 10, 40)]
        + [(d(9), 2, 10, 103), (d(10), 2, 10, 100), (d(10), 2, 20, 0)],
    )
    actual = T.product_inventory_metrics(*inputs, dims[0], AS_OF, window_days=3, overstock_days=30)
    assert_table(
        spark,
        actual,
        "product_inventory_metrics",
        [
            # cover 40 / (4/3) = 30.00: not over 30. cogs (6 + 4) x 2.50; inventory (50 + 45 + 40) x 2.50 / 3;
            # turnover 25.00 / 112.50 = 0.2222. Consumption 25.00 of 29.05: nothing before it -> A
            _metric(p1, avg_daily_demand=D("1.3333"), coverage_days=D("30.00"), is_overstock=False)
            | dict(cogs=D("25.00"), avg_inventory_value=D("112.50"), turnover=D("0.2222"))
            | dict(consumption_value=D("25.00"), abc_class="A"),
            # cover 100 x 7 / 3 = 233.33; cogs 3 x 1.35; inventory 203 x 1.35 / 2 = 137.025 -> 137.03 (half up);
            # turnover 3 x 2 / 203 = 0.029557 -> 0.0296. 25.00 before it = 86 % -> B
            _metric(p2, avg_daily_demand=D("0.4286"), coverage_days=D("233.33"), is_overstock=True)
            | dict(cogs=D("4.05"), avg_inventory_value=D("137.03"), turnover=D("0.0296"))
            | dict(consumption_value=D("4.05"), abc_class="B"),
            # nothing on hand, sold or held: no cover, no average inventory, no turnover
            _metric(p3, avg_daily_demand=D("0.0000"), coverage_days=None, is_overstock=False)
            | dict(cogs=D("0.00"), avg_inventory_value=None, turnover=None, consumption_value=D("0.00"))
            | dict(abc_class="C"),
            # no demand but stock on hand: overstock; held 0 units for a day: 0.00, turnover undefined
            _metric(p4, avg_daily_demand=D("0.0000"), coverage_days=None, is_overstock=True)
            | dict(cogs=D("0.00"), avg_inventory_value=D("0.00"), turnover=None, consumption_value=D("0.00"))
            | dict(abc_class="C"),
        ],
    )


def test_abc_class_boundaries(spark, dims):
    # consumption (1 day's units x cost) 70.00, 15.00, 10.00, 5.00 and 0 of 100.00, largest first:
    # 70 (nothing before: A), 15 (70 % before, crosses 80 %: A), 10 (85 % before, 95 % after: B),
    # 5 (exactly 95 % before: C), 0 (C)
    units = {(1, 10): 28, (3, 10): 15, (3, 20): 10, (1, 20): 2, (2, 20): 0}
    inputs = _metrics_inputs(
        spark,
        [stock_row(p, w, 1) for p, w in units],
        demand=[],
        fact=[(d(10), p, w, n) for (p, w), n in units.items() if n],
        recon=[],
    )
    actual = T.product_inventory_metrics(*inputs, dims[0], AS_OF, window_days=1, overstock_days=30)
    classes = {(1, 10): "A", (3, 10): "A", (3, 20): "B", (1, 20): "C", (2, 20): "C"}
    assertDataFrameEqual(
        actual.select("product_id", "warehouse_id", "abc_class"),
        spark.createDataFrame(
            [(p, w, c) for (p, w), c in classes.items()], "product_id int, warehouse_id int, abc_class string"
        ),
    )


def test_kpi_inventory_summary(spark):
    stock = frame(
        spark,
        S.OUTPUTS["current_stock"],
        [
            stock_row(1, 10, 40, stock_value=D("100.00")),
            stock_row(2, 10, 100, stock_value=D("135.00")),
            stock_row(1, 20, 0),
        ],
    )
    aging = frame(
        spark,
        S.OUTPUTS["inventory_aging"],
        [
            dict(
                product_id=1, warehouse_id=10, bucket_order=1, units=10, unit_age_days_sum=50, aging_threshold_days=90
            ),
            dict(product_id=1, warehouse_id=10, bucket_order=4, units=30, unit_age_days_sum=3000)
            | dict(aging_threshold_days=90, aged_units=30, aged_value=D("75.00")),
            dict(
                product_id=2, warehouse_id=10, bucket_order=2, units=97, unit_age_days_sum=3880, aging_threshold_days=90
            ),
            dict(product_id=2, warehouse_id=10, bucket_order=4, units=3, unit_age_days_sum=300)
            | dict(aging_threshold_days=90, aged_units=3, aged_value=D("4.05")),
        ],
    )
    metrics = frame(
        spark,
        S.OUTPUTS["product_inventory_metrics"],
        [
            dict(product_id=1, warehouse_id=10, cogs=D("25.00"), avg_inventory_value=D("112.50"))
            | dict(avg_daily_demand=D("1.3333"), is_overstock=False),
            dict(product_id=2, warehouse_id=10, cogs=D("4.05"), avg_inventory_value=D("137.03"))
            | dict(avg_daily_demand=D("0.4286"), is_overstock=True),
            dict(product_id=1, warehouse_id=20, avg_inventory_value=None, is_overstock=False),
        ],
    )
    low = frame(spark, S.OUTPUTS["low_stock_data"], [stock_row(1, 20, 0), stock_row(1, 10, 40)])
    assert_table(
        spark,
        T.kpi_inventory_summary(stock, aging, metrics, low, aging_threshold_days=90),
        "kpi_inventory_summary",
        [
            dict(
                total_units=140,
                unique_products=2,
                stock_value=D("235.00"),
                inventory_turnover=D("0.1164"),  # 29.05 / 249.53 = 0.116419
                weighted_aging_days=D("51.64"),  # (50 + 3000 + 3880 + 300) / 140 = 51.6429
                aging_units=33,
                aging_value=D("79.05"),
                avg_price_aging_stock=D("2.40"),  # 79.05 / 33 = 2.3955
                overstock_products=1,
                low_stock_products=2,
                avg_daily_demand=D("1.7619"),
            )
        ],
    )
    with pytest.raises(PySparkException, match="another threshold"):
        T.kpi_inventory_summary(stock, aging, metrics, low, aging_threshold_days=60).collect()


def test_kpi_inventory_summary_of_nothing_is_one_row_of_zeros(spark):
    empty = {name: spark.createDataFrame([], S.OUTPUTS[name]) for name in S.OUTPUTS}
    detail = [empty[t] for t in ("current_stock", "inventory_aging", "product_inventory_metrics", "low_stock_data")]
    actual = T.kpi_inventory_summary(*detail, 90)
    zero = D("0.00")
    assert_table(
        spark,
        actual,
        "kpi_inventory_summary",
        [
            dict(total_units=0, unique_products=0, stock_value=zero, inventory_turnover=None, weighted_aging_days=None)
            | dict(aging_units=0, aging_value=zero, avg_price_aging_stock=None, overstock_products=0)
            | dict(low_stock_products=0, avg_daily_demand=D("0.0000")),
        ],
    )


def test_low_stock_by_warehouse(spark):
    low = frame(
        spark,
        S.OUTPUTS["low_stock_data"],
        [
            stock_row(1, 10, 0, is_stock_out=True, suggested_order_qty=40),
            stock_row(2, 10, 3, suggested_order_qty=25),
            stock_row(1, 20, 0, is_stock_out=True, suggested_order_qty=0),
        ],
    )
    assert_table(
        spark,
        T.low_stock_by_warehouse(low),
        "low_stock_by_warehouse",
        [
            dict(warehouse_id=10, warehouse_name="Austin DC 10", location_name="Austin, TX")
            | dict(low_stock_products=2, stock_out_products=1, suggested_order_units=65),
            dict(warehouse_id=20, warehouse_name="Boston DC 20", location_name="Boston, MA")
            | dict(low_stock_products=1, stock_out_products=1, suggested_order_units=0),
        ],
    )


# ------------------------------------------------------------------------------------------------ sales dashboard


def _fact(day, product_id, warehouse_id, units, revenue, transactions=1):
    return (product_id * 100_000 + warehouse_id, d(day), product_id, warehouse_id, units, D(revenue), transactions)


def test_sales_daily_growth_on_complete_days_the_day_under_way_flagged(spark):
    """As of 00:01 on Mar 8: Mar 8 has a minute of sales; it is flagged partial and gets no growth (against all
    of Mar 7 it would read -96.88 %)."""
    fact = spark.createDataFrame(
        [
            _fact(3, 1, 10, 1, "0.00"),
            _fact(4, 1, 10, 1, "2.00"),
            _fact(6, 1, 10, 2, "10.00"),
            _fact(6, 2, 20, 1, "6.00", transactions=2),
            _fact(7, 1, 10, 3, "16.02"),
            _fact(8, 1, 10, 1, "0.50"),
        ],
        S.OUTPUTS["fact_daily_sales"],
    )

    def day(n, units, revenue, transactions, growth, complete=True):
        return dict(date_key=d(n), units=units, revenue=D(revenue), transactions=transactions) | dict(
            is_complete_day=complete, revenue_growth_pct=growth
        )

    assert_table(
        spark,
        T.sales_daily(fact, at(8, 0, 1)),
        "sales_daily",
        [
            day(3, 1, "0.00", 1, None),  # no previous day
            day(4, 1, "2.00", 1, None),  # previous revenue 0
            day(6, 3, "16.00", 3, None),  # Mar 5 had no sales
            day(7, 3, "16.02", 1, D("0.13")),  # 0.02 / 16 = 0.125 % -> 0.13 (half up)
            day(8, 1, "0.50", 1, None, complete=False),  # under way
        ],
    )
    # At exactly 00:00 of Mar 9, Mar 8 has ended: complete, with its growth (-15.52 / 16.02 = -96.879 %).
    growth = T.sales_daily(fact, at(9)).where("date_key = DATE '2026-03-08'").collect()[0]
    assert (growth.is_complete_day, growth.revenue_growth_pct) == (True, D("-96.88"))


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # Tuesday Mar 10 noon: week Mar 9..10; period Mar 4..10 = 7.00 + 16.00 + 16.00 + 15.98 = 54.98 / 7 = 7.854;
        # day on day: Mar 9 (the last complete day) against Mar 8, 16.00 each
        (AS_OF, ("31.98", 5, "7.85", "54.98", 10, d(9), "16.00", "16.00", D("0.00"))),
        # Wednesday Mar 11 00:01: Mar 11 has 2.49 so far and counts in the week and period (Mar 5..11 = 50.47 / 7
        # = 7.21), but day on day is Mar 10 against Mar 9: -0.02 / 16 = -0.125 % -> -0.13 (half up: away from
        # zero), not 2.49 against 15.98 (-84.42 %)
        (at(11, 0, 1), ("34.47", 6, "7.21", "50.47", 10, d(10), "15.98", "16.00", D("-0.13"))),
        # Saturday Mar 7 00:00: week and period Mar 1(2)..6 = 107.00 / 7 = 15.286; no sales Mar 5 or 6
        (at(7), ("107.00", 11, "15.29", "107.00", 11, d(6), "0.00", "0.00", None)),
    ],
)
def test_kpi_sales_summary_day_on_day_on_complete_days(spark, as_of, expected):
    daily = frame(
        spark,
        S.OUTPUTS["sales_daily"],
        [
            dict(date_key=d(n), revenue=D(revenue), units=units)
            for n, revenue, units in [
                (3, "100.00", 10),
                (4, "7.00", 1),
                (8, "16.00", 4),
                (9, "16.00", 2),
                (10, "15.98", 3),
                (11, "2.49", 1),  # after AS_OF's date; the day under way at Mar 11 00:01
            ]
        ],
    )
    wtd_revenue, wtd_units, avg, total_revenue, total_units, dod_day, dod_revenue, dod_previous, dod = expected
    assert_table(
        spark,
        T.kpi_sales_summary(daily, as_of, period_days=7),
        "kpi_sales_summary",
        [
            dict(wtd_revenue=D(wtd_revenue), wtd_units=wtd_units, avg_daily_sales=D(avg))
            | dict(total_revenue=D(total_revenue), total_units=total_units, dod_day=dod_day)
            | dict(dod_revenue=D(dod_revenue), dod_previous_revenue=D(dod_previous), dod_growth_pct=dod)
        ],
    )


def test_top_products_one_labelled_list_per_ranking_ties_sharing_a_rank(spark, dims):
    fact = spark.createDataFrame(
        [
            _fact(9, 1, 10, 5, "20.00"),
            _fact(10, 1, 20, 1, "4.00"),
            _fact(8, 2, 10, 10, "13.50"),
            _fact(9, 3, 10, 10, "6.00"),
            _fact(1, 3, 10, 100, "100.00"),  # before the period
            _fact(4, 4, 20, 2, "8.00"),
        ],
        S.OUTPUTS["fact_daily_sales"],
    )

    def top(ranking, rank, product_id, units, revenue):
        p = next(r for r in PRODUCT_ROWS if r[0] == product_id)
        label = {"revenue": "Top by revenue", "units": "Top by units sold"}[ranking]
        return dict(ranking=ranking, ranking_label=label, rank=rank, product_id=product_id, sku=p[1]) | dict(
            product_name=p[2], category=p[3], units=units, revenue=D(revenue)
        )

    # revenue 24.00, 13.50, 8.00, 6.00 -> products 1, 2 in the top 2; units 10, 10, 6, 2 -> products 2 and 3
    # share rank 1 and fill the top 2 (no rank 2; product 1 is 3rd).
    assert_table(
        spark,
        T.top_products(fact, dims[0], AS_OF, 7, limit=2),
        "top_products",
        [
            top("revenue", 1, 1, 6, "24.00"),
            top("revenue", 2, 2, 10, "13.50"),
            top("units", 1, 2, 10, "13.50"),
            top("units", 1, 3, 10, "6.00"),
        ],
    )


def test_sales_daily_by_warehouse(spark):
    fact = spark.createDataFrame(
        [_fact(9, 1, 10, 5, "20.00", 2), _fact(9, 2, 10, 1, "2.00"), _fact(9, 3, 20, 10, "6.00")]
        + [_fact(10, 1, 10, 1, "4.00")],
        S.OUTPUTS["fact_daily_sales"],
    )
    assert_table(
        spark,
        T.sales_daily_by_warehouse(fact),
        "sales_daily_by_warehouse",
        [
            dict(date_key=d(9), warehouse_id=10, units=6, revenue=D("22.00"), transactions=3),
            dict(date_key=d(9), warehouse_id=20, units=10, revenue=D("6.00"), transactions=1),
            dict(date_key=d(10), warehouse_id=10, units=1, revenue=D("4.00"), transactions=1),
        ],
    )


def test_sales_by_warehouse(spark, dims):
    fact = spark.createDataFrame(
        [_fact(9, 1, 10, 5, "20.00"), _fact(8, 2, 10, 10, "13.50"), _fact(1, 1, 10, 7, "28.00")],
        S.OUTPUTS["fact_daily_sales"],
    )
    assert_table(
        spark,
        T.sales_by_warehouse(fact, dims[1], dims[2], AS_OF, 7),
        "sales_by_warehouse",
        [
            dict(warehouse_id=10, warehouse_name="Austin DC 10", location_id=100, location_name="Austin, TX")
            | dict(units=15, revenue=D("33.50")),
            dict(warehouse_id=20, warehouse_name="Boston DC 20", location_id=200, location_name="Boston, MA")
            | dict(units=0, revenue=D("0.00")),  # sold nothing in the period
        ],
    )


# ------------------------------------------------------------------------------------------------ rollups


def _split(df, pair=(1, 10)):
    """(the rows of one pair, the rest): what a run that recomputed that pair and kept the rest would see."""
    mine = (df.product_id == pair[0]) & (df.warehouse_id == pair[1])
    return df.where(mine), df.where(~mine)


def test_every_rollup_table_built_from_a_split_equals_the_whole(spark, dims):
    """A table over many pairs = its rollup of the recomputed rows combined with the rollup of the kept rows.

    The pairs mode builds them that way (the kept rows' rollup comes from PostgreSQL, `Rollup.sql`; the
    integration tests hold that side to the same numbers).
    """
    products, warehouses, locations = dims
    stock = frame(
        spark,
        S.OUTPUTS["current_stock"],
        [stock_row(1, 10, 40, stock_value=D("100.00")), stock_row(2, 10, 100, stock_value=D("135.00"))]
        + [stock_row(1, 20, 0), stock_row(3, 20, 7, stock_value=D("7.00"))],
    )
    aging = frame(
        spark,
        S.OUTPUTS["inventory_aging"],
        [
            dict(product_id=1, warehouse_id=10, bucket_order=1, units=10, unit_age_days_sum=50)
            | dict(aging_threshold_days=90),
            dict(product_id=1, warehouse_id=10, bucket_order=4, units=30, unit_age_days_sum=3000)
            | dict(aging_threshold_days=90, aged_units=30, aged_value=D("75.00")),
            dict(product_id=2, warehouse_id=10, bucket_order=4, units=3, unit_age_days_sum=300)
            | dict(aging_threshold_days=90, aged_units=3, aged_value=D("4.05")),
        ],
    )
    metrics = frame(
        spark,
        S.OUTPUTS["product_inventory_metrics"],
        [
            dict(product_id=1, warehouse_id=10, cogs=D("25.00"), avg_inventory_value=D("112.50"))
            | dict(avg_daily_demand=D("1.3333"), is_overstock=False),
            dict(product_id=2, warehouse_id=10, cogs=D("4.05"), avg_inventory_value=D("137.03"))
            | dict(avg_daily_demand=D("0.4286"), is_overstock=True),
            dict(product_id=1, warehouse_id=20, avg_inventory_value=None, is_overstock=True),
        ],
    )
    low = frame(
        spark,
        S.OUTPUTS["low_stock_data"],
        [
            stock_row(1, 20, 0, is_stock_out=True, suggested_order_qty=40),
            stock_row(1, 10, 40, suggested_order_qty=5),
            stock_row(3, 20, 7, suggested_order_qty=12),
        ],
    )
    fact = spark.createDataFrame(
        [_fact(9, 1, 10, 5, "20.00", 2), _fact(10, 1, 10, 1, "4.00"), _fact(8, 2, 10, 10, "13.50", 3)]
        + [_fact(9, 3, 20, 10, "6.00"), _fact(10, 3, 20, 2, "1.20"), _fact(1, 3, 20, 100, "100.00")],
        S.OUTPUTS["fact_daily_sales"],
    )
    (stock_a, stock_b), (aging_a, aging_b), (metrics_a, metrics_b), (low_a, low_b), (fact_a, fact_b) = (
        _split(df) for df in (stock, aging, metrics, low, fact)
    )
    aged = T.aging_totals(90)
    kept = {
        "current_stock": T.STOCK_BY_PRODUCT.partial(stock_b),
        "inventory_aging": aged.partial(aging_b),
        "product_inventory_metrics": T.METRICS_TOTALS.partial(metrics_b),
        "low_stock_data": T.LOW_STOCK_TOTALS.partial(low_b),
    }
    period = T.period(AS_OF, 7)
    by_warehouse_kept = {
        "current_stock": T.STOCK_BY_WAREHOUSE.partial(stock_b),
        "inventory_aging": T.AGING_BY_WAREHOUSE.partial(aging_b),
        "product_inventory_metrics": T.METRICS_BY_WAREHOUSE.partial(metrics_b),
        "low_stock_data": T.LOW_STOCK_BY_WAREHOUSE.partial(low_b),
    }
    more = warehouses.unionByName(spark.createDataFrame([(30, "Chicago DC 30", 100, 1)], S.WAREHOUSES))
    # per warehouse, by hand: 10 holds (1, 10) 40 and (2, 10) 100 units worth 100.00 + 135.00, 30 + 3 aged units
    # worth 75.00 + 4.05, (2, 10) overstock, (1, 10) low; 20 holds (1, 20) 0 (out) and (3, 20) 7 worth 7.00,
    # (1, 20) overstock, both low; 30 holds nothing
    assert_table(
        spark,
        T.inventory_by_warehouse(stock, aging, metrics, low, more),
        "inventory_by_warehouse",
        [
            dict(warehouse_id=10, total_units=140, unique_products=2, stock_value=D("235.00"), low_stock_products=1)
            | dict(stock_out_products=0, aging_units=33, aging_value=D("79.05"), overstock_products=1),
            dict(warehouse_id=20, total_units=7, unique_products=2, stock_value=D("7.00"), low_stock_products=2)
            | dict(stock_out_products=1, aging_units=0, aging_value=D("0.00"), overstock_products=1),
            dict(warehouse_id=30, total_units=0, unique_products=0, stock_value=D("0.00"), low_stock_products=0)
            | dict(stock_out_products=0, aging_units=0, aging_value=D("0.00"), overstock_products=0),
        ],
    )
    cases = {
        "inventory_by_warehouse": (
            T.inventory_by_warehouse(stock, aging, metrics, low, more),
            T.inventory_by_warehouse(stock_a, aging_a, metrics_a, low_a, more, by_warehouse_kept),
        ),
        "sales_daily_by_warehouse": (
            T.sales_daily_by_warehouse(fact),
            T.sales_daily_by_warehouse(fact_a, T.SALES_BY_DAY_AND_WAREHOUSE.partial(fact_b)),
        ),
        "kpi_inventory_summary": (
            T.kpi_inventory_summary(stock, aging, metrics, low, 90),
            T.kpi_inventory_summary(stock_a, aging_a, metrics_a, low_a, 90, kept),
        ),
        "low_stock_by_warehouse": (
            T.low_stock_by_warehouse(low),
            T.low_stock_by_warehouse(low_a, T.LOW_STOCK_BY_WAREHOUSE.partial(low_b)),
        ),
        "sales_daily": (T.sales_daily(fact, AS_OF), T.sales_daily(fact_a, AS_OF, T.SALES_BY_DAY.partial(fact_b))),
        "top_products": (
            T.top_products(fact, products, AS_OF, 7, limit=2),
            T.top_products(fact_a, products, AS_OF, 7, limit=2, published=T.SALES_BY_PRODUCT.partial(fact_b, period)),
        ),
        "sales_by_warehouse": (
            T.sales_by_warehouse(fact, warehouses, locations, AS_OF, 7),
            T.sales_by_warehouse(
                fact_a, warehouses, locations, AS_OF, 7, published=T.SALES_BY_WAREHOUSE.partial(fact_b, period)
            ),
        ),
    }
    for name, (whole, combined) in cases.items():
        assert whole.count() > 0, name
        assertDataFrameEqual(combined, whole, rtol=0, atol=0)


def test_rollup_sql_is_the_same_aggregate(spark):
    """The SQL a rollup sends to PostgreSQL names the same columns, sums and filters as its Spark side."""
    text = T.aging_totals(90).sql("NOT (product_id, warehouse_id) IN (VALUES (1, 10))")
    assert text == (
        "SELECT sum(units) AS aging_layer_units, sum(unit_age_days_sum) AS unit_age_days_sum, "
        "sum(aged_units) AS aged_units, sum(aged_value) AS aging_value, "
        "count(*) FILTER (WHERE aging_threshold_days <> 90) AS other_thresholds "
        "FROM analytics.inventory_aging WHERE NOT (product_id, warehouse_id) IN (VALUES (1, 10))"
    )
    by_day = T.SALES_BY_DAY.sql("TRUE", (d(3), d(9)))
    assert by_day.endswith(
        "FROM analytics.fact_daily_sales WHERE (TRUE) AND date_key BETWEEN DATE '2026-03-03' AND DATE '2026-03-09' "
        "GROUP BY date_key"
    )
    assert [f.name for f in T.LOW_STOCK_BY_WAREHOUSE.schema().fields] == [
        "warehouse_id",
        "warehouse_name",
        "location_name",
        "low_stock_products",
        "stock_out_products",
        "suggested_order_units",
    ]
