"""Alert emails: low stock to inventory managers, the daily discrepancy digest, and task-failure notifications.

One run (`run_alerts`) does four things, each in its own transaction:

1. `update_episodes`: reads `analytics.current_stock` and opens, escalates or closes low-stock episodes
   (`alerts.low_stock_episodes`; the rule is the pure `next_episode_state`).
2. `enqueue_low_stock_digests`: one digest per manager listing the episodes of their location's warehouses that
   opened (or became critical) since their last email; uncovered warehouses go to the fallback recipients.
   The outbox rows and the episodes' `notified_level` are written together, so no episode is emailed twice.
3. `enqueue_discrepancy_digest`: once per day, the reconciliation rows of the last complete day whose
   discrepancy exceeds the tolerances.
4. `deliver_pending`: sends every unsent outbox row (`alerts.alert_log`) through the injected `send`.

Every email is an outbox row before it is sent, holding the exact MIME text: when the SMTP server is down, rows
stay pending and go out on the next run, with the same Message-ID. `notify_failure` (an `on_failure_callback`)
uses the same outbox. docs/alerts.md describes who gets what.
"""

from __future__ import annotations

import csv
import email
import html
import io
import logging
import re
import smtplib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.config import SMTP_CONN_ID
from include.inventory.db import transaction

logger = logging.getLogger(__name__)

LOW, CRITICAL = "low", "critical"
ALERTS_LOCK = "inventory.alerts"
DEFAULT_SENDER = "inventory-alerts@example.com"
MAX_ATTEMPTS = 10
NO_RECIPIENT = "no recipient"

# 7bit: non-ASCII bodies are quoted-printable/base64, so any SMTP server takes the stored message as it is.
MAIL_POLICY = policy.default.clone(cte_type="7bit")

# send(message) hands one message to an SMTP server; it returns the recipients the server refused (smtplib's
# convention), or None.
Sender = Callable[[EmailMessage], Mapping[str, Any] | None]


class InvalidAddress(ValueError):
    pass


# ------------------------------------------------------------------------------------------------ episodes


@dataclass(frozen=True)
class Transition:
    state: str | None  # after the observation: None (no open episode), "low" or "critical"
    event: str | None  # "opened", "escalated", "closed", or None when nothing changed


def next_episode_state(prev_state: str | None, quantity: int, threshold: int) -> Transition:
    """The episode rule for one pair: opens at or under the threshold, escalates once on 0, closes above it.

    A critical episode stays critical until it closes (restocked to 10 then sold out again is not a second
    escalation), so a manager hears about each stock-out once.
    """
    if quantity < 0 or threshold < 0:
        raise ValueError(f"negative quantity {quantity} or threshold {threshold}")
    if prev_state not in (None, LOW, CRITICAL):
        raise ValueError(f"unknown episode state {prev_state!r}")
    if quantity > threshold:
        return Transition(None, "closed" if prev_state else None)
    if prev_state is None:
        return Transition(CRITICAL if quantity == 0 else LOW, "opened")
    if prev_state == LOW and quantity == 0:
        return Transition(CRITICAL, "escalated")
    return Transition(prev_state, None)


@dataclass(frozen=True)
class EpisodeChange:
    episode_id: int
    product_id: int
    warehouse_id: int
    event: str  # opened | escalated | closed
    level: str | None
    quantity: int


def _lock(cur: PgCursor) -> None:
    """One alerting run at a time: two overlapping runs could otherwise enqueue the same episode twice."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (ALERTS_LOCK,))


def update_episodes(conn: PgConnection, as_of: datetime, threshold: int) -> list[EpisodeChange]:
    """Apply `next_episode_state` to every pair of `analytics.current_stock`, in one transaction.

    Pairs missing from current_stock keep their episodes as they are. A run older than the latest episode change
    (a re-run of an old DAG run) changes nothing: its stock levels are no longer current.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    changes: list[EpisodeChange] = []
    with transaction(conn) as cur:
        _lock(cur)
        cur.execute("SELECT max(greatest(opened_at, closed_at)) FROM alerts.low_stock_episodes")
        (latest,) = cur.fetchone()
        if latest is not None and as_of < latest:
            logger.warning("episodes were last changed at %s, after as_of %s: not updating them", latest, as_of)
            return changes
        cur.execute(
            "SELECT product_id, warehouse_id, episode_id, level, last_quantity "
            "FROM alerts.low_stock_episodes WHERE closed_at IS NULL"
        )
        open_episodes = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
        cur.execute("SELECT product_id, warehouse_id, quantity FROM analytics.current_stock ORDER BY 1, 2")
        for product_id, warehouse_id, quantity in cur.fetchall():
            episode_id, level, last_quantity = open_episodes.get((product_id, warehouse_id), (None, None, None))
            step = next_episode_state(level, quantity, threshold)
            if step.event == "opened":
                cur.execute(
                    "INSERT INTO alerts.low_stock_episodes (product_id, warehouse_id, opened_at, level, "
                    "opened_quantity, last_quantity) VALUES (%s, %s, %s, %s, %s, %s) RETURNING episode_id",
                    (product_id, warehouse_id, as_of, step.state, quantity, quantity),
                )
                episode_id = cur.fetchone()[0]
            elif step.event == "closed":
                cur.execute(
                    "UPDATE alerts.low_stock_episodes SET closed_at = %s, last_quantity = %s WHERE episode_id = %s",
                    (as_of, quantity, episode_id),
                )
            elif episode_id is not None and (step.state != level or quantity != last_quantity):
                cur.execute(
                    "UPDATE alerts.low_stock_episodes SET level = %s, last_quantity = %s WHERE episode_id = %s",
                    (step.state, quantity, episode_id),
                )
            if step.event:
                changes.append(EpisodeChange(episode_id, product_id, warehouse_id, step.event, step.state, quantity))
    return changes


# ------------------------------------------------------------------------------------------------ managers


def seed_managers(conn: PgConnection, seed: int) -> int:
    """One simulated manager per location (Faker names, example.com addresses). Idempotent; returns rows added.

    Call it after the master data exists. The same seed gives the same managers, so a re-run adds nothing.
    """
    from faker import Faker  # imported here: DAG files import this module for notify_failure

    fake = Faker("en_US")
    added = 0
    with transaction(conn) as cur:
        cur.execute("SELECT location_id FROM raw.warehouse_locations ORDER BY location_id")
        for (location_id,) in cur.fetchall():
            fake.seed_instance(f"{seed}|manager|{location_id}")
            first, last = fake.first_name(), fake.last_name()
            local = re.sub(r"[^a-z0-9]+", "", first.lower()) + "." + re.sub(r"[^a-z0-9]+", "", last.lower())
            # example.com is reserved for documentation: no simulated alert can reach a real mailbox.
            address = f"{local}.{location_id}@example.com"
            cur.execute(
                "INSERT INTO portal.inventory_managers (name, email, phone, location_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (f"{first} {last}", address, fake.numerify("+1-###-###-####"), location_id),
            )
            added += cur.rowcount
    return added


@dataclass(frozen=True)
class Manager:
    manager_id: int
    name: str
    email: str
    location_id: int


def active_managers(cur: PgCursor) -> dict[int, list[Manager]]:
    """Active managers by location; one with an invalid address is skipped (its warehouses fall back).

    The recipients are the manager portal's (portal.inventory_managers): alerting only reads them."""
    cur.execute(
        "SELECT manager_id, name, email, location_id FROM portal.inventory_managers WHERE active ORDER BY manager_id"
    )
    by_location: dict[int, list[Manager]] = defaultdict(list)
    for manager_id, name, address, location_id in cur.fetchall():
        try:
            by_location[location_id].append(Manager(manager_id, name, validate_address(address), location_id))
        except InvalidAddress as exc:
            logger.warning("manager %s has an invalid address, not emailing them: %s", manager_id, exc)
    return by_location


# ------------------------------------------------------------------------------------------------ messages

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\\\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def one_line(value: object) -> str:
    """Text on one line: CR, LF and other control characters become spaces (no header injection)."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", str(value))).strip()


def validate_address(value: str) -> str:
    """A bare address (`name@example.com`), checked with parseaddr and a strict pattern; raises InvalidAddress."""
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidAddress(f"{value!r} is not an email address")
    name, addr = parseaddr(value)
    if name or addr != value.strip() or not _ADDRESS.match(addr):
        raise InvalidAddress(f"{value!r} is not an email address")
    return addr


def parse_recipients(value: str | Iterable[str]) -> list[str]:
    """A comma-separated Variable (or a list) as valid, distinct addresses; invalid ones are logged and skipped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    found: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            addr = validate_address(item)
        except InvalidAddress as exc:
            logger.warning("ignoring recipient: %s", exc)
            continue
        if addr not in found:
            found.append(addr)
    return found


def _address(addr: str, display_name: str = "") -> Address:
    local, domain = validate_address(addr).split("@")
    return Address(display_name=one_line(display_name), username=local, domain=domain)


def build_message(
    *,
    sender: str,
    to: Sequence[Address],
    subject: str,
    text: str,
    html_body: str | None = None,
    attachment: tuple[str, bytes] | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """A multipart email: plain text, optional HTML alternative, optional CSV attachment (filename, bytes)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = _address(sender, "Inventory alerts")
    msg["To"] = tuple(to)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=validate_address(sender).split("@")[1])
    msg.set_content(text)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    if attachment is not None:
        filename, data = attachment
        msg.add_attachment(
            data, maintype="text", subtype="csv", filename=one_line(filename), params={"charset": "utf-8"}
        )
    return msg


def _cell(value: object) -> str:
    return "" if value is None else one_line(value)


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it so opening the file runs nothing.
        writer.writerow([f"'{c}" if c[:1] in ("=", "+", "-", "@") and not _is_number(c) else c for c in row])
    return buffer.getvalue().encode("utf-8")


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header), *[[c or "-" for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f'<th style="text-align:left;padding:4px 8px">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:4px 8px">{html.escape(c)}</td>' for c in row) + "</tr>" for row in rows
    )
    table = '<table style="border-collapse:collapse" border="1">'
    return f"{table}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html_page(title: str, paragraphs: Sequence[str], table: str, links: Sequence[tuple[str, str]] = ()) -> str:
    ps = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    anchors = "".join(f'<p><a href="{html.escape(u, quote=True)}">{html.escape(label)}</a></p>' for label, u in links)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{ps}{table}{anchors}</body></html>"
    )


def portal_links(portal_url: str | None) -> list[tuple[str, str]]:
    """The manager portal's pages a manager's digest links to (Variable `portal_base_url`)."""
    if not portal_url:
        return []
    base = one_line(portal_url).rstrip("/")
    return [
        ("Your inventory page on the manager portal", f"{base}/dashboard"),
        ("Manage these emails (switch them off or on)", f"{base}/account"),
    ]


# ------------------------------------------------------------------------------------------------ outbox


@dataclass(frozen=True)
class Enqueued:
    alert_id: int
    kind: str
    recipients: tuple[str, ...]
    rows: int
    status: str  # pending, or failed when nobody could receive it


def _enqueue(
    cur: PgCursor,
    kind: str,
    msg: EmailMessage | None,
    recipients: Sequence[str],
    subject: str,
    rows: int,
    *,
    episode_keys: Sequence[str] = (),
    dedup_key: str | None = None,
) -> Enqueued | None:
    """Insert an outbox row (None when `dedup_key` is already there). Without recipients it is recorded failed."""
    status, error = ("pending", None) if recipients else ("failed", NO_RECIPIENT)
    cur.execute(
        "INSERT INTO alerts.alert_log (kind, dedup_key, recipients, subject, episode_keys, status, last_error, "
        "message_id, mime) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (dedup_key) DO NOTHING RETURNING alert_id",
        (
            kind,
            dedup_key,
            list(recipients),
            one_line(subject),
            list(episode_keys),
            status,
            error,
            msg["Message-ID"] if msg is not None else None,
            msg.as_string() if msg is not None else "",
        ),
    )
    row = cur.fetchone()
    if row is None:
        return None
    if not recipients:
        logger.warning("%s alert %s has no recipient: recorded as failed, not sent (%s)", kind, row[0], subject)
    return Enqueued(row[0], kind, tuple(recipients), rows, status)


LOW_STOCK_COLUMNS = (
    "level",
    "product",
    "sku",
    "warehouse",
    "location",
    "on_hand",
    "threshold",
    "reorder_point",
    "suggested_order_qty",
    "days_of_cover",
)


@dataclass(frozen=True)
class LowStockItem:
    episode_id: int
    level: str
    location_id: int
    warehouse_name: str
    row: tuple[str, ...]  # LOW_STOCK_COLUMNS, as text


def low_stock_message(
    items: Sequence[LowStockItem],
    to: Sequence[Address],
    greeting: str,
    sender: str,
    now: datetime | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    critical = sum(1 for i in items if i.level == CRITICAL)
    warehouses = sorted({i.warehouse_name for i in items})
    subject = f"[inventory] {len(items)} new low-stock item{'s' if len(items) != 1 else ''}" + (
        f" ({critical} out of stock)" if critical else ""
    )
    subject += f" in {', '.join(warehouses[:3])}" + (" and more" if len(warehouses) > 3 else "")
    intro = [
        greeting,
        "These products fell to or under the low-stock threshold (level critical: out of stock) since our last "
        "email. Each one is listed once; you will hear again only if it runs out of stock.",
    ]
    rows = [i.row for i in items]
    text = "\n\n".join([*intro, _text_table(LOW_STOCK_COLUMNS, rows), *(f"{k}:\n{u}" for k, u in links)]) + "\n"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M")
    return build_message(
        sender=sender,
        to=to,
        subject=subject,
        text=text,
        html_body=_html_page(subject, intro, _html_table(LOW_STOCK_COLUMNS, rows), links),
        attachment=(f"low_stock_{stamp}.csv", _csv_bytes(LOW_STOCK_COLUMNS, rows)),
        now=now,
    )


def _pending_items(cur: PgCursor, threshold: int) -> list[LowStockItem]:
    """Open episodes not yet emailed at their level, with the details of `analytics.low_stock_data`."""
    cur.execute(
        """
        SELECT e.episode_id, e.level, c.location_id, c.warehouse_name, c.product_name, c.sku, c.location_name,
               c.quantity, l.reorder_point, l.suggested_order_qty, l.days_of_cover
        FROM alerts.low_stock_episodes e
        JOIN analytics.current_stock c USING (product_id, warehouse_id)
        LEFT JOIN analytics.low_stock_data l USING (product_id, warehouse_id)
        WHERE e.closed_at IS NULL AND e.notified_level IS DISTINCT FROM e.level
        ORDER BY (e.level = 'critical') DESC, c.location_name, c.warehouse_name, c.product_name, e.episode_id
        FOR UPDATE OF e
        """
    )
    items = []
    for episode_id, level, location_id, warehouse, product, sku, location, qty, rop, order, cover in cur.fetchall():
        row = tuple(_cell(v) for v in (level, product, sku, warehouse, location, qty, threshold, rop, order, cover))
        items.append(LowStockItem(episode_id, level, location_id, one_line(warehouse), row))
    return items


def enqueue_low_stock_digests(
    conn: PgConnection,
    threshold: int,
    fallback_recipients: str | Iterable[str],
    sender: str = DEFAULT_SENDER,
    now: datetime | None = None,
    portal_url: str | None = None,
) -> list[Enqueued]:
    """One outbox row per manager with new episodes in their location, one for the uncovered warehouses. A
    manager's digest links to their page on the manager portal and to where they switch the emails off.

    Uncovered warehouses (no active manager at their location) go to `fallback_recipients` in one email; when
    there are none, the row is recorded `failed` with "no recipient". Every listed episode gets
    `notified_level` = its level in the same transaction, so a re-run does not list it again.
    """
    fallback = parse_recipients(fallback_recipients)
    enqueued: list[Enqueued] = []
    with transaction(conn) as cur:
        _lock(cur)
        items = _pending_items(cur, threshold)
        if not items:
            return enqueued
        managers = active_managers(cur)
        per_manager: dict[int, list[LowStockItem]] = defaultdict(list)
        uncovered: list[LowStockItem] = []
        by_id: dict[int, Manager] = {}
        for item in items:
            covering = managers.get(item.location_id, [])
            for manager in covering:
                per_manager[manager.manager_id].append(item)
                by_id[manager.manager_id] = manager
            if not covering:
                uncovered.append(item)
        for manager_id, its in sorted(per_manager.items()):
            manager = by_id[manager_id]
            to = [_address(manager.email, manager.name)]
            msg = low_stock_message(its, to, f"Hello {one_line(manager.name)},", sender, now, portal_links(portal_url))
            enqueued.append(_enqueue_low_stock(cur, msg, [manager.email], its))
        if uncovered:
            msg = None
            if fallback:
                to = [_address(a) for a in fallback]
                greeting = "Hello, no active inventory manager covers these warehouses, so they come to this list."
                msg = low_stock_message(uncovered, to, greeting, sender, now)
            enqueued.append(_enqueue_low_stock(cur, msg, fallback, uncovered))
        cur.execute(
            "UPDATE alerts.low_stock_episodes SET notified_level = level WHERE episode_id = ANY(%s)",
            ([i.episode_id for i in items],),
        )
    return enqueued


def _enqueue_low_stock(
    cur: PgCursor, msg: EmailMessage | None, recipients: Sequence[str], items: Sequence[LowStockItem]
) -> Enqueued:
    subject = msg["Subject"] if msg is not None else f"[inventory] {len(items)} new low-stock items"
    keys = [f"{i.episode_id}:{i.level}" for i in items]
    result = _enqueue(cur, "low_stock", msg, recipients, subject, len(items), episode_keys=keys)
    assert result is not None  # no dedup key, so the insert always happens
    return result


DISCREPANCY_COLUMNS = (
    "date",
    "product",
    "sku",
    "warehouse",
    "location",
    "expected_closing_stock",
    "actual_closing_stock",
    "discrepancy_amount",
    "discrepancy_value",
)


def last_complete_day(as_of: datetime) -> date:
    """The latest UTC day that ended at or before as_of (as_of's own day is partial unless it is 00:00 of the next)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return as_of.astimezone(UTC).date() - timedelta(days=1)


def enqueue_discrepancy_digest(
    conn: PgConnection,
    as_of: datetime,
    tolerance_units: int,
    tolerance_value: Decimal,
    recipients: str | Iterable[str],
    sender: str = DEFAULT_SENDER,
    now: datetime | None = None,
) -> Enqueued | None:
    """The day's discrepancy digest, once per day (dedup key `discrepancy:<day>`); None when already sent or empty.

    Rows: the last complete day's `analytics.fact_inventory_reconciliation` rows with |discrepancy_amount| >
    tolerance_units or |discrepancy_value| > tolerance_value. Recipients: the fallback list; when empty, every
    active manager (one email).
    """
    day = last_complete_day(as_of)
    key = f"discrepancy:{day.isoformat()}"
    with transaction(conn) as cur:
        _lock(cur)
        cur.execute("SELECT 1 FROM alerts.alert_log WHERE dedup_key = %s", (key,))
        if cur.fetchone():
            return None
        cur.execute(
            """
            SELECT r.date_key, r.product_name, r.sku, w.warehouse_name, l.location_name, r.expected_closing_stock,
                   r.actual_closing_stock, r.discrepancy_amount, r.discrepancy_value
            FROM analytics.fact_inventory_reconciliation r
            LEFT JOIN raw.warehouse w USING (warehouse_id)
            LEFT JOIN raw.warehouse_locations l USING (location_id)
            WHERE r.date_key = %s AND (abs(r.discrepancy_amount) > %s OR abs(r.discrepancy_value) > %s)
            ORDER BY abs(r.discrepancy_value) DESC, r.sku, r.warehouse_id
            """,
            (day, tolerance_units, tolerance_value),
        )
        rows = [tuple(_cell(v) for v in r) for r in cur.fetchall()]
        if not rows:
            return None
        to = parse_recipients(recipients)
        if not to:
            to = sorted({m.email for ms in active_managers(cur).values() for m in ms})
        subject = f"[inventory] Stock discrepancies on {day.isoformat()}: {len(rows)} over tolerance"
        msg = None
        if to:
            intro = [
                f"Stock counts that disagree with sales and receipts on {day.isoformat()} (UTC) by more than "
                f"{tolerance_units} units or {tolerance_value} in value. A negative amount is stock lost without a "
                "sale: shrinkage, damage or a miscount. Definitions: docs/metrics.md (fact_inventory_reconciliation).",
            ]
            msg = build_message(
                sender=sender,
                to=[_address(a) for a in to],
                subject=subject,
                text="\n\n".join([*intro, _text_table(DISCREPANCY_COLUMNS, rows)]) + "\n",
                html_body=_html_page(subject, intro, _html_table(DISCREPANCY_COLUMNS, rows)),
                attachment=(f"discrepancies_{day.isoformat()}.csv", _csv_bytes(DISCREPANCY_COLUMNS, rows)),
                now=now,
            )
        return _enqueue(cur, "discrepancy", msg, to, subject, len(rows), dedup_key=key)


# ------------------------------------------------------------------------------------------------ delivery


def _classify(exc: Exception) -> str:
    """permanent (the server refused the message), retry (a 4xx for this message) or unreachable."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return "permanent" if codes and min(codes) >= 500 else "retry"
    if isinstance(exc, smtplib.SMTPResponseException):
        return "permanent" if exc.smtp_code >= 500 else "retry"
    return "unreachable"


def deliver_pending(
    conn: PgConnection, send: Sender, max_attempts: int = MAX_ATTEMPTS, alert_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """Send every unsent outbox row with recipients and attempts < max_attempts, oldest first.

    Each row is sent and marked in its own transaction, holding its row lock (FOR UPDATE SKIP LOCKED), so two
    deliverers never send the same row and a sent row is never sent again. On an error the attempt and the
    error are recorded: a refusal (5xx) marks the row `failed`, anything else leaves it `pending`, and a row
    that reaches max_attempts becomes `failed`. When the server cannot be reached the run stops there: the
    remaining rows stay pending, untouched, for the next run.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT alert_id FROM alerts.alert_log WHERE status <> 'sent' AND attempts < %s "
            "AND cardinality(recipients) > 0 AND (%s::bigint[] IS NULL OR alert_id = ANY(%s::bigint[])) "
            "ORDER BY alert_id",
            (max_attempts, list(alert_ids) if alert_ids is not None else None, list(alert_ids or [])),
        )
        candidates = [r[0] for r in cur.fetchall()]
    conn.rollback()
    report: dict[str, Any] = {"sent": 0, "pending": 0, "failed": 0, "deferred": 0, "sent_to": {}, "errors": []}
    for position, alert_id in enumerate(candidates):
        with transaction(conn) as cur:
            cur.execute(
                "SELECT mime, recipients, attempts FROM alerts.alert_log "
                "WHERE alert_id = %s AND status <> 'sent' AND attempts < %s FOR UPDATE SKIP LOCKED",
                (alert_id, max_attempts),
            )
            row = cur.fetchone()
            if row is None:
                continue  # sent or being sent by another run
            mime, recipients, attempts = row
            msg = email.message_from_string(mime, policy=MAIL_POLICY)
            try:
                refused = send(msg)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                kind = _classify(exc)
                attempts += 1
                status = "failed" if kind == "permanent" or attempts >= max_attempts else "pending"
                error = f"{type(exc).__name__}: {exc}"[:2000]
                cur.execute(
                    "UPDATE alerts.alert_log SET status = %s, attempts = %s, last_error = %s WHERE alert_id = %s",
                    (status, attempts, error, alert_id),
                )
                report[status] += 1
                report["errors"].append(f"alert {alert_id}: {error}")
                logger.warning("alert %s not sent (%s, attempt %s): %s", alert_id, status, attempts, error)
                if kind == "unreachable":
                    report["deferred"] = len(candidates) - position - 1
                    break
                continue
            note = f"refused by the server: {sorted(refused)}" if refused else None
            cur.execute(
                "UPDATE alerts.alert_log SET status = 'sent', attempts = attempts + 1, sent_at = now(), "
                "message_id = %s, last_error = %s WHERE alert_id = %s",
                (msg["Message-ID"], note, alert_id),
            )
            report["sent"] += 1
            for address in recipients:
                report["sent_to"][address] = report["sent_to"].get(address, 0) + 1
    return report


def smtp_sender(host: str, port: int, timeout: float = 30.0) -> Sender:
    """A `send` for code outside Airflow (scripts, tests): plain SMTP, no TLS, no login (a local sink)."""

    def send(msg: EmailMessage) -> Mapping[str, Any]:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            return client.send_message(msg)

    return send


def smtp_sender_from_airflow(conn_id: str = SMTP_CONN_ID) -> Sender:
    """A `send` through the SMTP provider's hook on `smtp_default` (TLS, login and timeout from the connection).

    Call inside a task or callback. The hook's public `send_email_smtp` builds its own HTML-only MIME, so we use
    its logged-in client to send our stored message as it is (text, HTML and CSV parts, same Message-ID).
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    def send(msg: EmailMessage) -> Mapping[str, Any]:
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            return hook._smtp_client.send_message(msg)

    return send


def airflow_sender_address(conn_id: str = SMTP_CONN_ID) -> str:
    """The `from_email` extra of the SMTP connection, or DEFAULT_SENDER."""
    from airflow.sdk import BaseHook

    value = BaseHook.get_connection(conn_id).extra_dejson.get("from_email") or DEFAULT_SENDER
    return validate_address(value)


# ------------------------------------------------------------------------------------------------ failures


def _failure_fields(context: Mapping[str, Any]) -> dict[str, str]:
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")

    def attr(name: str, default: object = "") -> str:
        value = getattr(ti, name, None) if ti is not None else None
        return one_line(value if value is not None else default)

    log_url = ""
    try:
        log_url = one_line(getattr(ti, "log_url", "") or "")
    except Exception:  # noqa: BLE001 - the link is a convenience; the rest of the message matters more
        log_url = ""
    exception = context.get("exception")
    return {
        "dag_id": attr("dag_id", getattr(dag, "dag_id", "")),
        "task_id": attr("task_id"),
        "run_id": attr("run_id", context.get("run_id", "")),
        "try_number": attr("try_number"),
        "map_index": attr("map_index", -1),
        "log_url": log_url if log_url.startswith(("http://", "https://")) else "",
        "error": one_line(f"{type(exception).__name__}: {exception}")[:500] if exception is not None else "",
    }


def failure_message(context: Mapping[str, Any], recipient: str, sender: str = DEFAULT_SENDER) -> EmailMessage:
    f = _failure_fields(context)
    subject = f"[airflow] {f['dag_id']}.{f['task_id']} failed (run {f['run_id']}, try {f['try_number']})"
    labels = [
        ("DAG", f["dag_id"]),
        ("Task", f["task_id"] + (f" [{f['map_index']}]" if f["map_index"] not in ("", "-1") else "")),
        ("Run", f["run_id"]),
        ("Try", f["try_number"]),
        ("Error", f["error"] or "-"),
        ("Log", f["log_url"] or "(no link)"),
    ]
    text = "A task failed.\n\n" + "\n".join(f"{k + ':':<7}{v}" for k, v in labels) + "\n"
    cells = "".join(
        f"<tr><th style='text-align:left;padding:2px 8px'>{html.escape(k)}</th><td>"
        + (
            f'<a href="{html.escape(v, quote=True)}">{html.escape(v)}</a>'
            if k == "Log" and f["log_url"]
            else html.escape(v)
        )
        + "</td></tr>"
        for k, v in labels
    )
    return build_message(
        sender=sender,
        to=[_address(recipient)],
        subject=subject,
        text=text,
        html_body=_html_page(subject, ["A task failed."], f"<table>{cells}</table>"),
    )


def enqueue_failure(
    conn: PgConnection, context: Mapping[str, Any], recipient: str, sender: str = DEFAULT_SENDER
) -> int:
    """Record a failure notification in the outbox (once per task try); returns its alert_id."""
    f = _failure_fields(context)
    key = ":".join(["failure", f["dag_id"], f["task_id"], f["run_id"], f["map_index"], f["try_number"]])
    msg = failure_message(context, recipient, sender)
    with transaction(conn) as cur:
        done = _enqueue(cur, "failure", msg, [validate_address(recipient)], msg["Subject"], 1, dedup_key=key)
        if done is not None:
            return done.alert_id
        cur.execute("SELECT alert_id FROM alerts.alert_log WHERE dedup_key = %s", (key,))
        return cur.fetchone()[0]


def notify_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback`: email the on-call address (Variable `oncall_email`) through the outbox.

    The warehouse may be why the task failed: when it cannot be reached the email is sent directly, unrecorded.
    A callback must not raise, so every error is logged instead.
    """
    from include.inventory import db
    from include.inventory.config import setting

    try:
        recipient = validate_address(setting("oncall_email"))
        sender = airflow_sender_address()
        send = smtp_sender_from_airflow()
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("cannot build the failure notification")
        return
    try:
        conn = db.airflow_connection()
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logger.warning("warehouse unreachable (%s): sending the failure notification without the outbox", exc)
        try:
            send(failure_message(context, recipient, sender))
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("failure notification not sent")
        return
    try:
        alert_id = enqueue_failure(conn, context, recipient, sender)
        report = deliver_pending(conn, send, alert_ids=[alert_id])
        if not report["sent"]:
            logger.warning("failure notification %s queued, not sent yet: %s", alert_id, report["errors"])
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("failure notification not recorded or not sent")
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ one run


@dataclass
class RunSummary:
    episodes: dict[str, int] = field(default_factory=lambda: {"opened": 0, "escalated": 0, "closed": 0})
    enqueued: dict[str, dict[str, int]] = field(default_factory=dict)
    undeliverable: int = 0
    delivery: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "episodes": dict(self.episodes),
            "enqueued": {k: dict(v) for k, v in self.enqueued.items()},
            "undeliverable": self.undeliverable,
            "delivery": dict(self.delivery),
        }


def run_alerts(
    conn: PgConnection,
    as_of: datetime,
    threshold: int,
    send: Sender,
    fallback_recipients: str | Iterable[str],
    *,
    sender: str = DEFAULT_SENDER,
    tolerance_units: int = 0,
    tolerance_value: Decimal = Decimal("0.00"),
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
    portal_url: str | None = None,
) -> dict[str, Any]:
    """One alerting run: update episodes, enqueue the digests, deliver the outbox. Returns a summary dict:

    `episodes` (opened/escalated/closed counts), `enqueued` (per recipient: low_stock items and discrepancy rows
    queued for them this run), `undeliverable` (rows recorded failed with no recipient) and `delivery`
    (deliver_pending's report: sent/pending/failed/deferred, sent_to per recipient, errors).
    """
    fallback = parse_recipients(fallback_recipients)
    summary = RunSummary()
    for change in update_episodes(conn, as_of, threshold):
        summary.episodes[change.event] += 1
    queued = enqueue_low_stock_digests(conn, threshold, fallback, sender, now, portal_url)
    digest = enqueue_discrepancy_digest(conn, as_of, tolerance_units, tolerance_value, fallback, sender, now)
    for item in [*queued, *([digest] if digest else [])]:
        if not item.recipients:
            summary.undeliverable += 1
        for address in item.recipients:
            counts = summary.enqueued.setdefault(address, {"low_stock": 0, "discrepancy": 0})
            counts[item.kind] += item.rows
    summary.delivery = deliver_pending(conn, send, max_attempts)
    return summary.as_dict()


def run_alerts_from_airflow(as_of: datetime, threshold: int) -> dict[str, Any]:
    """`run_alerts` inside a task: the warehouse, SMTP connection and Variables from Airflow; the low-stock
    threshold is the run's (resolved once by the analytics plan)."""
    from include.inventory import db
    from include.inventory.config import setting

    conn = db.airflow_connection()
    try:
        return run_alerts(
            conn,
            as_of,
            threshold,
            smtp_sender_from_airflow(),
            setting("alert_email_recipients"),
            sender=airflow_sender_address(),
            tolerance_units=int(setting("discrepancy_tolerance_units")),
            tolerance_value=Decimal(setting("discrepancy_tolerance_value")),
            portal_url=setting("portal_base_url"),
        )
    finally:
        conn.close()
