"""What the dashboards show, read from the `analytics` tables as the read-only role, scoped to one location.

A dashboard is read in one read-only REPEATABLE READ transaction, so every number on the page comes from the same
publish. Its first query, as the portal's own user, finds the warehouses of the manager's location
(`raw.warehouse`, master data); then `SET LOCAL ROLE bi_reader` and every other query reads `analytics` only,
restricted to those warehouse ids. The SQL is in sql/portal/ (one file per block of the page); the KPI formulas
are those of docs/metrics.md, computed over the location's warehouses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg2.extensions import cursor as PgCursor

from include.inventory.db import load_sql
from include.portal import stock
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER
from include.portal.db import set_local_role
from include.portal.stock import StockQuery

INVENTORY_TABLES = (
    "current_stock",
    "low_stock_data",
    "inventory_aging",
    "fact_inventory_reconciliation",
    "product_inventory_metrics",
    "low_stock_by_warehouse",
    "fact_daily_sales",
    "dim_products",
)
SALES_TABLES = ("fact_daily_sales", "dim_products", "sales_by_warehouse")
STOCK_LIST_TABLES = ("current_stock", "product_inventory_metrics", "low_stock_data", "inventory_aging")
LOW_STOCK_ROWS = 200
DISCREPANCY_ROWS = 100
RECONCILIATION_DAYS = 14
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Scope:
    location_id: int
    location_name: str
    warehouses: dict[int, str]  # id -> name, ordered by name

    @property
    def warehouse_ids(self) -> list[int]:
        return list(self.warehouses)


@dataclass(frozen=True)
class Watermark:
    publish_id: int
    as_of: datetime
    published_at: datetime
    settings: dict[str, Any] | None = None  # the run's settings (analytics.publish_log.settings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "publish_id": self.publish_id,
            "as_of": self.as_of.isoformat(),
            "published_at": self.published_at.isoformat(),
            "settings": self.settings,
        }


@dataclass(frozen=True)
class Thresholds:
    """The settings the published numbers were computed with (`analytics.publish_log.settings`, written by the
    publish step from the run's plan), for labels that say them: "older than 90 days". None: not recorded (a
    publish from before they were), and the label says "the threshold" instead."""

    low_stock_units: int | None = None
    aging_days: int | None = None
    overstock_days: int | None = None
    demand_window_days: int | None = None

    @classmethod
    def of(cls, watermark: Watermark | None) -> Thresholds:
        settings = (watermark.settings if watermark else None) or {}

        def number(name: str) -> int | None:
            value = settings.get(name)
            return int(value) if isinstance(value, int | float | str) and str(value).lstrip("-").isdigit() else None

        return cls(
            number("low_stock_threshold"),
            number("aging_threshold_days"),
            number("overstock_days"),
            number("demand_window_days"),
        )

    @property
    def aged(self) -> str:
        return f"older than {self.aging_days} days" if self.aging_days is not None else "older than the aging threshold"

    @property
    def low(self) -> str:
        units = self.low_stock_units
        return f"at or under {units} units" if units is not None else "at or under the low-stock threshold"

    @property
    def overstock(self) -> str:
        days = self.overstock_days
        return f"more than {days} days of cover" if days is not None else "more cover than the overstock limit"

    @property
    def demand(self) -> str:
        days = self.demand_window_days
        return f"average of the last {days} complete days" if days is not None else "average over the demand window"


def scope_of(cur: PgCursor, location_id: int) -> Scope:
    """The location and its warehouses (master data, read as the portal's user: bi_reader cannot read raw)."""
    cur.execute(
        "SELECT l.location_name, w.warehouse_id, w.warehouse_name FROM raw.warehouse_locations l "
        "LEFT JOIN raw.warehouse w USING (location_id) WHERE l.location_id = %s ORDER BY w.warehouse_name",
        (location_id,),
    )
    rows = cur.fetchall()
    if not rows:
        raise LookupError(f"location {location_id} does not exist")
    return Scope(location_id, rows[0][0], {r[1]: r[2] for r in rows if r[1] is not None})


def read_watermark(cur: PgCursor) -> Watermark | None:
    cur.execute(load_sql("portal/watermark.sql"))
    row = cur.fetchone()
    return Watermark(*row) if row else None


def missing_tables(cur: PgCursor, tables: tuple[str, ...]) -> list[str]:
    cur.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(format('analytics.%%I', t)) IS NULL ORDER BY t",
        (list(tables),),
    )
    return [r[0] for r in cur.fetchall()]


def _rows(cur: PgCursor, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(load_sql(f"portal/{name}.sql"), params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def last_day(as_of: datetime) -> date:
    """The last UTC day as_of reaches into: as_of's date, or the day before when as_of is exactly 00:00
    (the transforms' rule for "today", docs/metrics.md)."""
    return (as_of.astimezone(UTC) - timedelta(microseconds=1)).date()


def sales_period(as_of: datetime, period_days: int) -> dict[str, date]:
    """The days the sales figures cover: the period and week up to `today` (last_day, possibly under way), and the
    two complete days day-on-day growth compares (`dod_day`: the day before as_of's date; transforms.complete_days)."""
    today = last_day(as_of)
    dod_day = as_of.astimezone(UTC).date() - timedelta(days=1)
    return {
        "today": today,
        "dod_day": dod_day,
        "dod_previous_day": dod_day - timedelta(days=1),
        "monday": today - timedelta(days=today.weekday()),
        "first_day": today - timedelta(days=period_days - 1),
    }


def top_list(rows: list[dict[str, Any]], ranking: str) -> list[dict[str, Any]]:
    """One labelled list of top_products' rows ('revenue' or 'units'), in rank order."""
    return [r for r in rows if r["ranking"] == ranking]


def inventory_data(
    cur: PgCursor, scope: Scope, as_of: datetime, period_days: int, stock_query: StockQuery
) -> dict[str, Any]:
    stock_query.check_scope(scope.warehouse_ids)
    p: dict[str, Any] = {"warehouse_ids": scope.warehouse_ids}
    low = _rows(cur, "low_stock", {**p, "limit": LOW_STOCK_ROWS})
    discrepancies = _rows(
        cur, "reconciliation_discrepancies", {**p, "days": RECONCILIATION_DAYS, "limit": DISCREPANCY_ROWS}
    )
    for row in discrepancies:
        row["warehouse_name"] = scope.warehouses.get(row["warehouse_id"], str(row["warehouse_id"]))
    period = sales_period(as_of, period_days)
    sales_p = {**p, "period_days": period_days, **period}
    return {
        "kpis": _rows(cur, "inventory_kpis", p)[0],
        "warehouses": _rows(cur, "stock_by_warehouse", p),
        "stock": stock.stock_page(cur, stock_query, scope.warehouse_ids),
        "categories": stock.categories(cur, scope.warehouse_ids),
        "low_stock": {"rows": low, "total": low[0]["total"] if low else 0},
        "aging": _rows(cur, "aging_buckets", p),
        "reconciliation_days": _rows(cur, "reconciliation_days", {**p, "days": RECONCILIATION_DAYS}),
        "discrepancies": {"rows": discrepancies, "total": discrepancies[0]["total"] if discrepancies else 0},
        "reconciliation_window_days": RECONCILIATION_DAYS,
        "stock_trend": _rows(cur, "stock_trend", {**p, "days": period_days}),
        "sales_trend": _rows(cur, "sales_trend", sales_p),
        "top_products": _rows(cur, "top_products", {**sales_p, "limit": TOP_PRODUCTS}),
        "period": {**period, "days": period_days},
    }


def sales_data(cur: PgCursor, scope: Scope, as_of: datetime, period_days: int) -> dict[str, Any]:
    period = sales_period(as_of, period_days)
    p: dict[str, Any] = {"warehouse_ids": scope.warehouse_ids, "period_days": period_days, **period}
    return {
        "kpis": _rows(cur, "sales_kpis", p)[0],
        "trend": _rows(cur, "sales_trend", p),
        "top_products": _rows(cur, "top_products", {**p, "limit": TOP_PRODUCTS}),
        "warehouses": _rows(cur, "sales_by_warehouse", p),
        "period": {**period, "days": period_days},
    }


def read_dashboard(
    cur: PgCursor,
    role: str,
    location_id: int,
    read_role: str,
    period_days: int,
    stock_query: StockQuery | None = None,
) -> dict[str, Any]:
    """Everything one manager's dashboard shows. `ready` is False until the tables it reads have been published.
    `stock_query`: the inventory page's stock list (search, filters, sort, page); the default list without it.

    Call it in a read-only transaction (`Database.transaction(read_only=True)`): it switches the transaction to
    `read_role` after reading the scope.
    """
    scope = scope_of(cur, location_id)
    set_local_role(cur, read_role)
    watermark = read_watermark(cur)
    tables = INVENTORY_TABLES if role == INVENTORY_MANAGER else SALES_TABLES
    missing = missing_tables(cur, tables)
    result: dict[str, Any] = {
        "kind": "inventory" if role == INVENTORY_MANAGER else "sales",
        "scope": scope,
        "watermark": watermark,
        "thresholds": Thresholds.of(watermark),
        "ready": watermark is not None and not missing,
        "missing_tables": missing,
    }
    if not result["ready"]:
        return result
    if role == INVENTORY_MANAGER:
        result.update(inventory_data(cur, scope, watermark.as_of, period_days, stock_query or StockQuery()))
    elif role == STORE_MANAGER:
        result.update(sales_data(cur, scope, watermark.as_of, period_days))
    else:
        raise ValueError(f"unknown role {role!r}")
    return result


def read_stock_export(
    cur: PgCursor, location_id: int, read_role: str, stock_query: StockQuery
) -> tuple[Scope, Watermark, list[dict[str, Any]]]:
    """Every row of the stock list as filtered and sorted (all pages), as of one publish: the CSV export. Raises
    LookupError while the stock tables are not published."""
    scope = scope_of(cur, location_id)
    stock_query.check_scope(scope.warehouse_ids)
    set_local_role(cur, read_role)
    watermark = read_watermark(cur)
    missing = missing_tables(cur, STOCK_LIST_TABLES)
    if watermark is None or missing:
        waiting = f" (waiting for: {', '.join(missing)})" if missing else ""
        raise LookupError(f"The stock list has not been published yet{waiting}.")
    return scope, watermark, stock.stock_rows(cur, stock_query, scope.warehouse_ids)


def jsonable(value: Any) -> Any:
    """The dashboard as JSON: money and ratios as exact decimal strings, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Scope):
        return {
            "location_id": value.location_id,
            "location_name": value.location_name,
            "warehouses": [{"warehouse_id": k, "warehouse_name": v} for k, v in value.warehouses.items()],
        }
    if isinstance(value, Watermark):
        return value.as_dict()
    if isinstance(value, Thresholds | StockQuery):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def chart_data(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The series the page's charts draw (numbers as JSON numbers; the tables beside them show exact values)."""
    if not dashboard.get("ready"):
        return {}
    if dashboard["kind"] == "inventory":
        return {
            "stock_by_warehouse": {
                "labels": [w["warehouse_name"] for w in dashboard["warehouses"]],
                "stock_value": [_num(w["stock_value"]) for w in dashboard["warehouses"]],
                "low_stock": [_num(w["low_stock_products"]) for w in dashboard["warehouses"]],
                "stock_out": [_num(w["stock_out_products"]) for w in dashboard["warehouses"]],
            },
            "aging": {
                "labels": [b["bucket"] for b in dashboard["aging"]],
                "units": [_num(b["units"]) for b in dashboard["aging"]],
                "value": [_num(b["value"]) for b in dashboard["aging"]],
            },
            "reconciliation": {
                "labels": [d["date_key"].isoformat() for d in dashboard["reconciliation_days"]],
                "discrepancy_value": [_num(d["discrepancy_value"]) for d in dashboard["reconciliation_days"]],
                "discrepancy_amount": [_num(d["discrepancy_amount"]) for d in dashboard["reconciliation_days"]],
            },
            "stock_trend": {
                "labels": [d["date_key"].isoformat() for d in dashboard["stock_trend"]],
                "stock_value": [_num(d["stock_value"]) for d in dashboard["stock_trend"]],
                "stock_outs": [_num(d["stock_outs"]) for d in dashboard["stock_trend"]],
            },
            **_sales_charts(dashboard["sales_trend"], dashboard["top_products"]),
        }
    return {
        **_sales_charts(dashboard["trend"], dashboard["top_products"]),
        "sales_by_warehouse": {
            "labels": [w["warehouse_name"] for w in dashboard["warehouses"]],
            "revenue": [_num(w["revenue"]) for w in dashboard["warehouses"]],
        },
    }


def _sales_charts(trend: list[dict[str, Any]], top: list[dict[str, Any]]) -> dict[str, Any]:
    # The day under way is left out of the chart (its few hours would read as a collapse); the table shows it,
    # marked "so far".
    complete = [d for d in trend if d["is_complete_day"]]
    by_revenue = top_list(top, "revenue")
    return {
        "trend": {
            "labels": [d["date_key"].isoformat() for d in complete],
            "revenue": [_num(d["revenue"]) for d in complete],
            "units": [_num(d["units"]) for d in complete],
        },
        "top_products": {
            "labels": [p["product_name"] for p in by_revenue],
            "revenue": [_num(p["revenue"]) for p in by_revenue],
        },
    }
