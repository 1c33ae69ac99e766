"""The one set of DAG defaults every DAG of the project uses (owner, retries, timeouts)."""

from __future__ import annotations

from datetime import timedelta

from include.inventory.alerts.failure import notify_failure

OWNER = "inventory-data-eng"


def default_args(
    *,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=1),
    max_retry_delay: timedelta = timedelta(minutes=10),
    execution_timeout: timedelta = timedelta(minutes=30),
    exponential_backoff: bool = True,
) -> dict:
    """default_args for a DAG; pass shorter delays and timeouts for the per-minute DAGs."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": exponential_backoff,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        # Every failed task emails the on-call address (recorded in alerts.alert_log).
        "on_failure_callback": notify_failure,
    }
