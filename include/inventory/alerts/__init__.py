"""Alert emails: low stock to inventory managers, the daily discrepancy digest, and task-failure notifications.

One run (`run.run_alerts`, the analytics DAG's `send_alerts` task) does four things, each in its own transaction:

1. `episodes.update_episodes`: reads `analytics.current_stock` and opens, escalates or closes low-stock episodes
   (`alerts.low_stock_episodes`; the rule is the pure `episodes.next_episode_state`).
2. `digests.enqueue_low_stock_digests`: one digest per manager listing the episodes of their location's warehouses
   that opened (or became critical) since their last email; uncovered warehouses go to the fallback recipients.
   The outbox rows and the episodes' `notified_level` are written together, so no episode is emailed twice.
3. `digests.enqueue_discrepancy_digest`: once per day, the reconciliation rows of the last complete day whose
   discrepancy exceeds the tolerances; `freshness.check_freshness`: one email when the published analytics fall
   behind the minute by more than the limit, one when they are back (the minute ingest DAG checks too).
4. `outbox.deliver_pending`: sends every unsent outbox row (`alerts.alert_log`) through the injected `send`
   (`smtp.py` builds one).

Every email is an outbox row before it is sent, holding the exact MIME text (`messages.py` renders it): when the
SMTP server is down, rows stay pending and go out on the next run, with the same Message-ID. `failure.notify_failure`
(every DAG's `on_failure_callback`) uses the same outbox. Who may receive what: `recipients.py`. docs/alerts.md
describes who gets what.

The public names of the modules are available here too (`from include.inventory import alerts;
alerts.run_alerts(...)`), imported on first use: importing `include.inventory.alerts.failure`, as every DAG file
does through dag_defaults, must not load the rest (rendering, the outbox, Faker) while DAGs are parsed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "episodes": ("CRITICAL", "LOW", "EpisodeChange", "Transition", "next_episode_state", "update_episodes"),
    "recipients": (
        "InvalidAddress",
        "Manager",
        "active_managers",
        "mailbox",
        "one_line",
        "parse_recipients",
        "seed_managers",
        "validate_address",
    ),
    "messages": (
        "DEFAULT_SENDER",
        "DISCREPANCY_COLUMNS",
        "LOW_STOCK_COLUMNS",
        "build_message",
        "failure_message",
        "low_stock_message",
    ),
    "outbox": ("MAX_ATTEMPTS", "NO_RECIPIENT", "Enqueued", "Sender", "deliver_pending", "enqueue", "enqueue_failure"),
    "digests": ("enqueue_discrepancy_digest", "enqueue_low_stock_digests", "last_complete_day"),
    "smtp": ("airflow_sender_address", "smtp_sender", "smtp_sender_from_airflow"),
    "failure": ("notify_failure",),
    "run": ("RunSummary", "run_alerts", "run_alerts_from_airflow"),
    "freshness": ("FreshnessChange", "check_freshness", "check_freshness_from_airflow"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """`alerts.<public name>`: imported from its module on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
