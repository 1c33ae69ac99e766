"""The `on_failure_callback` every DAG uses (through dag_defaults): email the on-call address about a failed task.

DAG files import this module when they are parsed, so it imports nothing at module level beyond the standard
library: rendering, the outbox, SMTP and the warehouse are imported when a task actually fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

logger = logging.getLogger(__name__)


def notify_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback`: email the on-call address (Variable `oncall_email`) through the outbox.

    The warehouse may be why the task failed: when it cannot be reached the email is sent directly, unrecorded.
    A callback must not raise, so every error is logged instead.
    """
    try:
        from include.inventory.alerts.messages import failure_message
        from include.inventory.alerts.outbox import deliver_pending, enqueue_failure
        from include.inventory.alerts.recipients import validate_address
        from include.inventory.alerts.smtp import airflow_sender_address, smtp_sender_from_airflow
        from include.inventory.config import setting
        from include.inventory.warehouse import Warehouse

        recipient = validate_address(setting("oncall_email"))
        sender = airflow_sender_address()
        send = smtp_sender_from_airflow()
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("cannot build the failure notification")
        return
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(Warehouse.from_airflow().connect())
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
