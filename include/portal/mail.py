"""The portal's emails (confirm an address, reset a password, "you already have an account") through the alerts
outbox, `alerts.alert_log`, as rows of kind `account`.

The row is written in the same transaction as what it announces (the pending registration, the reset), so a link is
never emailed for something that was rolled back, and nothing is lost when the SMTP server is down: the portal
sends its row right after answering the request, and the alerting run's `deliver_pending` sends whatever is still
pending. The links are single-use and expire (`security.LinkSigner`, `accounts`), so a copy in the outbox is no
key once used or old.
"""

from __future__ import annotations

import html
import smtplib
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory import alerts
from include.inventory.alerts.outbox import enqueue as outbox_enqueue
from include.inventory.alerts.recipients import mailbox
from include.portal.config import SmtpSettings

KIND = "account"


def link_message(
    *,
    sender: str,
    to_email: str,
    to_name: str,
    subject: str,
    paragraphs: Sequence[str],
    links: Sequence[tuple[str, str]],
    now: datetime,
) -> EmailMessage:
    """A short email: a greeting, paragraphs, and (label, URL) links, in plain text and HTML."""
    greeting = f"Hello {alerts.one_line(to_name)}," if to_name else "Hello,"
    text_links = [f"{label}:\n{url}" for label, url in links]
    text = "\n\n".join([greeting, *paragraphs, *text_links]) + "\n"
    body = "".join(f"<p>{html.escape(p)}</p>" for p in [greeting, *paragraphs])
    body += "".join(
        f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a><br>'
        f'<span style="font-size:small">{html.escape(url)}</span></p>'
        for label, url in links
    )
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head>'
        f"<body>{body}</body></html>"
    )
    return alerts.build_message(
        sender=sender,
        to=[mailbox(to_email, to_name)],
        subject=subject,
        text=text,
        html_body=page,
        now=now,
    )


def enqueue(cur: PgCursor, msg: EmailMessage, to_email: str) -> int:
    """Put the message in the outbox (in the caller's transaction); returns its alert_id."""
    done = outbox_enqueue(cur, KIND, msg, [to_email], msg["Subject"], 1)
    assert done is not None  # no dedup key: the insert always happens
    return done.alert_id


def smtp_sender(smtp: SmtpSettings) -> alerts.Sender:
    """Send through the configured server: SMTP over TLS, STARTTLS or plain, with a login when one is set."""

    def send(msg: EmailMessage) -> Mapping[str, Any]:
        client_class = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
        with client_class(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.login:
                client.login(smtp.login, smtp.password)
            return client.send_message(msg)

    return send


def deliver(conn: PgConnection, smtp: SmtpSettings, alert_ids: Sequence[int]) -> dict[str, Any]:
    """Send these outbox rows now (the outbox's rules: each once; on failure they stay pending for the next run)."""
    return alerts.deliver_pending(conn, smtp_sender(smtp), alert_ids=list(alert_ids))
