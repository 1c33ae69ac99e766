"""The inventory manager's stock list: search, filters, sort and paging, done by PostgreSQL
(sql/portal/stock_list.sql), and its CSV export.

A `StockQuery` is what the request asked for, checked: `StockQuery.parse` takes the query string and raises
`InvalidStockQuery` (a message that says what was wrong) for anything outside the allowlists: an unknown sort
column or status, a warehouse that is not one of the manager's, a page that is not a positive number. Values reach
the SQL as bound parameters; the ORDER BY is composed from `SORTS` with `psycopg2.sql.Identifier`, so no text of
the request becomes SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from psycopg2 import sql
from psycopg2.extensions import cursor as PgCursor

from include.inventory.alerts import messages
from include.inventory.db import load_sql

# sort key (as in the URL) -> (column of stock_list.sql, its label)
SORTS: dict[str, tuple[str, str]] = {
    "product": ("product_name", "Product"),
    "sku": ("sku", "SKU"),
    "category": ("category", "Category"),
    "warehouse": ("warehouse_name", "Warehouse"),
    "on_hand": ("quantity", "On hand"),
    "value": ("stock_value", "Stock value"),
    "demand": ("avg_daily_demand", "Daily demand"),
    "cover": ("coverage_days", "Days of cover"),
    "aged": ("aged_units", "Aging units"),
    "on_order": ("on_order_qty", "On order"),
    "order": ("suggested_order_qty", "Suggested order"),
    "status": ("status_rank", "Status"),
}
# After the chosen column, rows are ordered by these, so every page is the same on every request.
TIE_BREAKERS = ("product_name", "warehouse_name", "product_id", "warehouse_id")
STATUSES = {
    "all": "All stock",
    "low": "Low on stock (incl. out of stock)",
    "out": "Out of stock",
    "overstock": "Overstocked",
    "aging": "Has aging units",
}
STATUS_NAMES = {0: "Out of stock", 1: "Low", 2: "OK", 3: "Overstock"}
PAGE_SIZES = (25, 50, 100, 200)
DEFAULTS = {"q": "", "warehouse": None, "category": "", "status": "all", "sort": "product", "dir": "asc", "page": 1}
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH = 100
ANCHOR = "stock"


class InvalidStockQuery(ValueError):
    """The stock list's query string asked for something it cannot do; the message says what, for the person."""


@dataclass(frozen=True)
class StockQuery:
    q: str = ""
    warehouse: int | None = None
    category: str = ""
    status: str = "all"
    sort: str = "product"
    dir: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> StockQuery:
        """The query string's stock parameters, checked; other parameters are ignored. Whether the warehouse is
        the manager's is checked once their warehouses are read (`check_scope`)."""

        def text(name: str) -> str:
            return " ".join(str(params.get(name) or "").split())

        q, category = text("q"), text("category")
        if len(q) > MAX_SEARCH or len(category) > MAX_SEARCH:
            raise InvalidStockQuery(f"The search and the category may have at most {MAX_SEARCH} characters.")
        warehouse = None
        if text("warehouse"):
            warehouse = _whole(text("warehouse"), "warehouse")
        status = text("status") or "all"
        if status not in STATUSES:
            raise InvalidStockQuery(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
        sort = text("sort") or "product"
        if sort not in SORTS:
            raise InvalidStockQuery(f"The list cannot be sorted by {sort!r}: use one of {', '.join(SORTS)}.")
        direction = text("dir") or "asc"
        if direction not in ("asc", "desc"):
            raise InvalidStockQuery(f"Unknown sort direction {direction!r}: use asc or desc.")
        page = _whole(text("page") or "1", "page")
        per_page = _whole(text("per_page") or str(DEFAULT_PAGE_SIZE), "per_page")
        if page < 1:
            raise InvalidStockQuery("The page number starts at 1.")
        if per_page not in PAGE_SIZES:
            raise InvalidStockQuery(f"Rows per page can be {', '.join(map(str, PAGE_SIZES))}, not {per_page}.")
        return cls(q, warehouse, category, status, sort, direction, page, per_page)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this query with `changes`, without the parameters at their defaults."""
        values = {**asdict(self), **changes}
        out = {}
        for name, value in values.items():
            default = DEFAULT_PAGE_SIZE if name == "per_page" else DEFAULTS[name]
            if value not in (None, "") and value != default:
                out[name] = str(value)
        return out

    def url(self, **changes: Any) -> str:
        """The dashboard showing this list with `changes` (a new filter goes back to page 1 by the caller)."""
        query = urlencode(self.params(**changes))
        return "/dashboard" + (f"?{query}" if query else "") + f"#{ANCHOR}"

    def sort_url(self, key: str) -> str:
        """Sorted by `key`: ascending first (numbers descending: the largest first), the other way on a second click."""
        if self.sort == key:
            direction = "desc" if self.dir == "asc" else "asc"
        else:
            direction = "asc" if key in ("product", "sku", "category", "warehouse", "status", "cover") else "desc"
        return self.url(sort=key, dir=direction, page=1)

    def csv_url(self) -> str:
        query = urlencode(self.params(page=1, per_page=DEFAULT_PAGE_SIZE))
        return "/dashboard/stock.csv" + (f"?{query}" if query else "")

    def check_scope(self, warehouses: Iterable[int]) -> None:
        """Raises InvalidStockQuery when the warehouse filter names a warehouse outside `warehouses`."""
        if self.warehouse is not None and self.warehouse not in set(warehouses):
            raise InvalidStockQuery(f"Warehouse {self.warehouse} is not one of your location's warehouses.")

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.warehouse is not None or self.category or self.status != "all")

    def bind(self, warehouse_ids: list[int], limit: int | None) -> dict[str, Any]:
        ids = [self.warehouse] if self.warehouse is not None else warehouse_ids
        return {
            "warehouse_ids": [w for w in ids if w in warehouse_ids],
            "pattern": f"%{_like_escape(self.q)}%" if self.q else None,
            "category": self.category or None,
            "status": self.status,
            "page": self.page,
            "limit": limit,
        }

    def order_by(self) -> sql.Composed:
        column = sql.Identifier(SORTS[self.sort][0])
        direction = sql.SQL("DESC" if self.dir == "desc" else "ASC")
        ties = [sql.Identifier(c) for c in TIE_BREAKERS if c != SORTS[self.sort][0]]
        return sql.SQL(", ").join([sql.SQL("{} {} NULLS LAST").format(column, direction), *ties])


def _whole(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise InvalidStockQuery(f"The {name} must be a whole number, not {value!r}.")
    return int(value)


def _like_escape(text: str) -> str:
    """`text` matched literally by ILIKE (whose escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _query(cur: PgCursor, query: StockQuery, warehouse_ids: list[int], limit: int | None) -> list[dict[str, Any]]:
    statement = sql.SQL(load_sql("portal/stock_list.sql")).format(order=query.order_by())
    cur.execute(statement, query.bind(warehouse_ids, limit))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def stock_page(cur: PgCursor, query: StockQuery, warehouse_ids: list[int]) -> dict[str, Any]:
    """One page of the filtered, sorted list, with the totals of the whole filtered list and the page numbers."""
    found = _query(cur, query, warehouse_ids, query.per_page)
    head = found[0] if found else {"total_rows": 0, "total_units": 0, "total_value": 0, "page": 1}
    rows = [r for r in found if r["product_id"] is not None]
    for row in rows:
        row["status"] = STATUS_NAMES[row["status_rank"]]
    total = head["total_rows"]
    pages = max(1, -(-total // query.per_page))
    page = head["page"]
    return {
        "query": replace(query, page=page),
        "rows": rows,
        "total_rows": total,
        "total_units": head["total_units"],
        "total_value": head["total_value"],
        "page": page,
        "pages": pages,
        "first_row": (page - 1) * query.per_page + 1 if rows else 0,
        "last_row": (page - 1) * query.per_page + len(rows),
    }


def stock_rows(cur: PgCursor, query: StockQuery, warehouse_ids: list[int]) -> list[dict[str, Any]]:
    """Every row of the filtered list, in its order (the CSV export: all pages)."""
    rows = [r for r in _query(cur, query, warehouse_ids, None) if r["product_id"] is not None]
    for row in rows:
        row["status"] = STATUS_NAMES[row["status_rank"]]
    return rows


def categories(cur: PgCursor, warehouse_ids: list[int]) -> list[str]:
    cur.execute(load_sql("portal/stock_categories.sql"), {"warehouse_ids": warehouse_ids})
    return [r[0] for r in cur.fetchall()]


def csv_columns(currency: str, aging_days: int | None) -> list[tuple[str, str]]:
    """(column of stock_list.sql, CSV header): headers a person reads, money in `currency`."""
    aged = f"Units older than {aging_days} days" if aging_days is not None else "Units older than the aging threshold"
    return [
        ("product_name", "Product"),
        ("sku", "SKU"),
        ("category", "Category"),
        ("warehouse_name", "Warehouse"),
        ("quantity", "On hand (units)"),
        ("cost_price", f"Cost price ({currency})"),
        ("stock_value", f"Stock value ({currency})"),
        ("avg_daily_demand", "Daily demand (units)"),
        ("coverage_days", "Days of cover"),
        ("aged_units", aged),
        ("reorder_point", "Reorder point (units)"),
        ("on_order_qty", "On open purchase orders (units)"),
        ("suggested_order_qty", "Suggested order, net of open orders (units)"),
        ("status", "Status"),
        ("counted_at", "Counted at (UTC)"),
    ]


def csv_bytes(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> bytes:
    """The rows as CSV, UTF-8 (the alert digests' writer: RFC 4180, CRLF, a cell a spreadsheet would run as a
    formula quoted). Numbers as plain decimals, no thousands separators or symbol: the header names the unit."""
    return messages.csv_bytes([header for _, header in columns], [[_cell(r[n]) for n, _ in columns] for r in rows])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
