"""How an email reaches an SMTP server: a `Sender` for scripts and tests (plain SMTP to a local sink), and one
through the SMTP provider on the `smtp_default` connection for tasks and callbacks."""

from __future__ import annotations

import smtplib
import ssl
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
    """A `send` on the SMTP connection `conn_id` as the SMTP provider reads it (call inside a task or callback).

    The provider's public API cannot send a message we built: `SmtpHook.send_email_smtp` (and so `EmailOperator`
    and `SmtpNotifier`) builds its own MIME, HTML only, attachments only from files and a new Date, and the
    logged-in client `get_conn()` opens is private. Our outbox stores the exact message (text, HTML and CSV parts,
    its Message-ID) and must send that. So the connection is read through the hook's public properties (host,
    port, timeout, use_ssl, smtp_starttls, ssl_context, smtp_user, smtp_password, auth_type, access_token), with
    the extras meaning what they mean to the provider (disable_ssl, disable_tls, timeout, ssl_context,
    auth_type), and smtplib sends the stored message as it is. Retries are the outbox's (next run), not the
    connection's retry_limit. OAuth2 works with an `access_token` extra; the client-credentials flow does not.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook, build_xoauth2_string

    hook = SmtpHook(smtp_conn_id=conn_id)
    hook.smtp_connection = hook.get_connection(conn_id)  # what get_conn() loads before it connects
    oauth2 = hook.auth_type == "oauth2"
    if oauth2 and not hook.access_token:
        raise ValueError(
            f"SMTP connection {conn_id} has auth_type oauth2 without an access_token extra: alert emails need "
            "the token itself (or a login and password)"
        )

    def send(msg: EmailMessage) -> Mapping[str, Any]:
        # The provider's ssl_context extra: unset or "default" verifies the server's certificate, "none" does not.
        context = None if hook.ssl_context == "none" else ssl.create_default_context()
        if hook.use_ssl:
            client = smtplib.SMTP_SSL(hook.host, hook.port or 0, timeout=hook.timeout, context=context)
        else:
            client = smtplib.SMTP(hook.host, hook.port or 0, timeout=hook.timeout)
        with client:
            if hook.smtp_starttls and not hook.use_ssl:  # STARTTLS upgrades a plain connection only
                client.starttls(context=context)
                client.ehlo()
            if oauth2:
                identity = hook.smtp_user or hook.from_email
                client.auth("XOAUTH2", lambda _=None: build_xoauth2_string(identity, hook.access_token))
            elif hook.smtp_user and hook.smtp_password:
                client.login(hook.smtp_user, hook.smtp_password)
            return client.send_message(msg)

    return send


def airflow_sender_address(conn_id: str = SMTP_CONN_ID) -> str:
    """The `from_email` extra of the SMTP connection, or DEFAULT_SENDER."""
    from airflow.sdk import BaseHook

    value = BaseHook.get_connection(conn_id).extra_dejson.get("from_email") or DEFAULT_SENDER
    return validate_address(value)
