"""What to email: the low-stock digests (one per manager, new episodes only) and the daily discrepancy digest, each
written to the outbox in the same transaction that marks what it lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.alerts.episodes import lock_alerting
from include.inventory.alerts.messages import (
    DEFAULT_SENDER,
    LowStockItem,
    cell_text,
    discrepancy_message,
    discrepancy_subject,
    low_stock_message,
    portal_links,
)
from include.inventory.alerts.outbox import Enqueued, enqueue
from include.inventory.alerts.recipients import Manager, active_managers, mailbox, one_line, parse_recipients
from include.inventory.db import transaction


def _pending_items(cur: PgCursor, threshold: int) -> list[LowStockItem]:
    """Open episodes not yet emailed at their level, with the details of `analytics.low_stock_data` (and the units
    on open purchase orders from `analytics.current_stock`, which has them for every pair)."""
    cur.execute(
        """
        SELECT e.episode_id, e.level, c.location_id, c.warehouse_name, c.product_name, c.sku, c.location_name,
               c.quantity, l.reorder_point, c.on_order_qty, l.suggested_order_qty, l.days_of_cover
        FROM alerts.low_stock_episodes e
        JOIN analytics.current_stock c USING (product_id, warehouse_id)
        LEFT JOIN analytics.low_stock_data l USING (product_id, warehouse_id)
        WHERE e.closed_at IS NULL AND e.notified_level IS DISTINCT FROM e.level
        ORDER BY (e.level = 'critical') DESC, c.location_name, c.warehouse_name, c.product_name, e.episode_id
        FOR UPDATE OF e
        """
    )
    items = []
    for episode_id, level, location_id, warehouse, product, sku, location, *numbers in cur.fetchall():
        qty, rop, on_order, order, cover = numbers
        values = (level, product, sku, warehouse, location, qty, threshold, rop, on_order, order, cover)
        row = tuple(cell_text(v) for v in values)
        items.append(LowStockItem(episode_id, level, location_id, one_line(warehouse), row))
    return items


def enqueue_low_stock_digests(
    conn: PgConnection,
    threshold: int,
    fallback_recipients: str | Iterable[str],
    sender: str = DEFAULT_SENDER,
    now: datetime | None = None,
    portal_url: str | None = None,
    as_of: datetime | None = None,
) -> list[Enqueued]:
    """One outbox row per manager with new episodes in their location, one for the uncovered warehouses. Each
    says what time the numbers are as of (`as_of`, the publish they come from); a manager's digest links to their
    location's low stock on the manager portal and to where they switch the emails off.

    Uncovered warehouses (no active manager at their location) go to `fallback_recipients` in one email; when
    there are none, the row is recorded `failed` with "no recipient". Every listed episode gets
    `notified_level` = its level in the same transaction, so a re-run does not list it again.
    """
    fallback = parse_recipients(fallback_recipients)
    enqueued: list[Enqueued] = []
    with transaction(conn) as cur:
        lock_alerting(cur)
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
            to = [mailbox(manager.email, manager.name)]
            links = portal_links(portal_url)
            msg = low_stock_message(its, to, f"Hello {one_line(manager.name)},", sender, now, links, as_of)
            enqueued.append(_enqueue_low_stock(cur, msg, [manager.email], its))
        if uncovered:
            msg = None
            if fallback:
                to = [mailbox(a) for a in fallback]
                greeting = "Hello, no active inventory manager covers these warehouses, so they come to this list."
                msg = low_stock_message(uncovered, to, greeting, sender, now, as_of=as_of)
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
    result = enqueue(cur, "low_stock", msg, recipients, subject, len(items), episode_keys=keys)
    assert result is not None  # no dedup key, so the insert always happens
    return result


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
    portal_url: str | None = None,
) -> Enqueued | None:
    """The day's discrepancy digest, once per day (dedup key `discrepancy:<day>`); None when already sent or empty.

    Rows: the last complete day's `analytics.fact_inventory_reconciliation` rows with |discrepancy_amount| >
    tolerance_units or |discrepancy_value| > tolerance_value. Recipients: the fallback list; when empty, every
    active manager (one email), and then it links to the portal's discrepancies and to managing the emails.
    """
    day = last_complete_day(as_of)
    key = f"discrepancy:{day.isoformat()}"
    with transaction(conn) as cur:
        lock_alerting(cur)
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
        rows = [tuple(cell_text(v) for v in r) for r in cur.fetchall()]
        if not rows:
            return None
        to, links = parse_recipients(recipients), []
        if not to:
            to = sorted({m.email for ms in active_managers(cur).values() for m in ms})
            links = portal_links(portal_url, "reconciliation")
        subject = discrepancy_subject(day, len(rows))
        msg = None
        if to:
            to_headers = [mailbox(a) for a in to]
            msg = discrepancy_message(
                day, rows, to_headers, tolerance_units, tolerance_value, sender, now, as_of=as_of, links=links
            )
        return enqueue(cur, "discrepancy", msg, to, subject, len(rows), dedup_key=key)
