"""How an email reaches an SMTP server: a `Sender` for scripts and tests (plain SMTP to a local sink), and one
through the SMTP provider on the `smtp_default` connection for tasks and callbacks."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from include.inventory.alerts.messages import DEFAULT_SENDER
from include.inventory.alerts.outbox import Sender
from include.inventory.alerts.recipients import validate_address
from include.inventory.config import SMTP_CONN_ID


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
