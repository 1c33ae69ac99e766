"""The outbox, `alerts.alert_log`: every email is a row holding its exact MIME text before it is sent, so an SMTP
outage delays it (same Message-ID) and never loses or repeats it. `deliver_pending` sends what is due."""

from __future__ import annotations

import email
import logging
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.alerts.messages import DEFAULT_SENDER, MAIL_POLICY, failure_fields, failure_message
from include.inventory.alerts.recipients import one_line, validate_address
from include.inventory.db import transaction

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
NO_RECIPIENT = "no recipient"


# send(message) hands one message to an SMTP server; it returns the recipients the server refused (smtplib's
# convention), or None.
Sender = Callable[[EmailMessage], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Enqueued:
    alert_id: int
    kind: str
    recipients: tuple[str, ...]
    rows: int
    status: str  # pending, or failed when nobody could receive it


def enqueue(
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


def enqueue_failure(
    conn: PgConnection, context: Mapping[str, Any], recipient: str, sender: str = DEFAULT_SENDER
) -> int:
    """Record a failure notification in the outbox (once per task try); returns its alert_id."""
    f = failure_fields(context)
    key = ":".join(["failure", f["dag_id"], f["task_id"], f["run_id"], f["map_index"], f["try_number"]])
    msg = failure_message(context, recipient, sender)
    with transaction(conn) as cur:
        done = enqueue(cur, "failure", msg, [validate_address(recipient)], msg["Subject"], 1, dedup_key=key)
        if done is not None:
            return done.alert_id
        cur.execute("SELECT alert_id FROM alerts.alert_log WHERE dedup_key = %s", (key,))
        return cur.fetchone()[0]


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
