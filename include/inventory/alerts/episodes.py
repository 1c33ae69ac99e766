"""Low-stock episodes: the rule for one product x warehouse (`next_episode_state`) and applying it to the current
stock (`update_episodes`, step 1 of an alerting run)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.db import transaction

logger = logging.getLogger(__name__)

LOW, CRITICAL = "low", "critical"
ALERTS_LOCK = "inventory.alerts"


@dataclass(frozen=True)
class Transition:
    state: str | None  # after the observation: None (no open episode), "low" or "critical"
    event: str | None  # "opened", "escalated", "closed", or None when nothing changed


def next_episode_state(prev_state: str | None, low: bool, out: bool) -> Transition:
    """The episode rule for one pair: opens when it is low, escalates once on a stock-out, closes when it is not.

    `low` and `out` are what the published tables say (`analytics.low_stock_data` holds the pair; its
    `is_stock_out`): the low-stock rule itself is the analytics transform's, written once, not re-derived here.
    A critical episode stays critical until it closes (restocked then sold out again is not a second
    escalation), so a manager hears about each stock-out once.
    """
    if prev_state not in (None, LOW, CRITICAL):
        raise ValueError(f"unknown episode state {prev_state!r}")
    if out and not low:
        raise ValueError("a pair out of stock is low on stock")
    if not low:
        return Transition(None, "closed" if prev_state else None)
    if prev_state is None:
        return Transition(CRITICAL if out else LOW, "opened")
    if prev_state == LOW and out:
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


def lock_alerting(cur: PgCursor) -> None:
    """One alerting run at a time: two overlapping runs could otherwise enqueue the same episode twice."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (ALERTS_LOCK,))


def update_episodes(conn: PgConnection, as_of: datetime) -> list[EpisodeChange]:
    """Apply `next_episode_state` to every pair that is low (`analytics.low_stock_data`) or has an open episode.

    One transaction; its cost follows the low pairs, not all pairs. A pair whose episode is open but which is
    missing from `analytics.current_stock` keeps its episode as it is. A run older than the latest episode change
    (a re-run of an old DAG run) changes nothing: its stock levels are no longer current.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    changes: list[EpisodeChange] = []
    with transaction(conn) as cur:
        lock_alerting(cur)
        cur.execute("SELECT max(greatest(opened_at, closed_at)) FROM alerts.low_stock_episodes")
        (latest,) = cur.fetchone()
        if latest is not None and as_of < latest:
            logger.warning("episodes were last changed at %s, after as_of %s: not updating them", latest, as_of)
            return changes
        cur.execute(
            """
            SELECT coalesce(l.product_id, e.product_id), coalesce(l.warehouse_id, e.warehouse_id),
                   l.product_id IS NOT NULL, coalesce(l.is_stock_out, false), coalesce(l.quantity, c.quantity),
                   e.episode_id, e.level, e.last_quantity
            FROM analytics.low_stock_data l
            FULL JOIN (SELECT * FROM alerts.low_stock_episodes WHERE closed_at IS NULL) e
                ON e.product_id = l.product_id AND e.warehouse_id = l.warehouse_id
            LEFT JOIN analytics.current_stock c
                ON l.product_id IS NULL AND c.product_id = e.product_id AND c.warehouse_id = e.warehouse_id
            ORDER BY 1, 2
            """
        )
        for product_id, warehouse_id, low, out, quantity, episode_id, level, last_quantity in cur.fetchall():
            if quantity is None:
                continue  # not in current_stock (any more): nothing to go by
            step = next_episode_state(level, low, out)
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
