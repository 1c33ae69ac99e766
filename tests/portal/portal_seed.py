"""A small, hand-made warehouse for the portal tests: master data and every analytics table the dashboards read.

The analytics tables are created from the Spark jobs' named schemas (`spark_jobs.schemas`, the columns the publish
step creates), so a renamed or dropped column breaks these tests as it would break the portal. The rows follow the
rules of docs/metrics.md closely enough for the dashboards (aging buckets add up to on-hand, low stock is at or
under the threshold, sales_by_warehouse sums fact_daily_sales over the period), and every location has different
numbers, so a figure from the wrong location shows. Product 6 is stocked and sold only in location 3.
`add_bulk_products` adds 60 products in location 1, for the stock list's pages, filters and sorts.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from db_helpers import create_published_tables
from psycopg2 import sql
from psycopg2.extras import execute_values

from include.inventory.analytics import default_settings
from include.inventory.db import transaction

AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday: week to date is Monday to Wednesday
TODAY = AS_OF.date()
THRESHOLD = 50
PERIOD_DAYS = 30
LOCATIONS = {1: "Northfield", 2: "Southport", 3: "Eastbrook"}
WAREHOUSES = {
    1: ("Northfield Central", 1),
    2: ("Northfield Depot", 1),
    3: ("Southport Main", 2),
    4: ("Southport Annex", 2),
    5: ("Eastbrook Hub", 3),
}
# id: (name, category, cost, price, lead time)
PRODUCTS = {
    1: ("Widget", "Tools", Decimal("2.50"), Decimal("4.00"), 3),
    2: ("Gadget", "Tools", Decimal("10.00"), Decimal("15.99"), 5),
    3: ("Gizmo", "Electronics", Decimal("7.25"), Decimal("12.49"), 2),
    4: ("Doohickey", "Home", Decimal("1.10"), Decimal("1.95"), 7),
    5: ("Sprocket", "Parts", Decimal("0.35"), Decimal("0.60"), 4),
    6: ("Eastbrook Exclusive Lamp", "Home", Decimal("21.00"), Decimal("34.50"), 6),
}
CENT = Decimal("0.01")


def pairs() -> list[tuple[int, int]]:
    return [(p, w) for p in PRODUCTS for w in WAREHOUSES if p != 6 or WAREHOUSES[w][1] == 3]


def quantity(p: int, w: int) -> int:
    if (p, w) in ((1, 1), (2, 3)):
        return 0  # stock-outs in two locations
    return (p * 37 + w * 11) % 140


def on_order(p: int, w: int) -> int:
    """Units on open purchase orders: none, or 40 to 120 (low pairs fully covered by them, in part, or not at all)."""
    return ((p * 13 + w * 7) % 4) * 40


def demand(p: int, w: int) -> Decimal:
    return Decimal(p + w) / 2


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def daily_units(p: int, w: int, day: date) -> int:
    return (p * 3 + w * 5 + day.toordinal()) % 9


def insert(cur, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    names = list(rows[0])
    execute_values(
        cur,
        sql.SQL("INSERT INTO analytics.{} ({}) VALUES %s")
        .format(sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)))
        .as_string(cur),
        [tuple(r[n] for n in names) for r in rows],
    )


def master_data(cur) -> None:
    for location_id, name in LOCATIONS.items():
        cur.execute(
            "INSERT INTO raw.warehouse_locations (location_id, location_name, city, country) "
            "VALUES (%s, %s, %s, 'United States')",
            (location_id, name, name),
        )
    for warehouse_id, (name, location_id) in WAREHOUSES.items():
        cur.execute(
            "INSERT INTO raw.warehouse (warehouse_id, warehouse_name, location_id, capacity) VALUES (%s, %s, %s, 5000)",
            (warehouse_id, name, location_id),
        )


def current_stock_rows() -> list[dict]:
    rows = []
    for p, w in pairs():
        name, category, cost, price, _ = PRODUCTS[p]
        q = quantity(p, w)
        rows.append(
            {
                "product_id": p,
                "sku": f"SKU-{p:05d}",
                "product_name": name,
                "category": category,
                "cost_price": cost,
                "selling_price": price,
                "warehouse_id": w,
                "warehouse_name": WAREHOUSES[w][0],
                "location_id": WAREHOUSES[w][1],
                "location_name": LOCATIONS[WAREHOUSES[w][1]],
                "quantity": q,
                "counted_at": AS_OF,
                "units_sold": 100 * p + w,
                "revenue": price * (100 * p + w),
                "stock_value": cost * q,
                "on_order_qty": on_order(p, w),
            }
        )
    return rows


def low_stock_rows(stock: list[dict], threshold: int = THRESHOLD) -> list[dict]:
    rows = []
    for s in stock:
        if s["quantity"] > threshold:
            continue
        p, w, q = s["product_id"], s["warehouse_id"], s["quantity"]
        d, lead = demand(p, w), PRODUCTS[p][4]
        rop = math.ceil(d * lead + d * 3)
        rows.append(
            {
                **s,
                "avg_daily_demand": d,
                "lead_time": lead,
                "reorder_point": rop,
                "suggested_order_qty": max(0, math.ceil(rop + d * 30 - q - s["on_order_qty"])),
                "days_of_cover": money(Decimal(q) / d),
                "is_stock_out": q == 0,
            }
        )
    return rows


BUCKETS = ((1, "0-30 Days", 10), (2, "31-60 Days", 45), (3, "61-90 Days", 75), (4, "90+ Days", 120))


def aging_rows(stock: list[dict]) -> list[dict]:
    rows = []
    for s in stock:
        q, cost = s["quantity"], s["cost_price"]
        split = [q // 2, q // 4, q // 8]
        split.append(q - sum(split))
        for (order, bucket, age), units in zip(BUCKETS, split, strict=True):
            aged = units if order == 4 else 0
            rows.append(
                {
                    "product_id": s["product_id"],
                    "warehouse_id": s["warehouse_id"],
                    "sku": s["sku"],
                    "product_name": s["product_name"],
                    "bucket": bucket,
                    "bucket_order": order,
                    "units": units,
                    "value": cost * units,
                    "unit_age_days_sum": units * age,
                    "aging_threshold_days": 90,
                    "aged_units": aged,
                    "aged_value": cost * aged,
                }
            )
    return rows


def fact_daily_sales_rows(days: int = 40) -> list[dict]:
    rows = []
    for p, w in pairs():
        price = PRODUCTS[p][3]
        for i in range(days):
            day = TODAY - timedelta(days=i)
            units = daily_units(p, w, day)
            if units:
                rows.append(
                    {
                        "date_key": day,
                        "product_id": p,
                        "warehouse_id": w,
                        "units": units,
                        "revenue": price * units,
                        "transactions": max(1, units // 2),
                    }
                )
    return rows


def metrics_rows(stock: list[dict], sales: list[dict]) -> list[dict]:
    first = TODAY - timedelta(days=PERIOD_DAYS - 1)
    rows = []
    for s in stock:
        p, w, q, cost = s["product_id"], s["warehouse_id"], s["quantity"], s["cost_price"]
        d = demand(p, w)
        sold = sum(
            r["units"] for r in sales if (r["product_id"], r["warehouse_id"]) == (p, w) and r["date_key"] >= first
        )
        cogs = cost * sold
        avg_value = money(cost * (q + 40))
        rows.append(
            {
                "product_id": p,
                "warehouse_id": w,
                "sku": s["sku"],
                "product_name": s["product_name"],
                "category": s["category"],
                "warehouse_name": s["warehouse_name"],
                "on_hand": q,
                "stock_value": s["stock_value"],
                "avg_daily_demand": d,
                "coverage_days": money(Decimal(q) / d),
                "is_overstock": Decimal(q) / d > 90,
                "cogs": cogs,
                "avg_inventory_value": avg_value,
                "turnover": (cogs / avg_value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
                "consumption_value": cogs,
                "abc_class": "A" if p <= 2 else "C",
            }
        )
    return rows


def reconciliation_rows(days: int = 20) -> list[dict]:
    rows = []
    for p, w in pairs():
        name, _, cost, _, _ = PRODUCTS[p]
        for i in range(days):
            day = TODAY - timedelta(days=i + 1)
            opening, sold, received = 100, daily_units(p, w, day), (20 if i % 6 == 0 else 0)
            expected = opening + received - sold
            lost = (p + w + i) % 3 + 1 if (p + w + i) % 5 == 0 else 0
            rows.append(
                {
                    "date_key": day,
                    "sku": f"SKU-{p:05d}",
                    "product_id": p,
                    "warehouse_id": w,
                    "product_name": name,
                    "opening_stock": opening,
                    "quantity_sold": sold,
                    "quantity_received": received,
                    "expected_closing_stock": expected,
                    "actual_closing_stock": expected - lost,
                    "discrepancy_amount": -lost,
                    "discrepancy_value": cost * -lost,
                }
            )
    return rows


def low_stock_by_warehouse_rows(low: list[dict]) -> list[dict]:
    out: dict[int, dict] = {}
    for r in low:
        row = out.setdefault(
            r["warehouse_id"],
            {
                "warehouse_id": r["warehouse_id"],
                "warehouse_name": r["warehouse_name"],
                "location_name": r["location_name"],
                "low_stock_products": 0,
                "stock_out_products": 0,
                "suggested_order_units": 0,
            },
        )
        row["low_stock_products"] += 1
        row["stock_out_products"] += int(r["is_stock_out"])
        row["suggested_order_units"] += r["suggested_order_qty"]
    return list(out.values())


def sales_by_warehouse_rows(sales: list[dict]) -> list[dict]:
    first = TODAY - timedelta(days=PERIOD_DAYS - 1)
    rows = []
    for w, (name, location_id) in WAREHOUSES.items():
        mine = [r for r in sales if r["warehouse_id"] == w and first <= r["date_key"] <= TODAY]
        rows.append(
            {
                "warehouse_id": w,
                "warehouse_name": name,
                "location_id": location_id,
                "location_name": LOCATIONS[location_id],
                "units": sum(r["units"] for r in mine),
                "revenue": sum((r["revenue"] for r in mine), Decimal("0.00")),
            }
        )
    return rows


def dim_products_rows() -> list[dict]:
    return [
        {
            "product_id": p,
            "sku": f"SKU-{p:05d}",
            "product_name": name,
            "category": category,
            "brand": None,
            "unit": "pcs",
            "cost_price": cost,
            "selling_price": price,
            "lead_time": lead,
        }
        for p, (name, category, cost, price, lead) in PRODUCTS.items()
    ]


# The run's settings, as the publish step records them (include/inventory/analytics.py, PLAN_SETTINGS).
SETTINGS = {
    **default_settings(),
    "low_stock_threshold": THRESHOLD,
    "aging_threshold_days": 90,
    "period_days": PERIOD_DAYS,
}


def publish(cur, as_of: datetime = AS_OF, run_id: str = "seed", settings: dict | None = SETTINGS) -> int:
    cur.execute(
        "INSERT INTO analytics.publish_log (run_id, as_of, tables, settings) VALUES (%s, %s, %s, %s) "
        "RETURNING publish_id",
        (run_id, as_of, json.dumps({}), json.dumps(settings) if settings is not None else None),
    )
    return cur.fetchone()[0]


BULK = range(100, 160)  # the ids of add_bulk_products


def bulk_pair(p: int) -> tuple[int, int, int]:
    """(warehouse, quantity, category index) of bulk product p: every kind of row, deterministic."""
    i = p - 100
    return (1 if i % 2 == 0 else 2), (0 if i % 11 == 0 else (i * 29) % 400), i % 3


def add_bulk_products(conn) -> None:
    """60 products in Northfield: stock-outs, low stock, overstock, aging units, pairs without a metrics row."""
    categories = ("Bulk", "Tools", "Garden")
    products, stock, metrics, low, aging = [], [], [], [], []
    for p in BULK:
        w, q, c = bulk_pair(p)
        name, sku, cost = f"Bulk Item {p - 99:02d}", f"BLK-{p:04d}", Decimal(p) / 20
        products.append(
            {
                "product_id": p,
                "sku": sku,
                "product_name": name,
                "category": categories[c],
                "brand": None,
                "unit": "pcs",
                "cost_price": cost,
                "selling_price": cost * 2,
                "lead_time": 4,
            }
        )
        row = {
            "product_id": p,
            "sku": sku,
            "product_name": name,
            "category": categories[c],
            "cost_price": cost,
            "selling_price": cost * 2,
            "warehouse_id": w,
            "warehouse_name": WAREHOUSES[w][0],
            "location_id": 1,
            "location_name": "Northfield",
            "quantity": q,
            "counted_at": AS_OF,
            "units_sold": 0,
            "revenue": Decimal("0.00"),
            "stock_value": cost * q,
            "on_order_qty": 30 if p % 4 == 1 else 0,
        }
        stock.append(row)
        demand = Decimal(p % 7)
        if p % 5:  # every fifth pair has no metrics row (as when the publish has not reached it)
            metrics.append(
                {
                    "product_id": p,
                    "warehouse_id": w,
                    "sku": sku,
                    "product_name": name,
                    "category": categories[c],
                    "warehouse_name": row["warehouse_name"],
                    "on_hand": q,
                    "stock_value": row["stock_value"],
                    "avg_daily_demand": demand,
                    "coverage_days": money(Decimal(q) / demand) if demand else None,
                    "is_overstock": (Decimal(q) / demand > 90) if demand else q > 0,
                    "cogs": Decimal("0.00"),
                    "avg_inventory_value": None,
                    "turnover": None,
                    "consumption_value": Decimal("0.00"),
                    "abc_class": "C",
                }
            )
        if q <= THRESHOLD:
            low.append(
                {
                    **row,
                    "avg_daily_demand": demand,
                    "lead_time": 4,
                    "reorder_point": int(demand * 7),
                    "suggested_order_qty": max(0, int(demand * 37) - q - row["on_order_qty"]),
                    "days_of_cover": money(Decimal(q) / demand) if demand else None,
                    "is_stock_out": q == 0,
                }
            )
        if p % 4 == 0 and q:
            aging.append(
                {
                    "product_id": p,
                    "warehouse_id": w,
                    "sku": sku,
                    "product_name": name,
                    "bucket": "90+ Days",
                    "bucket_order": 4,
                    "units": q,
                    "value": cost * q,
                    "unit_age_days_sum": q * 120,
                    "aging_threshold_days": 90,
                    "aged_units": q,
                    "aged_value": cost * q,
                }
            )
    with transaction(conn) as cur:
        insert(cur, "dim_products", products)
        insert(cur, "current_stock", stock)
        insert(cur, "product_inventory_metrics", metrics)
        insert(cur, "low_stock_data", low)
        insert(cur, "inventory_aging", aging)


def seed_all(conn) -> None:
    """Master data, every analytics table and one publish_log row, in one transaction."""
    stock = current_stock_rows()
    low = low_stock_rows(stock)
    sales = fact_daily_sales_rows()
    with transaction(conn) as cur:
        master_data(cur)
        create_published_tables(cur)
        insert(cur, "dim_products", dim_products_rows())
        insert(cur, "current_stock", stock)
        insert(cur, "low_stock_data", low)
        insert(cur, "inventory_aging", aging_rows(stock))
        insert(cur, "fact_daily_sales", sales)
        insert(cur, "product_inventory_metrics", metrics_rows(stock, sales))
        insert(cur, "fact_inventory_reconciliation", reconciliation_rows())
        insert(cur, "low_stock_by_warehouse", low_stock_by_warehouse_rows(low))
        insert(cur, "sales_by_warehouse", sales_by_warehouse_rows(sales))
        publish(cur)
