"""Helpers for driving the portal through a TestClient: read a form's CSRF token, register (following the link
the portal emails to the SMTP sink), log in; and the stock list as it should be, read independently of the portal's
SQL."""

from __future__ import annotations

import email
import re
import socket
import time
import warnings
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from tools.mailsink import start_sink

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 package instead of httpx (which Airflow pins); httpx works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
EMAIL = "ann.lee@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(https?://\S+/(?:verify|reset)\?token=\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The project's SMTP sink (aiosmtpd) on a free loopback port; messages are read back from its .eml files."""

    def __init__(self, folder: Path):
        self.folder, self.port, self._controller = Path(folder), free_port(), None

    def start(self) -> None:
        self._controller = start_sink(self.port, self.folder)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        found = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(self.folder.glob("*.eml"))
        ]
        return [m for m in found if to is None or to.lower() in m["X-Envelope-To"].lower()]

    def last_link(self, to: str, nth: int = 1, wait: float = 15.0) -> str:
        """The path and query of the link in the newest message to `to` (as the person would click it), once at
        least `nth` messages to `to` have arrived: a real server sends its email just after answering, so wait up
        to `wait` seconds for it."""
        deadline = time.monotonic() + wait
        while len(messages := self.messages(to)) < nth and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(messages) >= nth, f"{len(messages)} emails to {to}, expected {nth}"
        text = messages[-1].get_body(("plain",)).get_content()
        match = _LINK.search(text)
        assert match, f"no link in the email to {to}:\n{text}"
        url = urlsplit(match[1])
        return f"{url.path}?{url.query}"


def csrf_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match[1]


def registration(role: str, **overrides) -> dict[str, str]:
    form = {
        "name": "Ann Lee",
        "email": EMAIL,
        "phone": "+1 555 010 0199",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "address": "1 Main Street, Northfield",
        "location_id": "1",
        "store_name" if role == "store_manager" else "department": "Northfield Store"
        if role == "store_manager"
        else "Replenishment",
    }
    form.update(overrides)
    return form


def request_registration(client: TestClient, role: str, **overrides):
    """Submit the registration form (the portal emails a link and answers the same whatever the address)."""
    token = csrf_token(client, f"/register/{role}")
    return client.post(f"/register/{role}", data={**registration(role, **overrides), "csrf_token": token})


def confirm(client: TestClient, link: str, password: str = PASSWORD):
    """Open the emailed link and confirm with the password chosen at registration."""
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    return client.post("/verify", data={"token": token, "password": password, "csrf_token": _CSRF.search(page.text)[1]})


def register(client: TestClient, role: str, **overrides):
    """Register and prove the address with the link from the sink; returns the confirmation's response (a redirect
    to the dashboard: the browser is logged in)."""
    response = request_registration(client, role, **overrides)
    assert response.status_code == 200 and "Check your email" in response.text, response.text
    address = overrides.get("email", EMAIL)
    return confirm(client, client.mailbox.last_link(address), overrides.get("password", PASSWORD))


def login(client: TestClient, role: str, email: str = EMAIL, password: str = PASSWORD):
    token = csrf_token(client, f"/login/{role}")
    return client.post(f"/login/{role}", data={"email": email, "password": password, "csrf_token": token})


def registered_and_logged_in(client: TestClient, role: str, **overrides) -> TestClient:
    response = register(client, role, **overrides)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard", response.text
    return client


# ------------------------------------------------------------------------------------------------ the stock list

STATUS_RANK = {"out": 0, "low": 1, "ok": 2, "overstock": 3}
# sort key of the URL -> the row field it orders by
SORT_FIELDS = {
    "product": "product_name",
    "sku": "sku",
    "category": "category",
    "warehouse": "warehouse_name",
    "on_hand": "quantity",
    "value": "stock_value",
    "demand": "avg_daily_demand",
    "cover": "coverage_days",
    "aged": "aged_units",
    "on_order": "on_order_qty",
    "order": "suggested_order_qty",
    "status": "status_rank",
}


def expected_rows(conn, warehouses: list[int]) -> list[dict]:
    """Every stock row of `warehouses`, read with plain SQL, one query per table, joined here."""

    def rows(query: str) -> list[dict]:
        with conn.cursor() as cur:
            cur.execute(query, (warehouses,))
            names = [d.name for d in cur.description]
            found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        conn.rollback()
        return found

    key = ("product_id", "warehouse_id")
    metrics = {
        (r["product_id"], r["warehouse_id"]): r
        for r in rows("SELECT * FROM analytics.product_inventory_metrics WHERE warehouse_id = ANY(%s)")
    }
    low = {
        (r["product_id"], r["warehouse_id"]): r
        for r in rows("SELECT * FROM analytics.low_stock_data WHERE warehouse_id = ANY(%s)")
    }
    aged: dict[tuple, int] = {}
    for r in rows("SELECT * FROM analytics.inventory_aging WHERE warehouse_id = ANY(%s)"):
        aged[(r["product_id"], r["warehouse_id"])] = aged.get((r["product_id"], r["warehouse_id"]), 0) + r["aged_units"]
    out = []
    for c in rows("SELECT * FROM analytics.current_stock WHERE warehouse_id = ANY(%s)"):
        pair = tuple(c[k] for k in key)
        m, lo = metrics.get(pair), low.get(pair)
        status = (
            "out" if lo and lo["is_stock_out"] else "low" if lo else "overstock" if m and m["is_overstock"] else "ok"
        )
        out.append(
            {
                "product_id": c["product_id"],
                "warehouse_id": c["warehouse_id"],
                "product_name": c["product_name"],
                "sku": c["sku"],
                "category": c["category"],
                "warehouse_name": c["warehouse_name"],
                "quantity": c["quantity"],
                "stock_value": c["stock_value"],
                "avg_daily_demand": m["avg_daily_demand"] if m else Decimal(0),
                "coverage_days": m["coverage_days"] if m else None,
                "aged_units": aged.get(pair, 0),
                "on_order_qty": c["on_order_qty"],
                "suggested_order_qty": lo["suggested_order_qty"] if lo else None,
                "status": status,
                "status_rank": STATUS_RANK[status],
                "is_overstock": bool(m and m["is_overstock"]),
            }
        )
    return out


def ordered(rows: list[dict], sort: str = "product", direction: str = "asc") -> list[dict]:
    """Sorted as the page promises: by the column (nulls last either way), then product, warehouse, ids."""
    field = SORT_FIELDS[sort]
    ties = sorted(rows, key=lambda r: (r["product_name"], r["warehouse_name"], r["product_id"], r["warehouse_id"]))
    present = sorted((r for r in ties if r[field] is not None), key=lambda r: r[field], reverse=direction == "desc")
    return present + [r for r in ties if r[field] is None]


def pairs(rows: list[dict]) -> list[tuple[int, int]]:
    return [(r["product_id"], r["warehouse_id"]) for r in rows]
