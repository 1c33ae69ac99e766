"""Alert emails end to end: real PostgreSQL, a real SMTP server (the project's aiosmtpd sink) on loopback.

The analytics tables the alerts read are created here with just the columns they use (the real ones come from
the Spark publish; docs/metrics.md). Messages are read back from the sink's .eml files and parsed.
"""

from __future__ import annotations

import csv
import email
import io
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from db_helpers import create_published_tables

from include.inventory import alerts, schema
from include.inventory.db import transaction
from tools.mailsink import start_sink

T0 = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
THRESHOLD = 10
HOSTILE = '<script>alert(1)</script> & "x"'
INJECTED = "\r\nBcc: intruder@example.net"

# The published tables the alerts read, declared (tests/db_helpers.py); each test writes the columns it needs.
ALERT_INPUTS = ["current_stock", "low_stock_data", "fact_inventory_reconciliation"]
RECONCILIATION = (
    "date_key, product_id, warehouse_id, sku, product_name, expected_closing_stock, actual_closing_stock, "
    "discrepancy_amount, discrepancy_value"
)
LOCATIONS = [(1, "North"), (2, "South"), (3, "East")]
WAREHOUSES = {1: ("North A" + INJECTED, 1), 2: ("North B", 1), 3: ("South A", 2), 4: ("East A", 3)}
PRODUCTS = {1: "Widget", 2: HOSTILE, 3: "Gadget"}
# Alice covers North; Bob South (Carol there is inactive); East has only an inactive manager: it falls back.
MANAGERS = [
    ("Alice Adams" + INJECTED, "alice@example.com", 1, True),
    ("Bob Brown", "bob@example.com", 2, True),
    ("Carol Clark", "carol@example.com", 2, False),
    ("Dave Dunn", "dave@example.com", 3, False),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sink:
    folder: Path
    port: int
    controller: object = None

    def start(self) -> None:
        self.controller = start_sink(self.port, self.folder)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(self.folder.glob("*.eml"))
        ]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if address in m["X-Envelope-To"]]


@pytest.fixture
def sink(tmp_path):
    s = Sink(tmp_path / "mail", _free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
def db(fresh_schema):
    """Fresh warehouse + alerts schema, master data, managers and empty analytics tables."""
    conn = fresh_schema
    with transaction(conn) as cur:
        # sql/drop_schemas.sql does not drop `alerts` yet: start from an empty one, then apply the DDL again.
        cur.execute("DROP SCHEMA IF EXISTS alerts CASCADE")
    schema.create(conn)
    with transaction(conn) as cur:
        create_published_tables(cur, ALERT_INPUTS)
        for location_id, name in LOCATIONS:
            cur.execute(
                "INSERT INTO raw.warehouse_locations (location_id, location_name, city, country) "
                "VALUES (%s, %s, %s, 'United States')",
                (location_id, name, name),
            )
        for warehouse_id, (name, location_id) in WAREHOUSES.items():
            cur.execute(
                "INSERT INTO raw.warehouse (warehouse_id, warehouse_name, location_id, capacity) "
                "VALUES (%s, %s, %s, 1000)",
                (warehouse_id, name, location_id),
            )
        for name, address, location_id, active in MANAGERS:
            cur.execute(
                "INSERT INTO portal.inventory_managers (name, email, location_id, active) VALUES (%s, %s, %s, %s)",
                (name, address, location_id, active),
            )
    return conn


def set_stock(conn, levels: dict[tuple[int, int], int], on_order: dict[tuple[int, int], int] | None = None) -> None:
    """Publish current_stock and low_stock_data the way the publish step does: whole tables replaced. A low pair's
    suggested order is 40 - quantity, net of the units `on_order` (0 when not given)."""
    on_order = on_order or {}
    with transaction(conn) as cur:
        cur.execute("DELETE FROM analytics.current_stock; DELETE FROM analytics.low_stock_data")
        for (product_id, warehouse_id), quantity in levels.items():
            warehouse, location_id = WAREHOUSES[warehouse_id]
            ordered = on_order.get((product_id, warehouse_id), 0)
            cur.execute(
                "INSERT INTO analytics.current_stock (product_id, sku, product_name, warehouse_id, warehouse_name, "
                "location_id, location_name, quantity, on_order_qty) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    product_id,
                    f"SKU-{product_id:05d}",
                    PRODUCTS[product_id],
                    warehouse_id,
                    warehouse,
                    location_id,
                    dict(LOCATIONS)[location_id],
                    quantity,
                    ordered,
                ),
            )
            if quantity <= THRESHOLD:
                cover = None if product_id == 3 else Decimal(quantity) / 2
                cur.execute(
                    "INSERT INTO analytics.low_stock_data (product_id, warehouse_id, quantity, reorder_point, "
                    "suggested_order_qty, days_of_cover, is_stock_out) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (product_id, warehouse_id, quantity, 12, max(0, 40 - quantity - ordered), cover, quantity == 0),
                )


def run(conn, sink: Sink, as_of: datetime, fallback: str = "ops@example.com", **kwargs) -> dict:
    return alerts.run_alerts(conn, as_of, THRESHOLD, alerts.smtp_sender("127.0.0.1", sink.port), fallback, **kwargs)


def outbox(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT alert_id, kind, recipients, status, attempts, last_error, message_id, episode_keys "
            "FROM alerts.alert_log ORDER BY alert_id"
        )
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.rollback()
    return rows


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def parts(msg: EmailMessage) -> tuple[str, str, list[list[str]], list[list[str]]]:
    """(text, raw html, html table rows, csv rows) of a digest."""
    text = msg.get_body(("plain",)).get_content()
    markup = msg.get_body(("html",)).get_content()
    parser = _Cells()
    parser.feed(markup)
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    rows = list(csv.reader(io.StringIO(attachment.get_content())))
    return text, markup, parser.rows, rows


def skus(msg: EmailMessage) -> set[tuple[str, str]]:
    return {(row[2], row[3]) for row in parts(msg)[3][1:]}


def test_routing_each_manager_their_location_fallback_for_the_rest(db, sink):
    set_stock(db, {(1, 1): 5, (2, 2): 0, (1, 3): 7, (3, 4): 2, (3, 1): 100})
    summary = run(db, sink, T0)

    assert summary["episodes"] == {"opened": 4, "escalated": 0, "closed": 0}
    assert summary["enqueued"] == {
        "alice@example.com": {"low_stock": 2, "discrepancy": 0},
        "bob@example.com": {"low_stock": 1, "discrepancy": 0},
        "ops@example.com": {"low_stock": 1, "discrepancy": 0},
    }
    assert summary["delivery"]["sent"] == 3 and summary["undeliverable"] == 0
    assert len(sink.messages()) == 3
    (alice,) = sink.to("alice@example.com")
    assert skus(alice) == {("SKU-00001", "North A Bcc: intruder@example.net"), ("SKU-00002", "North B")}
    (bob,) = sink.to("bob@example.com")
    assert skus(bob) == {("SKU-00001", "South A")}
    (ops,) = sink.to("ops@example.com")
    assert skus(ops) == {("SKU-00003", "East A")}
    assert not sink.to("carol@example.com") and not sink.to("dave@example.com")
    assert all(r["status"] == "sent" and r["message_id"] for r in outbox(db))

    # Nothing new: no email. Then a stock-out escalates (1, 1) once; (1, 3) restocks and drops again: reopens.
    assert run(db, sink, T0 + timedelta(hours=1))["delivery"]["sent"] == 0
    set_stock(db, {(1, 1): 0, (2, 2): 0, (1, 3): 60, (3, 4): 2, (3, 1): 100})
    assert run(db, sink, T0 + timedelta(hours=2))["episodes"] == {"opened": 0, "escalated": 1, "closed": 1}
    set_stock(db, {(1, 1): 0, (2, 2): 0, (1, 3): 4, (3, 4): 2, (3, 1): 100})
    assert run(db, sink, T0 + timedelta(hours=3))["episodes"] == {"opened": 1, "escalated": 0, "closed": 0}
    first, second = sorted(sink.to("alice@example.com"), key=lambda m: m["Date"].datetime)
    assert [r[0] for r in parts(second)[3][1:]] == ["critical"]
    assert skus(second) == {("SKU-00001", "North A Bcc: intruder@example.net")}
    assert len(sink.to("bob@example.com")) == 2 and len(sink.messages()) == 5


def test_digest_parts_list_the_same_rows_and_escape_html(db, sink):
    set_stock(db, {(1, 1): 5, (2, 2): 0, (3, 1): 3})
    run(db, sink, T0)
    (msg,) = sink.to("alice@example.com")
    assert msg.get_content_type() == "multipart/mixed"
    text, markup, html_rows, csv_rows = parts(msg)

    assert html_rows == csv_rows  # header and cells, in the same order
    assert csv_rows[0] == list(alerts.LOW_STOCK_COLUMNS)
    assert sorted(csv_rows[1:]) == sorted(
        [
            ["critical", HOSTILE, "SKU-00002", "North B", "North", "0", "10", "12", "0", "40", "0.00"],
            ["low", "Widget", "SKU-00001", "North A Bcc: intruder@example.net", "North", "5", "10", "12", "0", "35"]
            + ["2.50"],
            [
                "low",
                "Gadget",
                "SKU-00003",
                "North A Bcc: intruder@example.net",
                "North",
                "3",
                "10",
                "12",
                "0",
                "37",
                "",
            ],
        ]
    )
    data_lines = [line for line in text.splitlines() if "SKU-0" in line]
    assert len(data_lines) == 3
    for row in csv_rows[1:]:
        (line,) = [x for x in data_lines if row[2] in x and row[3] in x]
        assert row[1] in line and f" {row[5]} " in line
    assert csv_rows[1][0] == "critical"  # stock-outs first

    # The hostile name is text in the HTML, never markup.
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in markup


def test_digest_shows_units_on_order_and_the_order_net_of_them(db, sink):
    # (1, 1): 30 on order of the 35 it needs; (2, 2): open orders cover more than it needs, nothing to order but
    # still listed (its stock is out); (3, 1): nothing on order.
    set_stock(db, {(1, 1): 5, (2, 2): 0, (3, 1): 3}, on_order={(1, 1): 30, (2, 2): 60})
    run(db, sink, T0)
    (msg,) = sink.to("alice@example.com")
    text, markup, html_rows, csv_rows = parts(msg)
    header = csv_rows[0]
    on_order, net = header.index("On order (units)"), header.index("Suggested order, net of on order (units)")
    assert net == on_order + 1  # side by side
    got = {row[2]: (row[on_order], row[net]) for row in csv_rows[1:]}
    assert got == {"SKU-00001": ("30", "5"), "SKU-00002": ("60", "0"), "SKU-00003": ("0", "37")}
    assert html_rows == csv_rows
    # The plain text: the same two numbers in the row's line, just before the days of cover ("-" when none).
    for row in csv_rows[1:]:
        (line,) = [x for x in text.splitlines() if row[2] in x]
        assert line.split()[-3:-1] == [row[on_order], row[net]]
    explained = "The suggested order is what is still needed after them"
    assert explained in text and explained in unescape(markup)


def test_no_header_injection_from_names(db, sink):
    set_stock(db, {(1, 1): 5})
    run(db, sink, T0)
    (path,) = sink.folder.glob("*.eml")
    headers = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"\nbcc:" not in headers.lower()
    (msg,) = sink.messages()
    assert msg["X-Envelope-To"] == "alice@example.com"
    assert msg["To"].addresses[0].addr_spec == "alice@example.com"
    assert msg["To"].addresses[0].display_name == "Alice Adams Bcc: intruder@example.net"
    assert "\n" not in str(msg["Subject"]) and "North A Bcc: intruder@example.net" in str(msg["Subject"])
    assert msg["Bcc"] is None


def test_outage_keeps_rows_pending_then_sends_each_once(db, sink):
    set_stock(db, {(1, 1): 5, (1, 3): 7, (3, 4): 2})
    sink.stop()
    summary = run(db, sink, T0)
    assert summary["delivery"]["sent"] == 0 and summary["delivery"]["pending"] == 1
    assert summary["delivery"]["deferred"] == 2  # the server is down: the rest are not even tried
    rows = outbox(db)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"pending"}
    assert rows[0]["attempts"] == 1 and "Connection refused" in rows[0]["last_error"]
    assert not list(sink.folder.glob("*.eml"))

    # Still down on the next run: the attempts are recorded, nothing is enqueued twice.
    run(db, sink, T0 + timedelta(hours=1))
    assert outbox(db)[0]["attempts"] == 2 and len(outbox(db)) == 3

    sink.start()
    assert run(db, sink, T0 + timedelta(hours=2))["delivery"]["sent"] == 3
    assert run(db, sink, T0 + timedelta(hours=3))["delivery"]["sent"] == 0
    received = sink.messages()
    assert len(received) == 3
    rows = outbox(db)
    assert {r["status"] for r in rows} == {"sent"}
    # The stored message is what was sent: same Message-ID.
    assert sorted(m["Message-ID"] for m in received) == sorted(r["message_id"] for r in rows)


def test_uncovered_without_fallback_is_recorded_failed_not_lost(db, sink):
    set_stock(db, {(3, 4): 2, (1, 1): 5})
    summary = run(db, sink, T0, fallback="")
    assert summary["undeliverable"] == 1
    rows = outbox(db)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["last_error"] == alerts.NO_RECIPIENT and failed[0]["recipients"] == []
    assert len(failed[0]["episode_keys"]) == 1
    assert [m["X-Envelope-To"] for m in sink.messages()] == ["alice@example.com"]
    run(db, sink, T0 + timedelta(hours=1), fallback="")
    assert outbox(db) == rows  # not retried, not enqueued again


def test_discrepancy_digest_once_per_day(db, sink):
    day = T0.date() - timedelta(days=1)
    with transaction(db) as cur:
        for date_key, product_id, warehouse_id, amount, value in [
            (day, 1, 1, -3, Decimal("-7.50")),  # over the unit tolerance
            (day, 2, 3, -1, Decimal("-12.00")),  # over the value tolerance only
            (day, 3, 4, -1, Decimal("-2.00")),  # within both
            (day, 1, 2, 0, Decimal("0.00")),
            (day - timedelta(days=1), 1, 1, -9, Decimal("-20.00")),  # the day before: never reported
            (T0.date(), 3, 4, -4, Decimal("-8.00")),  # the next day (as_of's own, still partial at T0)
        ]:
            cur.execute(
                f"INSERT INTO analytics.fact_inventory_reconciliation ({RECONCILIATION}) "
                "VALUES (%s, %s, %s, %s, %s, 50, %s, %s, %s)",
                (date_key, product_id, warehouse_id, f"SKU-{product_id:05d}", PRODUCTS[product_id])
                + (50 + amount, amount, value),
            )
    tolerances = {"tolerance_units": 1, "tolerance_value": Decimal("5.00")}
    summary = run(db, sink, T0, **tolerances)
    assert summary["enqueued"] == {"ops@example.com": {"low_stock": 0, "discrepancy": 2}}
    run(db, sink, T0 + timedelta(hours=5), **tolerances)  # same day: not again

    (msg,) = sink.messages()
    assert day.isoformat() in msg["Subject"]
    _, _, html_rows, csv_rows = parts(msg)
    assert html_rows == csv_rows
    assert [(r[2], r[3], r[7], r[8]) for r in csv_rows[1:]] == [
        ("SKU-00002", "South A", "-1", "-12.00"),
        ("SKU-00001", "North A Bcc: intruder@example.net", "-3", "-7.50"),
    ]
    # Without fallback recipients the next day's digest goes to every active manager, in one email.
    summary = run(db, sink, T0 + timedelta(days=1), fallback="", **tolerances)
    assert summary["enqueued"] == {
        "alice@example.com": {"low_stock": 0, "discrepancy": 1},
        "bob@example.com": {"low_stock": 0, "discrepancy": 1},
    }
    assert [m["X-Envelope-To"] for m in sink.messages()[1:]] == ["alice@example.com, bob@example.com"]


class TaskInstanceStub:
    """What notify_failure reads from Airflow's RuntimeTaskInstance (context["ti"])."""

    dag_id = "build_inventory_analytics"
    task_id = "publish"
    run_id = "scheduled__2024-05-02T06:00:00+00:00"
    try_number = 2
    map_index = -1
    log_url = "http://localhost:8080/dags/build_inventory_analytics/runs/scheduled__2024-05-02T06%3A00%3A00%2B00%3A00/tasks/publish?try_number=2"


def test_failure_notification_through_the_outbox(db, sink, monkeypatch):
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port}
    smtp["extra"] = {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.com", "retry_limit": 0}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp))
    monkeypatch.setenv("AIRFLOW_VAR_ONCALL_EMAIL", "oncall@example.com")
    context = {"ti": TaskInstanceStub(), "run_id": TaskInstanceStub.run_id, "exception": RuntimeError("boom")}

    alerts.notify_failure(context)
    alerts.notify_failure(context)  # the callback fired twice for the same try: one email

    (msg,) = sink.messages()
    assert msg["X-Envelope-To"] == "oncall@example.com" and msg["From"].addresses[0].addr_spec == "airflow@example.com"
    text = msg.get_body(("plain",)).get_content()
    for expected in ("build_inventory_analytics", "publish", TaskInstanceStub.run_id, "Try:   2", "RuntimeError: boom"):
        assert expected in text
    assert TaskInstanceStub.log_url in text
    assert f'href="{TaskInstanceStub.log_url}"' in msg.get_body(("html",)).get_content()
    (row,) = outbox(db)
    assert row["kind"] == "failure" and row["status"] == "sent" and row["recipients"] == ["oncall@example.com"]


def test_seed_managers_one_per_location_idempotent(db):
    with transaction(db) as cur:
        cur.execute("DELETE FROM portal.inventory_managers")
    assert alerts.seed_managers(db, 42) == len(LOCATIONS)
    assert alerts.seed_managers(db, 42) == 0
    with db.cursor() as cur:
        cur.execute("SELECT location_id, email, active FROM portal.inventory_managers ORDER BY location_id")
        rows = cur.fetchall()
    db.rollback()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert all(r[1].endswith("@example.com") and r[2] for r in rows)


def test_freshness_alert_once_when_behind_and_once_when_caught_up(db, sink):
    """The lag (now - the newest published minute) over the limit: one email; back within it: one more."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    limit = timedelta(minutes=5)
    send = alerts.smtp_sender("127.0.0.1", sink.port)

    def publish(as_of: datetime) -> None:
        with transaction(db) as cur:
            cur.execute(
                "INSERT INTO analytics.publish_log (run_id, as_of, tables) VALUES (%s, %s, '{}')",
                (f"run-{as_of:%H%M}", as_of),
            )

    def check(at: datetime):
        change = alerts.check_freshness(db, at, limit, "oncall@example.com")
        alerts.deliver_pending(db, send)
        return change.event if change else None

    assert check(now) is None  # nothing published yet: no lag to speak of
    publish(now - timedelta(minutes=1))
    assert check(now) is None  # 1 minute behind: within the limit
    # The analytics DAG stalls: every minute's check sees the lag grow; one email says so.
    events = [check(now + timedelta(minutes=m)) for m in range(4, 12)]
    assert events == [None, "behind", None, None, None, None, None, None]
    publish(now + timedelta(minutes=11))  # caught up in one run
    assert [check(now + timedelta(minutes=m)) for m in (11, 12, 13)] == ["caught_up", None, None]
    mails = sink.to("oncall@example.com")
    assert [m["Subject"] for m in mails] == [
        "[airflow] analytics 6.0 min behind the minute (limit 5.0 min)",
        "[airflow] analytics caught up: 0.0 min behind (worst 12.0 min)",
    ]
    assert "2026-11-30 11:59 UTC" in mails[0].get_body(("plain",)).get_content()
    with db.cursor() as cur:
        cur.execute("SELECT count(*), count(closed_at) FROM alerts.freshness_episodes")
        assert cur.fetchone() == (1, 1)
        cur.execute("SELECT kind, status FROM alerts.alert_log WHERE kind = 'freshness' ORDER BY alert_id")
        assert cur.fetchall() == [("freshness", "sent"), ("freshness", "sent")]
    db.rollback()


def test_a_managers_digest_says_its_as_of_and_links_to_their_portal_page_and_to_managing_the_emails(db, sink):
    set_stock(db, {(1, 1): 5, (3, 4): 2})
    run(db, sink, T0, portal_url="http://portal.example.com:8091/")
    (alice,) = sink.to("alice@example.com")
    text = alice.get_body(("plain",)).get_content().replace("\r\n", "\n")
    page = alice.get_body(("html",)).get_content()
    assert "Data as of 2024-05-02 06:00 UTC (the latest analytics publish)." in text
    assert "<p>Data as of 2024-05-02 06:00 UTC (the latest analytics publish).</p>" in page
    # The stock list filtered to what is low, and the account page where the emails are switched off.
    for label, path in (
        ("Your location's low stock on the manager portal", "/dashboard?status=low#stock"),
        ("Manage these emails (switch them off or on)", "/account"),
    ):
        assert f"{label}:\nhttp://portal.example.com:8091{path}\n" in text
        assert f'<a href="http://portal.example.com:8091{path}">{label}</a>' in unescape(page)
    header = parts(alice)[3][0]
    assert header[:6] == ["Level", "Product", "SKU", "Warehouse", "Location", "On hand (units)"]
    assert "On hand (units)  Low-stock threshold (units)" in text  # the text table's header, readable too
    (ops,) = sink.to("ops@example.com")  # the fallback list has no portal account to manage
    ops_text = ops.get_body(("plain",)).get_content()
    assert "http://portal.example.com:8091" not in ops_text
    assert "Data as of 2024-05-02 06:00 UTC" in ops_text


def test_the_discrepancy_digest_says_its_as_of_and_links_managers_to_the_portal(db, sink):
    day = T0.date() - timedelta(days=1)
    with transaction(db) as cur:
        cur.execute(
            f"INSERT INTO analytics.fact_inventory_reconciliation ({RECONCILIATION}) VALUES (%s, 1, 1, 'SKU-00001', "
            "'Widget', 50, 47, -3, "
            "-7.50)",
            (day,),
        )
    run(db, sink, T0, fallback="", portal_url="http://portal.example.com:8091")  # to every active manager
    (msg,) = sink.messages()
    text = msg.get_body(("plain",)).get_content()
    assert "Data as of 2024-05-02 06:00 UTC" in text
    assert "http://portal.example.com:8091/dashboard#rec-heading" in text
    assert "http://portal.example.com:8091/account" in text
    assert parts(msg)[3][0] == list(alerts.DISCREPANCY_COLUMNS)
    assert parts(msg)[3][0][-2:] == ["Difference (units)", "Difference value (at cost)"]
