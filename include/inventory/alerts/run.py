"""One alerting run, the `send_alerts` task: update the episodes, enqueue the digests, check the freshness,
deliver the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg2.extensions import connection as PgConnection

from include.inventory.alerts.digests import enqueue_discrepancy_digest, enqueue_low_stock_digests
from include.inventory.alerts.episodes import update_episodes
from include.inventory.alerts.freshness import check_freshness
from include.inventory.alerts.messages import DEFAULT_SENDER
from include.inventory.alerts.outbox import MAX_ATTEMPTS, Sender, deliver_pending
from include.inventory.alerts.recipients import parse_recipients
from include.inventory.alerts.smtp import airflow_sender_address, smtp_sender_from_airflow


@dataclass
class RunSummary:
    episodes: dict[str, int] = field(default_factory=lambda: {"opened": 0, "escalated": 0, "closed": 0})
    enqueued: dict[str, dict[str, int]] = field(default_factory=dict)
    undeliverable: int = 0
    delivery: dict[str, Any] = field(default_factory=dict)
    freshness: str | None = None  # behind / caught_up when this run opened or closed a freshness episode

    def as_dict(self) -> dict[str, Any]:
        return {
            "episodes": dict(self.episodes),
            "enqueued": {k: dict(v) for k, v in self.enqueued.items()},
            "undeliverable": self.undeliverable,
            "delivery": dict(self.delivery),
            "freshness": self.freshness,
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
    freshness_limit: timedelta | None = None,
    oncall: str | None = None,
    portal_url: str | None = None,
) -> dict[str, Any]:
    """One alerting run: update episodes, enqueue the digests, deliver the outbox. Returns a summary dict:

    `episodes` (opened/escalated/closed counts), `enqueued` (per recipient: low_stock items and discrepancy rows
    queued for them this run), `undeliverable` (rows recorded failed with no recipient) and `delivery`
    (deliver_pending's report: sent/pending/failed/deferred, sent_to per recipient, errors).
    """
    fallback = parse_recipients(fallback_recipients)
    summary = RunSummary()
    for change in update_episodes(conn, as_of):
        summary.episodes[change.event] += 1
    queued = enqueue_low_stock_digests(conn, threshold, fallback, sender, now, portal_url, as_of)
    digest = enqueue_discrepancy_digest(
        conn, as_of, tolerance_units, tolerance_value, fallback, sender, now, portal_url
    )
    for item in [*queued, *([digest] if digest else [])]:
        if not item.recipients:
            summary.undeliverable += 1
        for address in item.recipients:
            counts = summary.enqueued.setdefault(address, {"low_stock": 0, "discrepancy": 0})
            counts[item.kind] += item.rows
    if freshness_limit is not None and freshness_limit > timedelta(0) and oncall:
        change = check_freshness(conn, now or datetime.now(UTC), freshness_limit, oncall, sender)
        summary.freshness = change.event if change else None
    summary.delivery = deliver_pending(conn, send, max_attempts)
    return summary.as_dict()


def run_alerts_from_airflow(as_of: datetime, threshold: int) -> dict[str, Any]:
    """`run_alerts` inside a task: the warehouse, SMTP connection and Variables from Airflow; the low-stock
    threshold is the run's (resolved once by the analytics plan)."""
    from include.inventory.config import setting
    from include.inventory.warehouse import Warehouse

    with Warehouse.from_airflow().connect() as conn:
        return run_alerts(
            conn,
            as_of,
            threshold,
            smtp_sender_from_airflow(),
            setting("alert_email_recipients"),
            sender=airflow_sender_address(),
            tolerance_units=int(setting("discrepancy_tolerance_units")),
            tolerance_value=Decimal(setting("discrepancy_tolerance_value")),
            freshness_limit=timedelta(minutes=float(setting("freshness_limit_minutes"))),
            oncall=setting("oncall_email"),
            portal_url=setting("portal_base_url"),
        )
