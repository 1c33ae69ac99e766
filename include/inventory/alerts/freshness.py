"""Freshness alerts: one email to on-call when the published analytics fall behind the minute, one when they are
back, whoever notices first (the analytics DAG after a publish, or the minute ingest DAG while analytics stalls).

The lag is what a dashboard reader sees: now minus the newest source minute published (`analytics.publish_log`,
its `as_of`). A lag over the limit opens a freshness episode (`alerts.freshness_episodes`, at most one open) and
queues a "behind" email; a lag back within the limit closes it and queues a "caught up" email. Both go through
the outbox with a dedup key of the episode, so each is sent once, however many tasks check.
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from psycopg2.extensions import connection as PgConnection

from include.inventory.alerts.episodes import lock_alerting
from include.inventory.alerts.messages import DEFAULT_SENDER, _html_page, build_message
from include.inventory.alerts.outbox import enqueue
from include.inventory.alerts.recipients import mailbox, validate_address
from include.inventory.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreshnessChange:
    episode_id: int
    event: str  # behind | caught_up
    lag_seconds: float
    alert_id: int | None


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def freshness_message(
    event: str, lag_seconds: float, limit: timedelta, as_of: datetime, worst_seconds: float, recipient: str, sender: str
) -> EmailMessage:
    limit_s = limit.total_seconds()
    if event == "behind":
        subject = f"[airflow] analytics {_minutes(lag_seconds)} behind the minute (limit {_minutes(limit_s)})"
        lead = (
            f"The analytics tables readers see are {_minutes(lag_seconds)} behind: the newest source minute "
            f"published is {as_of:%Y-%m-%d %H:%M} UTC. Look at the runs of build_inventory_analytics (and of "
            "insert_fake_inventory_dag) in the Airflow UI, and at the Spark Connect server. You will get one more "
            "email when they have caught up."
        )
    else:
        subject = f"[airflow] analytics caught up: {_minutes(lag_seconds)} behind (worst {_minutes(worst_seconds)})"
        lead = (
            f"The analytics tables are back within {_minutes(limit_s)} of the minute: the newest source minute "
            f"published is {as_of:%Y-%m-%d %H:%M} UTC. The lag was at most {_minutes(worst_seconds)}."
        )
    base_url = os.environ.get("AIRFLOW__API__BASE_URL", "").rstrip("/")
    link = f"{base_url}/dags/build_inventory_analytics" if base_url.startswith(("http://", "https://")) else ""
    text = lead + (f"\n\nRuns: {link}" if link else "") + "\n"
    body = f"<p>{html.escape(lead)}</p>" + (
        f'<p><a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>' if link else ""
    )
    page = _html_page(subject, [], body)
    return build_message(sender=sender, to=[mailbox(recipient)], subject=subject, text=text, html_body=page)


def check_freshness(
    conn: PgConnection, now: datetime, limit: timedelta, recipient: str, sender: str = DEFAULT_SENDER
) -> FreshnessChange | None:
    """Open or close the freshness episode for the lag at `now`; queue its email. None when nothing changed.

    Before the first publish there is no lag to speak of. Runs under the alerting lock, so two tasks checking at
    once cannot both open (or close) the episode.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    recipient = validate_address(recipient)
    with transaction(conn) as cur:
        lock_alerting(cur)
        cur.execute("SELECT max(as_of) FROM analytics.publish_log")
        (as_of,) = cur.fetchone()
        if as_of is None:
            return None
        lag = max(0.0, (now - as_of).total_seconds())
        cur.execute(
            "SELECT episode_id, worst_lag_seconds FROM alerts.freshness_episodes WHERE closed_at IS NULL FOR UPDATE"
        )
        row = cur.fetchone()
        late = lag > limit.total_seconds()
        if row is None and not late:
            return None
        if row is None:
            cur.execute(
                "INSERT INTO alerts.freshness_episodes (opened_at, as_of_at_open, worst_lag_seconds) "
                "VALUES (%s, %s, %s) RETURNING episode_id",
                (now, as_of, lag),
            )
            episode_id, event, worst = cur.fetchone()[0], "behind", lag
        elif late:
            cur.execute(
                "UPDATE alerts.freshness_episodes SET worst_lag_seconds = greatest(worst_lag_seconds, %s) "
                "WHERE episode_id = %s",
                (lag, row[0]),
            )
            return None
        else:
            episode_id, event, worst = row[0], "caught_up", float(row[1])
            cur.execute(
                "UPDATE alerts.freshness_episodes SET closed_at = %s, lag_at_close_seconds = %s WHERE episode_id = %s",
                (now, lag, episode_id),
            )
        msg = freshness_message(event, lag, limit, as_of, worst, recipient, sender)
        key = f"freshness:{episode_id}:{event}"
        done = enqueue(cur, "freshness", msg, [recipient], msg["Subject"], 1, dedup_key=key)
    logger.log(logging.WARNING if event == "behind" else logging.INFO, "%s", msg["Subject"])
    return FreshnessChange(episode_id, event, lag, done.alert_id if done else None)


def check_freshness_from_airflow(now: datetime) -> FreshnessChange | None:
    """check_freshness inside a task: the limit and on-call address from the Variables, then the outbox is sent."""
    from include.inventory.alerts.outbox import deliver_pending
    from include.inventory.alerts.smtp import airflow_sender_address, smtp_sender_from_airflow
    from include.inventory.config import setting
    from include.inventory.warehouse import Warehouse

    limit = timedelta(minutes=float(setting("freshness_limit_minutes")))
    if limit <= timedelta(0):
        return None  # switched off (the demo and the tests publish simulated days of the past)
    with Warehouse.from_airflow().connect() as conn:
        change = check_freshness(conn, now, limit, setting("oncall_email"), airflow_sender_address())
        if change is not None and change.alert_id is not None:
            deliver_pending(conn, smtp_sender_from_airflow(), alert_ids=[change.alert_id])
    return change
