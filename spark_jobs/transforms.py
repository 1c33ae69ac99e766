"""Pure transforms for the analytics layer: DataFrames in, one DataFrame out, no I/O and no SparkSession.

Conventions shared by every function (docs/metrics.md describes each output column):

- `as_of` is a timezone-aware datetime; only events at or before it count. A day is a UTC calendar date,
  computed from the instant itself, so the result does not depend on the session time zone.
- Money is decimal throughout, never double. A ratio is computed from exact (unrounded) operands with integer
  arithmetic and rounded once, half up: Spark's own decimal division rounds at 6+ places first, and rounding
  that again to the cent can be off by one (0.0049996 -> 0.005000 -> 0.01).
- Every output is selected through its schema in `spark_jobs.schemas.OUTPUTS`, so names, order and types
  cannot drift from what tests and the publish step expect.
- Every table built per product x warehouse is a function of that pair's rows alone ("pair-local"): run on the
  rows of a few pairs, a transform gives exactly those pairs' rows of the whole table. The tables that sum over
  many pairs are declared as `Rollup`s (sums and counts by keys), so they can also be built from the partial
  sums of disjoint sets of rows: the rows a run recomputed and the published rows it left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, StructField, StructType

from spark_jobs.schemas import MONEY, OUTPUTS, UNITS

PAIR = ["product_id", "warehouse_id"]
MICROS_PER_DAY = 86_400_000_000
AGING_BUCKETS = (("0-30 Days", 1), ("31-60 Days", 2), ("61-90 Days", 3), ("90+ Days", 4))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WHOLE = DecimalType(38, 0)  # exact integer arithmetic beyond the range of a long


# ------------------------------------------------------------------------------------------------ helpers


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"as_of must be timezone-aware, got {moment!r}")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _instant(moment: datetime) -> Column:
    """A timestamp literal built from epoch microseconds: exact, and independent of the session time zone."""
    return F.timestamp_micros(F.lit(_micros(moment)))


def _utc_date(moment: datetime) -> date:
    _micros(moment)  # validates
    return moment.astimezone(UTC).date()


def _last_day(as_of: datetime) -> date:
    """The last day with any time before as_of: as_of's date, or the day before when as_of is exactly midnight."""
    return _utc_date(as_of - timedelta(microseconds=1))


def period(as_of: datetime, days: int) -> tuple[date, date]:
    """The `days` calendar days ending with the last day as_of reaches into (that day included, even if partial).

    An as_of of exactly 00:00 ends the previous day: the new day has no time in the period yet.
    """
    if days < 1:
        raise ValueError(f"a period needs at least one day, got {days}")
    last = _last_day(as_of)
    return last - timedelta(days=days - 1), last


def _midnight(day: date) -> Column:
    return _instant(datetime.combine(day, time(), UTC))


def _floor_div(num: Column, den: Column) -> Column:
    """floor(num / den) for whole numbers, den > 0, exactly: the dividend is made a multiple first."""
    n, d = num.cast(_WHOLE), den.cast(_WHOLE)
    return ((n - F.pmod(n, d)) / d).cast(_WHOLE)


def _ceil_div(num: Column, den: Column) -> Column:
    return -_floor_div(-num.cast(_WHOLE), den)


def _day_of(micros: Column) -> Column:
    """The UTC date of an instant given as epoch microseconds."""
    return F.date_from_unix_date(_floor_div(micros, F.lit(MICROS_PER_DAY)).cast("int"))


def _utc_day(ts: Column) -> Column:
    return _day_of(F.unix_micros(ts))


def _first_midnight_day(ts: Column) -> Column:
    """The date whose 00:00 UTC is the first midnight at or after ts."""
    return F.date_add(_day_of(F.unix_micros(ts) - 1), 1)


def _cents(money: Column) -> Column:
    return (money * 100).cast(_WHOLE)


def _ratio(num: Column, den: Column, scale: int) -> Column:
    """num / den rounded half up (away from zero) to `scale` places; null when den is 0 or null.

    num and den must be whole numbers (pass cents for money). Integer arithmetic: one rounding, exact.
    """
    n, d = num.cast(_WHOLE), den.cast(_WHOLE)
    safe_d = F.when(d == 0, F.lit(1).cast(_WHOLE)).otherwise(F.abs(d))
    magnitude = _floor_div(F.abs(n) * (2 * 10**scale) + safe_d, safe_d * 2)
    signed = F.when((n < 0) != (d < 0), -magnitude).otherwise(magnitude)
    return F.when(d != 0, (signed / 10**scale).cast(DecimalType(38, scale)))


PAIR_KEY_RADIX = 100_000  # pair_key = product_id x PAIR_KEY_RADIX + warehouse_id; warehouse ids stay below it


def pair_key(product_id: Column, warehouse_id: Column) -> Column:
    """The single-column key of a product x warehouse pair: product_id x 100000 + warehouse_id (bigint).

    A function of the two ids alone, so every build (full, window, pairs) gives a pair the same key, and distinct
    pairs distinct keys: the query fails rather than key a warehouse id outside [0, 100000).
    """
    return F.when(
        (warehouse_id >= 0) & (warehouse_id < PAIR_KEY_RADIX),
        product_id.cast("bigint") * PAIR_KEY_RADIX + warehouse_id,
    ).otherwise(F.raise_error(F.lit(f"pair_key: warehouse_id outside [0, {PAIR_KEY_RADIX})")))


def _conform(df: DataFrame, table: str) -> DataFrame:
    """The output table's columns, in its order, cast to its types; `pair_key` derived from the pair's ids."""
    if "pair_key" in OUTPUTS[table].fieldNames() and "pair_key" not in df.columns:
        df = df.withColumn("pair_key", pair_key(F.col("product_id"), F.col("warehouse_id")))
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in OUTPUTS[table].fields])


def _sum_or_zero(column: str | Column) -> Column:
    return F.coalesce(F.sum(column), F.lit(0))


def complete_days(as_of: datetime, days: int) -> tuple[date, date]:
    """The `days` whole UTC days that ended at or before as_of: the last one is the day before as_of's date.

    A window of complete days changes only at midnight, never minute by minute, and never compares a partial
    day with whole ones.
    """
    if days < 1:
        raise ValueError(f"a window needs at least one day, got {days}")
    last = _utc_date(as_of) - timedelta(days=1)
    return last - timedelta(days=days - 1), last


# ------------------------------------------------------------------------------------------------ rollups


@dataclass(frozen=True)
class Measure:
    """One additive column of a rollup: a sum of a column, a count of rows, or a count of rows meeting a test."""

    name: str
    kind: str  # sum | count | count_true (a boolean column) | count_ne (column <> value)
    column: str | None = None
    dtype: DataType = UNITS
    value: int | None = None

    def spark(self) -> Column:
        if self.kind == "sum":
            return F.sum(self.column)
        if self.kind == "count":
            return F.count(F.lit(1))
        if self.kind == "count_true":
            return F.count(F.when(F.col(self.column), 1))
        if self.kind == "count_ne":
            return F.count(F.when(F.col(self.column) != F.lit(self.value), 1))
        raise ValueError(f"unknown measure kind {self.kind!r}")

    def sql(self) -> str:
        """The same aggregate in PostgreSQL (names are ours, never user text; the value is an int)."""
        if self.kind == "sum":
            return f"sum({self.column})"
        if self.kind == "count":
            return "count(*)"
        if self.kind == "count_true":
            return f"count(*) FILTER (WHERE {self.column})"
        if self.kind == "count_ne":
            return f"count(*) FILTER (WHERE {self.column} <> {int(self.value)})"
        raise ValueError(f"unknown measure kind {self.kind!r}")


@dataclass(frozen=True)
class Rollup:
    """An aggregate of a detail table's rows by keys, optionally over a range of days of its `date_key`.

    Every measure is a sum or a count, so the rollup of a table equals the combined rollups of any split of its
    rows. An incremental run uses that: PostgreSQL rolls up the published rows the run leaves as they are
    (`sql`), Spark rolls up the rows the run recomputed (`partial`), and `combine` adds the two, which gives the
    same numbers as rolling up the whole new table, without reading it.
    """

    source: str  # the published table (and transform output) whose rows are rolled up
    keys: tuple[str, ...]
    measures: tuple[Measure, ...]

    def schema(self) -> StructType:
        fields = {f.name: f for f in OUTPUTS[self.source].fields}
        return StructType(
            [StructField(k, fields[k].dataType, True) for k in self.keys]
            + [StructField(m.name, m.dtype, True) for m in self.measures]
        )

    def partial(self, rows: DataFrame, days: tuple[date, date] | None = None) -> DataFrame:
        if days is not None:
            rows = rows.where(F.col("date_key").between(F.lit(days[0]), F.lit(days[1])))
        rolled = rows.groupBy(*self.keys).agg(*[m.spark().alias(m.name) for m in self.measures])
        return rolled.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in self.schema().fields])

    def sql(self, where: str = "TRUE", days: tuple[date, date] | None = None) -> str:
        """The rollup of `analytics.<source>` rows matching `where` (SQL from our own code, never user text)."""
        if days is not None:
            where = f"({where}) AND date_key BETWEEN DATE '{days[0].isoformat()}' AND DATE '{days[1].isoformat()}'"
        select = [*self.keys, *[f"{m.sql()} AS {m.name}" for m in self.measures]]
        group = f" GROUP BY {', '.join(self.keys)}" if self.keys else ""
        return f"SELECT {', '.join(select)} FROM analytics.{self.source} WHERE {where}{group}"

    def combine(self, partial: DataFrame, published: DataFrame | None = None) -> DataFrame:
        """partial + published partials (None: the partial is the whole rollup)."""
        if published is None:
            return partial
        both = partial.unionByName(published.select(*partial.columns))
        return both.groupBy(*self.keys).agg(*[F.sum(m.name).alias(m.name) for m in self.measures])


# ------------------------------------------------------------------------------------------------ stock


def first_counts(counts: DataFrame, as_of: datetime) -> DataFrame:
    """product_id, warehouse_id, counted_at of each pair's earliest count at or before as_of (its opening stock)."""
    return (
        counts.where(F.col("counted_at") <= _instant(as_of)).groupBy(*PAIR).agg(F.min("counted_at").alias("counted_at"))
    )


def on_order(orders: DataFrame, receipts: DataFrame, as_of: datetime) -> DataFrame:
    """Units on open purchase orders per pair: placed at or before as_of and not received at or before it.

    An order is received by its stock receipt (`order_id`; one receipt per order). The simulator's own open
    orders (`simulation.load_states`) follow the same rule. Pairs with no open order have no row.
    """
    cutoff = _instant(as_of)
    received = receipts.where(F.col("received_at") <= cutoff).select("order_id")
    open_orders = orders.where(F.col("ordered_at") <= cutoff).join(received, "order_id", "left_anti")
    return _conform(open_orders.groupBy(*PAIR).agg(F.sum("quantity").alias("on_order_qty")), "on_order")


def current_stock(
    counts: DataFrame,
    products: DataFrame,
    warehouses: DataFrame,
    locations: DataFrame,
    sales: DataFrame,
    on_order_df: DataFrame,
    as_of: datetime,
) -> DataFrame:
    """Each counted product x warehouse: its latest count at or before as_of, lifetime sales, stock value and the
    units on its open purchase orders (`on_order`'s rows; 0 when it has none)."""
    cutoff = _instant(as_of)
    latest = (
        counts.where(F.col("counted_at") <= cutoff)
        .groupBy(*PAIR)
        # Two counts at the same instant hold the same quantity (count types differ only), so any will do.
        .agg(F.max_by("quantity", "counted_at").alias("quantity"), F.max("counted_at").alias("counted_at"))
    )
    sold = (
        sales.where(F.col("sale_date") <= cutoff)
        .groupBy(*PAIR)
        .agg(F.sum("units_sold").alias("units_sold"), F.sum("total_revenue").alias("revenue"))
    )
    stock = (
        latest.join(
            products.select("product_id", "sku", "product_name", "category", "cost_price", "selling_price"),
            "product_id",
        )
        .join(warehouses.select("warehouse_id", "warehouse_name", "location_id"), "warehouse_id")
        .join(locations.select("location_id", "location_name"), "location_id")
        .join(sold, PAIR, "left")
        .withColumn("units_sold", F.coalesce("units_sold", F.lit(0)))
        .withColumn("revenue", F.coalesce("revenue", F.lit(0)))
        .withColumn("stock_value", F.col("quantity") * F.col("cost_price"))
        .join(on_order_df.select(*PAIR, "on_order_qty"), PAIR, "left")
        .withColumn("on_order_qty", F.coalesce("on_order_qty", F.lit(0)))
    )
    return _conform(stock, "current_stock")


def average_daily_demand(sales: DataFrame, as_of: datetime, window_days: int) -> DataFrame:
    """Units sold per day over the `window_days` complete UTC days before as_of's date; pairs with a sale in them.

    Complete days only (`complete_days`): the rate changes once a day, at midnight, and a morning's few sales
    never dilute it. `window_units` and `window_days` travel with the rate so that reorder points and cover are
    computed from the exact fraction, not from the rate rounded to 4 places (ceil(6.6667 * 3) is 21,
    ceil(20 / 3 * 3) is 20).
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    first, last = complete_days(as_of, window_days)
    demand = (
        sales.where(_utc_day(F.col("sale_date")).between(F.lit(first), F.lit(last)))
        .groupBy(*PAIR)
        .agg(F.sum("units_sold").alias("window_units"))
        .withColumn("window_days", F.lit(window_days))
        .withColumn("avg_daily_demand", _ratio(F.col("window_units"), F.lit(window_days), 4))
    )
    return _conform(demand, "average_daily_demand")


def _with_demand(stock: DataFrame, demand: DataFrame) -> DataFrame:
    """Left-join the demand; a pair without a row sold nothing in the window (rate 0)."""
    return (
        stock.join(
            demand.select(*PAIR, "avg_daily_demand", "window_units", F.col("window_days").alias("demand_days")),
            PAIR,
            "left",
        )
        .withColumn("avg_daily_demand", F.coalesce("avg_daily_demand", F.lit(0)))
        .withColumn("window_units", F.coalesce("window_units", F.lit(0)))
        .withColumn("demand_days", F.coalesce("demand_days", F.lit(1)))
    )


def low_stock_data(
    current_stock: DataFrame,
    demand: DataFrame,
    products: DataFrame,
    threshold: int,
    safety_days: int = 3,
    cover_days: int = 30,
) -> DataFrame:
    """Pairs at or under the threshold, with their reorder point and an order that covers `cover_days` more.

    With demand d = window_units / window_days: reorder_point = ceil(d * (lead_time + safety_days)) and
    suggested_order_qty = max(0, reorder_point + ceil(d * cover_days) - quantity - on_order_qty), which equals
    ceil(reorder_point + d * cover_days - quantity - on_order_qty) because the others are whole: the order
    net of what is already on open purchase orders, so following it never orders the same units twice. A pair
    whose open orders cover it stays listed (its stock is low) with nothing more to order.
    """
    units, days, quantity = F.col("window_units"), F.col("demand_days"), F.col("quantity")
    position = quantity + F.col("on_order_qty")  # on hand + on order
    low = (
        _with_demand(current_stock.where(quantity <= threshold), demand)
        .join(products.select("product_id", "lead_time"), "product_id")
        .withColumn("reorder_point", _ceil_div(units * (F.col("lead_time") + safety_days), days))
        .withColumn(
            "suggested_order_qty",
            F.greatest(F.lit(0), F.col("reorder_point") + _ceil_div(units * cover_days, days) - position),
        )
        .withColumn("days_of_cover", _ratio(quantity * days, units, 2))
        .withColumn("is_stock_out", quantity == 0)
    )
    return _conform(low, "low_stock_data")


def inventory_aging(
    current_stock: DataFrame,
    receipts: DataFrame,
    first_counts: DataFrame,
    as_of: datetime,
    aging_threshold_days: int = 90,
) -> DataFrame:
    """On-hand units by age bucket, FIFO: stock leaves oldest first, so what is left is the newest receipts.

    Walking a pair's receipts (received_at <= as_of) newest first, each holds min(its quantity, on-hand units
    not yet attributed to a newer one); whatever no receipt covers is opening stock, dated by the pair's first
    count (by its latest count if first_counts lacks the pair). Every pair gets all four buckets, and its units
    over them add up to its on-hand quantity. aged_units / aged_value: units older than aging_threshold_days.
    A layer's age is in calendar days: as_of's UTC date minus the UTC date it arrived, so ages move on at
    midnight (as stock ledgers count them), not at the minute of the day each receipt happened to arrive.
    """
    stock = current_stock.select(
        *PAIR, "sku", "product_name", "cost_price", F.col("quantity").alias("on_hand"), "counted_at"
    )
    receipt_layers = receipts.where(F.col("received_at") <= _instant(as_of)).select(
        *PAIR, F.col("received_at").alias("layer_at"), F.col("quantity").alias("layer_units"), "order_id"
    )
    # The opening stock is one more layer, older than every receipt and as large as the on-hand quantity, so
    # the same walk gives it exactly what the receipts leave uncovered.
    opening_layers = stock.join(first_counts.select(*PAIR, F.col("counted_at").alias("first_at")), PAIR, "left").select(
        *PAIR,
        F.coalesce("first_at", "counted_at").alias("layer_at"),
        F.col("on_hand").alias("layer_units"),
        F.lit(None).cast("string").alias("order_id"),
    )
    newer_first = Window.partitionBy(*PAIR).orderBy(
        F.col("order_id").isNull(), F.col("layer_at").desc(), F.col("order_id").desc()
    )
    newer_units = F.coalesce(
        F.sum("layer_units").over(newer_first.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0)
    )
    age = F.datediff(F.lit(_utc_date(as_of)), _utc_day(F.col("layer_at")))
    layers = (
        receipt_layers.unionByName(opening_layers)
        .join(stock.select(*PAIR, "on_hand"), PAIR)
        .select(
            *PAIR,
            F.greatest(F.lit(0), F.least(F.col("layer_units"), F.col("on_hand") - newer_units)).alias("units"),
            age.alias("age"),
        )
        .where(F.col("units") > 0)
    )
    bucket_order = F.when(F.col("age") <= 30, 1).when(F.col("age") <= 60, 2).when(F.col("age") <= 90, 3).otherwise(4)
    by_bucket = layers.groupBy(*PAIR, bucket_order.alias("bucket_order")).agg(
        F.sum("units").alias("units"),
        F.sum(F.col("units") * F.col("age")).alias("unit_age_days_sum"),
        F.sum(F.when(F.col("age") > aging_threshold_days, F.col("units")).otherwise(0)).alias("aged_units"),
    )
    buckets = F.array(
        *[F.struct(F.lit(label).alias("bucket"), F.lit(order).alias("bucket_order")) for label, order in AGING_BUCKETS]
    )
    units, aged_units = F.coalesce("units", F.lit(0)), F.coalesce("aged_units", F.lit(0))
    aging = (
        stock.select(*PAIR, "sku", "product_name", "cost_price", F.inline(buckets))
        .join(by_bucket, [*PAIR, "bucket_order"], "left")
        .select(
            *PAIR,
            "sku",
            "product_name",
            "bucket",
            "bucket_order",
            units.alias("units"),
            (units * F.col("cost_price")).alias("value"),
            F.coalesce("unit_age_days_sum", F.lit(0)).alias("unit_age_days_sum"),
            F.lit(aging_threshold_days).alias("aging_threshold_days"),
            aged_units.alias("aged_units"),
            (aged_units * F.col("cost_price")).alias("aged_value"),
        )
    )
    return _conform(aging, "inventory_aging")


# Fixed price bands on selling_price: (label, order, lower bound inclusive); a band runs up to the next bound.
PRICE_BANDS = (
    ("Under 10", 1, 0),
    ("10 to 49.99", 2, 10),
    ("50 to 199.99", 3, 50),
    ("200 to 999.99", 4, 200),
    ("1000 and over", 5, 1000),
)


def _abc_class(value: str, order: list[Column]) -> Column:
    """The ABC class of each row by `value` over all rows: ranked largest first (ties by `order`), a row is A
    while the share of the rows before it is under 80 % (so the row crossing 80 % is A), B while under 95 %,
    else C; all C when the total is 0."""
    ranked = Window.orderBy(F.col(value).desc(), *order)
    before = F.coalesce(F.sum(value).over(ranked.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0))
    total = F.sum(value).over(Window.partitionBy())
    return (
        F.when(total <= 0, "C").when(before * 100 < total * 80, "A").when(before * 100 < total * 95, "B").otherwise("C")
    )


def dim_products(products: DataFrame, product_suppliers: DataFrame, demand: DataFrame) -> DataFrame:
    """The product dimension: raw.products as loaded, its price band, its primary supplier and its ABC class.

    Primary supplier: the product's `raw.product_suppliers` link with is_primary (the lowest id if several; null
    without one). ABC class: products (over all warehouses) by consumption value, units sold on the demand
    window's complete days (`average_daily_demand`) x cost_price, by the rule of `product_inventory_metrics`
    (ties by product_id). Complete days only, so the class moves at midnight, never minute by minute.
    """
    price = F.col("selling_price")
    band, order = F.lit(PRICE_BANDS[0][0]), F.lit(PRICE_BANDS[0][1])
    for label, rank, lower in PRICE_BANDS[1:]:
        band = F.when(price >= lower, F.lit(label)).otherwise(band)
        order = F.when(price >= lower, F.lit(rank)).otherwise(order)
    primary = (
        product_suppliers.where(F.col("is_primary"))
        .groupBy("product_id")
        .agg(F.min("supplier_id").alias("primary_supplier_id"))
    )
    sold = demand.groupBy("product_id").agg(F.sum("window_units").alias("window_units"))
    dim = (
        products.join(primary, "product_id", "left")
        .join(sold, "product_id", "left")
        .withColumn("price_band", band)
        .withColumn("price_band_order", order)
        .withColumn("consumption_value", F.coalesce("window_units", F.lit(0)) * F.col("cost_price"))
        .withColumn("abc_class", _abc_class("consumption_value", [F.col("product_id")]))
    )
    return _conform(dim, "dim_products")


def dim_date(first_counts: DataFrame, first_sale: DataFrame, as_of: datetime) -> DataFrame:
    """One row per UTC day from the first day in the data (first count or sale) through as_of's date.

    "Today" is the last day as_of reaches into (`period`: the dashboards' today, as in kpi_sales_summary), which
    week/month to date run through; as_of's own date is never a complete day; days_ago counts from as_of's date.
    """
    as_of_date, today = _utc_date(as_of), _last_day(as_of)
    monday, first_of_month = today - timedelta(days=today.weekday()), today.replace(day=1)
    first = (
        first_counts.select(F.col("counted_at").alias("at"))
        .unionByName(first_sale.select(F.col("sale_date").alias("at")))
        .where(F.col("at") <= _instant(as_of))
        .agg(F.min("at").alias("at"))
        .where(F.col("at").isNotNull())
    )
    day = F.col("date_key")
    iso_dow = F.pmod(F.dayofweek(day) + 5, 7) + 1  # Monday 1 .. Sunday 7 (Spark's dayofweek: Sunday 1)
    days = first.select(F.explode(F.sequence(_utc_day(F.col("at")), F.lit(as_of_date))).alias("date_key")).select(
        day,
        F.year(day).alias("year"),
        F.quarter(day).alias("quarter"),
        F.month(day).alias("month"),
        F.date_format(day, "MMMM").alias("month_name"),
        F.dayofmonth(day).alias("day_of_month"),
        F.year(F.date_add(day, 4 - iso_dow)).alias("iso_year"),  # the year of the week's Thursday
        F.weekofyear(day).alias("iso_week"),
        iso_dow.alias("iso_day_of_week"),
        F.date_format(day, "EEEE").alias("day_name"),
        (iso_dow >= 6).alias("is_weekend"),
        F.date_sub(day, iso_dow - 1).alias("week_start"),
        day.between(F.lit(monday), F.lit(today)).alias("is_week_to_date"),
        day.between(F.lit(first_of_month), F.lit(today)).alias("is_month_to_date"),
        (day < F.lit(as_of_date)).alias("is_complete_day"),
        F.datediff(F.lit(as_of_date), day).alias("days_ago"),
    )
    return _conform(days, "dim_date")


# US states by census region (the Census Bureau's four regions); `region` below.
_US_REGIONS = {
    "Northeast": "CT ME MA NH RI VT NJ NY PA",
    "Midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
    "South": "DE DC FL GA MD NC SC VA WV AL KY MS TN AR LA OK TX",
    "West": "AZ CO ID MT NV NM UT WY AK CA HI OR WA",
}


def _region(state: Column, country: Column) -> Column:
    """A location's region: in the United States its state's census region (other US codes, territories among
    them: "US Other"); elsewhere the country."""
    of_state = F.create_map(
        *[F.lit(v) for region, states in _US_REGIONS.items() for code in states.split() for v in (code, region)]
    )
    us = F.coalesce(of_state[F.upper(F.trim(state))], F.lit("US Other"))
    return F.when(country == "United States", us).otherwise(country)


def dim_location(locations: DataFrame) -> DataFrame:
    """raw.warehouse_locations with a region (`_region`)."""
    return _conform(locations.withColumn("region", _region(F.col("state"), F.col("country"))), "dim_location")


def dim_warehouse(warehouses: DataFrame, locations: DataFrame) -> DataFrame:
    """raw.warehouse with its location's name, city, state, country and region."""
    return _conform(warehouses.join(dim_location(locations), "location_id"), "dim_warehouse")


def dim_supplier(suppliers: DataFrame) -> DataFrame:
    """raw.suppliers: id, name, country (no contact email or phone: personal data stays out of BI)."""
    return _conform(suppliers, "dim_supplier")


def dim_stock_item(products: DataFrame, warehouses: DataFrame, locations: DataFrame) -> DataFrame:
    """Every product x warehouse pair (whether or not it was ever counted or sold), keyed by `pair_key`: the pair
    dimension every table at pair grain relates to through one column. Master data only, so every build agrees."""
    items = (
        products.select("product_id", "sku", "product_name")
        .crossJoin(warehouses.select("warehouse_id", "warehouse_name", "location_id"))
        .join(locations.select("location_id", "location_name"), "location_id")
    )
    return _conform(items, "dim_stock_item")


# ------------------------------------------------------------------------------------------------ daily facts


def fact_daily_sales(sales: DataFrame, as_of: datetime, from_date: date | None = None) -> DataFrame:
    """Sales per UTC day x product x warehouse (days with sales only), sales at or before as_of."""
    rows = sales.where(F.col("sale_date") <= _instant(as_of))
    if from_date is not None:
        rows = rows.where(F.col("sale_date") >= _midnight(from_date))
    daily = rows.groupBy(_utc_day(F.col("sale_date")).alias("date_key"), *PAIR).agg(
        F.sum("units_sold").alias("units"),
        F.sum("total_revenue").alias("revenue"),
        F.sum("transactions").alias("transactions"),  # a row may stand for several lines (schemas.SALES)
    )
    return _conform(daily, "fact_daily_sales")


def fact_inventory_reconciliation(
    counts: DataFrame,
    sales: DataFrame,
    receipts: DataFrame,
    products: DataFrame,
    as_of: datetime,
    from_date: date | None = None,
) -> DataFrame:
    """Per UTC day x pair: the counted stock against what sales and receipts say it should be.

    A count at t includes every event strictly before t (the simulator writes it at the end of [start, end)).
    So for day D with close = min(D+1 00:00, as_of): opening = latest count <= D 00:00, closing = latest count
    <= close, flows = events with D 00:00 <= time < close: a flow at a boundary is counted exactly once.
    Days run from the first one whose opening exists through the last one with time before as_of.
    """
    cutoff = _instant(as_of)
    last_day = _last_day(as_of)
    counted = counts.where(F.col("counted_at") <= cutoff).select(*PAIR, "quantity", "counted_at")
    pairs = counted.groupBy(*PAIR).agg(_first_midnight_day(F.min("counted_at")).alias("start"))
    if from_date is not None:
        pairs = pairs.withColumn("start", F.greatest("start", F.lit(from_date)))
    pairs = pairs.where(F.col("start") <= F.lit(last_day))

    # The stock at midnight M is the latest count at or before M. Key each count by the first midnight at or
    # after it (earlier counts by the start), keep the latest per key, and carry it forward over the midnights.
    keyed = (
        counted.join(pairs, PAIR)
        .withColumn("day", F.greatest(_first_midnight_day(F.col("counted_at")), F.col("start")))
        .groupBy(*PAIR, "day")
        .agg(F.max_by("quantity", "counted_at").alias("counted"))
    )
    by_day = Window.partitionBy(*PAIR).orderBy("day")
    # Midnight last_day + 1 stands for the close of the last day: every count kept is at or before as_of.
    midnights = pairs.select(*PAIR, F.explode(F.sequence("start", F.lit(last_day + timedelta(days=1)))).alias("day"))
    levels = (
        midnights.join(keyed, [*PAIR, "day"], "left")
        .withColumn(
            "opening_stock", F.last("counted", ignorenulls=True).over(by_day.rowsBetween(Window.unboundedPreceding, 0))
        )
        .withColumn("actual_closing_stock", F.lead("opening_stock").over(by_day))
        .where(F.col("day") <= F.lit(last_day))
    )

    def daily_flow(events: DataFrame, at: str, units: str, name: str) -> DataFrame:
        rows = events.where(F.col(at) < cutoff)
        if from_date is not None:
            rows = rows.where(F.col(at) >= _midnight(from_date))
        return rows.groupBy(*PAIR, _utc_day(F.col(at)).alias("day")).agg(F.sum(units).alias(name))

    recon = (
        levels.join(daily_flow(sales, "sale_date", "units_sold", "quantity_sold"), [*PAIR, "day"], "left")
        .join(daily_flow(receipts, "received_at", "quantity", "quantity_received"), [*PAIR, "day"], "left")
        .join(products.select("product_id", "sku", "product_name", "cost_price"), "product_id")
        .withColumn("date_key", F.col("day"))
        .withColumn("quantity_sold", F.coalesce("quantity_sold", F.lit(0)))
        .withColumn("quantity_received", F.coalesce("quantity_received", F.lit(0)))
        .withColumn(
            "expected_closing_stock",
            F.col("opening_stock") + F.col("quantity_received") - F.col("quantity_sold"),
        )
        .withColumn("discrepancy_amount", F.col("actual_closing_stock") - F.col("expected_closing_stock"))
        .withColumn("discrepancy_value", F.col("discrepancy_amount") * F.col("cost_price"))
    )
    return _conform(recon, "fact_inventory_reconciliation")


# ------------------------------------------------------------------------------------------------ inventory dashboard


def product_inventory_metrics(
    current_stock: DataFrame,
    demand: DataFrame,
    fact_daily_sales_df: DataFrame,
    reconciliation: DataFrame,
    products: DataFrame,
    as_of: datetime,
    window_days: int,
    overstock_days: int,
    classify: bool = True,
) -> DataFrame:
    """Per pair: cover, overstock, COGS, average inventory, turnover and ABC class over the window.

    The ABC class ranks every pair against all the others (`with_abc_class`); with classify=False it is left
    null, for a run that recomputes a few pairs and ranks them together with the published rest.

    The window is the `window_days` calendar days ending with as_of's date (the daily tables' grain); the demand
    rate is the rolling one from `average_daily_demand`.
    """
    first_day, last_day = period(as_of, window_days)
    in_window = F.col("date_key").between(F.lit(first_day), F.lit(last_day))
    sold = fact_daily_sales_df.where(in_window).groupBy(*PAIR).agg(F.sum("units").alias("window_sold"))
    held = (
        reconciliation.where(in_window)
        .groupBy(*PAIR)
        .agg(F.sum("actual_closing_stock").alias("closing_sum"), F.count(F.lit(1)).alias("held_days"))
    )
    on_hand, units, days = F.col("on_hand"), F.col("window_units"), F.col("demand_days")
    pairs = (
        _with_demand(
            current_stock.select(
                *PAIR, "sku", "product_name", "warehouse_name", F.col("quantity").alias("on_hand"), "stock_value"
            ),
            demand,
        )
        .join(products.select("product_id", "category", "cost_price"), "product_id")
        .join(sold, PAIR, "left")
        .join(held, PAIR, "left")
        .withColumn("window_sold", F.coalesce("window_sold", F.lit(0)))
        .withColumn("coverage_days", _ratio(on_hand * days, units, 2))
        .withColumn(
            "is_overstock",
            F.when(units > 0, on_hand * days > units * overstock_days).otherwise(on_hand > 0),
        )
        .withColumn("cogs", F.col("window_sold") * F.col("cost_price"))
        .withColumn("consumption_value", F.col("cogs"))
        .withColumn(
            "avg_inventory_value",
            _ratio(F.col("closing_sum") * _cents(F.col("cost_price")), F.col("held_days") * 100, 2),
        )
        # cogs / average inventory; the cost price cancels, leaving units sold x days / unit-days held.
        .withColumn("turnover", _ratio(F.col("window_sold") * F.col("held_days"), F.col("closing_sum"), 4))
    )
    if not classify:
        return _conform(pairs.withColumn("abc_class", F.lit(None).cast("string")), "product_inventory_metrics")
    return with_abc_class(pairs)


def with_abc_class(metrics: DataFrame) -> DataFrame:
    """product_inventory_metrics rows with `abc_class` (re)computed over all of them: a global ranking.

    Rows by consumption value, largest first (ties by key). A row is A while the share of the rows before it is
    under 80 % (so the row crossing 80 % is A), B while under 95 %, else C.
    """
    classed = metrics.withColumn("abc_class", _abc_class("consumption_value", [F.col(c) for c in PAIR]))
    return _conform(classed, "product_inventory_metrics")


STOCK_BY_PRODUCT = Rollup(
    "current_stock",
    ("product_id",),
    (Measure("total_units", "sum", "quantity"), Measure("stock_value", "sum", "stock_value", MONEY)),
)
METRICS_TOTALS = Rollup(
    "product_inventory_metrics",
    (),
    (
        Measure("cogs", "sum", "cogs", MONEY),
        Measure("avg_inventory_value", "sum", "avg_inventory_value", MONEY),
        Measure("overstock_products", "count_true", "is_overstock"),
        Measure("avg_daily_demand", "sum", "avg_daily_demand", DecimalType(38, 4)),
    ),
)
LOW_STOCK_TOTALS = Rollup("low_stock_data", (), (Measure("low_stock_products", "count"),))


def aging_totals(aging_threshold_days: int) -> Rollup:
    """The aging sums of kpi_inventory_summary; `other_thresholds` counts rows aged against another threshold."""
    return Rollup(
        "inventory_aging",
        (),
        (
            Measure("aging_layer_units", "sum", "units"),
            Measure("unit_age_days_sum", "sum", "unit_age_days_sum"),
            Measure("aged_units", "sum", "aged_units"),
            Measure("aging_value", "sum", "aged_value", MONEY),
            Measure("other_thresholds", "count_ne", "aging_threshold_days", value=aging_threshold_days),
        ),
    )


def kpi_inventory_summary(
    current_stock: DataFrame,
    aging: DataFrame,
    metrics: DataFrame,
    low_stock_df: DataFrame,
    aging_threshold_days: int,
    published: dict[str, DataFrame] | None = None,
) -> DataFrame:
    """One row of inventory KPIs, each an aggregate of the published detail tables' columns.

    aging_threshold_days must be the one inventory_aging was given (its aged_* columns hold the split); the
    query fails rather than report aged units against another threshold. `published`: the rollups of the
    published rows a run leaves unchanged, by the rollup's source table (see `Rollup`).
    """
    published = published or {}
    aging_rollup = aging_totals(aging_threshold_days)

    def rolled(rollup: Rollup, rows: DataFrame) -> DataFrame:
        return rollup.combine(rollup.partial(rows), published.get(rollup.source))

    stock = rolled(STOCK_BY_PRODUCT, current_stock).agg(
        _sum_or_zero("total_units").alias("total_units"),
        F.count(F.lit(1)).alias("unique_products"),
        _sum_or_zero("stock_value").alias("stock_value"),
    )
    aged = rolled(aging_rollup, aging).select(
        *[F.coalesce(m.name, F.lit(0)).alias(m.name) for m in aging_rollup.measures]
    )
    summed = rolled(METRICS_TOTALS, metrics).select(
        *[F.coalesce(m.name, F.lit(0)).alias(m.name) for m in METRICS_TOTALS.measures]
    )
    low = rolled(LOW_STOCK_TOTALS, low_stock_df).select(
        F.coalesce("low_stock_products", F.lit(0)).alias("low_stock_products")
    )
    kpi = (
        stock.crossJoin(aged)
        .crossJoin(summed)
        .crossJoin(low)
        .withColumn(
            "aging_units",
            F.when(
                F.col("other_thresholds") > 0,
                F.raise_error(F.lit(f"inventory_aging was computed for another threshold than {aging_threshold_days}")),
            ).otherwise(F.col("aged_units")),
        )
        .withColumn("inventory_turnover", _ratio(_cents(F.col("cogs")), _cents(F.col("avg_inventory_value")), 4))
        .withColumn("weighted_aging_days", _ratio(F.col("unit_age_days_sum"), F.col("aging_layer_units"), 2))
        .withColumn("avg_price_aging_stock", _ratio(_cents(F.col("aging_value")), F.col("aging_units") * 100, 2))
    )
    return _conform(kpi, "kpi_inventory_summary")


LOW_STOCK_BY_WAREHOUSE = Rollup(
    "low_stock_data",
    ("warehouse_id", "warehouse_name", "location_name"),
    (
        Measure("low_stock_products", "count"),
        Measure("stock_out_products", "count_true", "is_stock_out"),
        Measure("suggested_order_units", "sum", "suggested_order_qty"),
    ),
)


def low_stock_by_warehouse(low_stock_df: DataFrame, published: DataFrame | None = None) -> DataFrame:
    """Low-stock pairs per warehouse: how many, how many are out, and the units the suggested orders add up to."""
    rolled = LOW_STOCK_BY_WAREHOUSE.combine(LOW_STOCK_BY_WAREHOUSE.partial(low_stock_df), published)
    return _conform(rolled, "low_stock_by_warehouse")


STOCK_BY_WAREHOUSE = Rollup(
    "current_stock",
    ("warehouse_id",),
    (
        Measure("total_units", "sum", "quantity"),
        Measure("unique_products", "count"),  # one row per pair: the warehouse's products
        Measure("stock_value", "sum", "stock_value", MONEY),
    ),
)
AGING_BY_WAREHOUSE = Rollup(
    "inventory_aging",
    ("warehouse_id",),
    (Measure("aging_units", "sum", "aged_units"), Measure("aging_value", "sum", "aged_value", MONEY)),
)
METRICS_BY_WAREHOUSE = Rollup(
    "product_inventory_metrics", ("warehouse_id",), (Measure("overstock_products", "count_true", "is_overstock"),)
)


def inventory_by_warehouse(
    current_stock: DataFrame,
    aging: DataFrame,
    metrics: DataFrame,
    low_stock_df: DataFrame,
    warehouses: DataFrame,
    published: dict[str, DataFrame] | None = None,
) -> DataFrame:
    """kpi_inventory_summary's additive figures per warehouse, every warehouse (0 when it holds nothing).

    `published`: the rollups of the published rows a run leaves unchanged, by source table (for low_stock_data:
    LOW_STOCK_BY_WAREHOUSE's).
    """
    published = published or {}

    def rolled(rollup: Rollup, rows: DataFrame, measures: tuple[str, ...]) -> DataFrame:
        both = rollup.combine(rollup.partial(rows), published.get(rollup.source))
        return both.groupBy("warehouse_id").agg(*[F.sum(m).alias(m) for m in measures])

    parts = [
        rolled(STOCK_BY_WAREHOUSE, current_stock, ("total_units", "unique_products", "stock_value")),
        rolled(AGING_BY_WAREHOUSE, aging, ("aging_units", "aging_value")),
        rolled(METRICS_BY_WAREHOUSE, metrics, ("overstock_products",)),
        rolled(LOW_STOCK_BY_WAREHOUSE, low_stock_df, ("low_stock_products", "stock_out_products")),
    ]
    by_warehouse = warehouses.select("warehouse_id")
    for part in parts:
        by_warehouse = by_warehouse.join(part, "warehouse_id", "left")
    figures = [f.name for f in OUTPUTS["inventory_by_warehouse"].fields if f.name != "warehouse_id"]
    return _conform(
        by_warehouse.select("warehouse_id", *[F.coalesce(c, F.lit(0)).alias(c) for c in figures]),
        "inventory_by_warehouse",
    )


# ------------------------------------------------------------------------------------------------ sales dashboard


def _growth_pct(current: Column, previous: Column) -> Column:
    """(current - previous) / previous x 100, to the hundredth of a percent; null when previous is 0 or null."""
    return _ratio(_cents(current - previous) * 100, _cents(previous), 2)


SALES_BY_DAY = Rollup(
    "fact_daily_sales",
    ("date_key",),
    (
        Measure("units", "sum", "units"),
        Measure("revenue", "sum", "revenue", MONEY),
        Measure("transactions", "sum", "transactions"),
    ),
)
_UNITS_AND_REVENUE = (Measure("units", "sum", "units"), Measure("revenue", "sum", "revenue", MONEY))
SALES_BY_PRODUCT = Rollup("fact_daily_sales", ("product_id",), _UNITS_AND_REVENUE)
SALES_BY_WAREHOUSE = Rollup("fact_daily_sales", ("warehouse_id",), _UNITS_AND_REVENUE)


SALES_BY_DAY_AND_WAREHOUSE = Rollup("fact_daily_sales", ("date_key", "warehouse_id"), SALES_BY_DAY.measures)


def sales_daily_by_warehouse(fact_daily_sales_df: DataFrame, published: DataFrame | None = None) -> DataFrame:
    """Sales per day x warehouse (days with sales): fact_daily_sales summed over the warehouse's products."""
    rolled = SALES_BY_DAY_AND_WAREHOUSE.combine(SALES_BY_DAY_AND_WAREHOUSE.partial(fact_daily_sales_df), published)
    return _conform(rolled, "sales_daily_by_warehouse")


def sales_daily(fact_daily_sales_df: DataFrame, as_of: datetime, published: DataFrame | None = None) -> DataFrame:
    """Sales per day; `is_complete_day` is false for as_of's own date (a day still under way, "so far").

    Revenue growth compares a complete day with the calendar day before it (null when that day had no sales);
    the partial day has none: a morning's sales against a whole day would read as a collapse.
    """
    daily = SALES_BY_DAY.combine(SALES_BY_DAY.partial(fact_daily_sales_df), published)
    previous = daily.select(F.date_add("date_key", 1).alias("date_key"), F.col("revenue").alias("previous_revenue"))
    complete = F.col("date_key") < F.lit(_utc_date(as_of))
    with_growth = (
        daily.join(previous, "date_key", "left")
        .withColumn("is_complete_day", complete)
        .withColumn("revenue_growth_pct", F.when(complete, _growth_pct(F.col("revenue"), F.col("previous_revenue"))))
    )
    return _conform(with_growth, "sales_daily")


def kpi_sales_summary(sales_daily_df: DataFrame, as_of: datetime, period_days: int) -> DataFrame:
    """One row: week to date (ISO week, Monday to as_of's date), the period's totals and average, and day on day.

    Day on day compares the last complete day (`dod_day`, the day before as_of's date) with the day before it,
    never the day under way: just after midnight that would set a few minutes against a whole day.
    """
    first_day, today = period(as_of, period_days)
    monday = today - timedelta(days=today.weekday())
    dod_previous_day, dod_day = complete_days(as_of, 2)
    day = F.col("date_key")

    def total(column: str, since: date, until: date = today) -> Column:
        return _sum_or_zero(F.when(day.between(F.lit(since), F.lit(until)), F.col(column)))

    kpi = (
        sales_daily_df.agg(
            total("revenue", monday).alias("wtd_revenue"),
            total("units", monday).alias("wtd_units"),
            total("revenue", first_day).alias("total_revenue"),
            total("units", first_day).alias("total_units"),
            total("revenue", dod_day, dod_day).alias("dod_revenue"),
            total("revenue", dod_previous_day, dod_previous_day).alias("dod_previous_revenue"),
        )
        .withColumn("avg_daily_sales", _ratio(_cents(F.col("total_revenue")), F.lit(period_days * 100), 2))
        .withColumn("dod_day", F.lit(dod_day))
        .withColumn("dod_growth_pct", _growth_pct(F.col("dod_revenue"), F.col("dod_previous_revenue")))
    )
    return _conform(kpi, "kpi_sales_summary")


# The lists of top_products: (ranking, its label, the measure it ranks by).
TOP_RANKINGS = (("revenue", "Top by revenue", "revenue"), ("units", "Top by units sold", "units"))


def top_products(
    fact_daily_sales_df: DataFrame,
    products: DataFrame,
    as_of: datetime,
    period_days: int,
    limit: int = 20,
    published: DataFrame | None = None,
) -> DataFrame:
    """Two labelled lists over the period, one row per (ranking, rank, product): the top `limit` products by
    revenue, and the top `limit` by units. Each list ranks one way: RANK() on its measure, descending, so ties
    share a rank (the next is skipped) and every product tied at rank `limit` is listed; key order breaks ties
    for display only.

    `published`: SALES_BY_PRODUCT of the published fact rows over the period that the run leaves as they are.
    """
    days = period(as_of, period_days)
    sold = SALES_BY_PRODUCT.combine(SALES_BY_PRODUCT.partial(fact_daily_sales_df, days), published).join(
        products.select("product_id", "sku", "product_name", "category"), "product_id"
    )
    lists = [
        sold.withColumn("ranking", F.lit(ranking))
        .withColumn("ranking_label", F.lit(label))
        .withColumn("rank", F.rank().over(Window.orderBy(F.col(measure).desc())))
        .where(F.col("rank") <= limit)
        for ranking, label, measure in TOP_RANKINGS
    ]
    return _conform(lists[0].unionByName(lists[1]), "top_products")


def sales_by_warehouse(
    fact_daily_sales_df: DataFrame,
    warehouses: DataFrame,
    locations: DataFrame,
    as_of: datetime,
    period_days: int,
    published: DataFrame | None = None,
) -> DataFrame:
    """Every warehouse's units and revenue over the period (0 when it sold nothing)."""
    days = period(as_of, period_days)
    sold = SALES_BY_WAREHOUSE.combine(SALES_BY_WAREHOUSE.partial(fact_daily_sales_df, days), published)
    by_warehouse = (
        warehouses.select("warehouse_id", "warehouse_name", "location_id")
        .join(locations.select("location_id", "location_name"), "location_id")
        .join(sold, "warehouse_id", "left")
        .withColumn("units", F.coalesce("units", F.lit(0)))
        .withColumn("revenue", F.coalesce("revenue", F.lit(0)))
    )
    return _conform(by_warehouse, "sales_by_warehouse")
