"""The minute's analytics on a long-lived Spark Connect server: no JVM starts per run.

The server is Spark's own (`org.apache.spark.sql.connect.service.SparkConnectServer`, shipped in the pyspark
wheel): `make airflow` starts one on 127.0.0.1:15002 (`python -m tools.spark_connect start`), Docker Compose and
Astro run it as the `spark-connect` service. The connection `spark_connect_default` (type `spark_connect`)
points at it; the provider's `SparkConnectHook` turns it into the `sc://` URL.

The task process is a thin client: it builds the application's plans (spark_jobs/build_analytics.py `run`) and
sends them; the server's JVM, its JIT-compiled code and its JDBC connections stay warm between minutes. The
warehouse credentials travel inside the JDBC read and write options over that channel, never on a command line.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from urllib.parse import urlparse

from include.inventory.config import SPARK_CONNECT_CONN_ID
from include.inventory.spark import DRIVER_JAVA_OPTIONS, WarehouseSparkSubmitOperator

log = logging.getLogger(__name__)
DEFAULT_PORT = 15002
_CONNECT_MARKS = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")


class SparkConnectUnavailable(RuntimeError):
    """The Spark Connect server does not answer (not started, stopped, or another address)."""


def server_url(conn_id: str = SPARK_CONNECT_CONN_ID) -> str:
    """The sc:// URL of the connection, through the provider's hook (user id and token included if set)."""
    from airflow.providers.apache.spark.hooks.spark_connect import SparkConnectHook

    return SparkConnectHook(conn_id).get_connection_url()


def address(url: str) -> tuple[str, int]:
    """(host, port) of an sc://host:port/... URL."""
    parsed = urlparse(url)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise ValueError(f"not a Spark Connect URL: {url.split(';')[0]!r} (expected sc://host:port)")
    return parsed.hostname, parsed.port or DEFAULT_PORT


def check_reachable(url: str, conn_id: str = SPARK_CONNECT_CONN_ID, timeout: float = 3.0) -> None:
    """Raise SparkConnectUnavailable naming the server unless its port accepts a connection within `timeout`.

    A TCP check first, because the client itself would retry an absent server with back-off for minutes.
    """
    host, port = address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise SparkConnectUnavailable(
            f"the Spark Connect server at {host}:{port} (connection {conn_id}) does not answer ({exc}). "
            "Start it: `make airflow` starts one locally (or `python -m tools.spark_connect start`); in Docker "
            "Compose and Astro it is the `spark-connect` service. Or point the connection at a running server."
        ) from exc


def build(plan, run_id: str, warehouse, url: str, conn_id: str = SPARK_CONNECT_CONN_ID) -> dict[str, float]:
    """Run the analytics application for `plan` on the server at `url`; returns its phase timings.

    `warehouse`: spark_jobs.jobio.Warehouse (JDBC URL and credentials). Raises SparkConnectUnavailable before
    doing anything when the server does not answer, so the caller can fall back or fail with that message.
    """
    check_reachable(url, conn_id)
    from pyspark.sql import SparkSession

    from spark_jobs import build_analytics

    params = build_analytics.Params(
        as_of=plan.as_of,
        run_id=run_id,
        mode=plan.mode,
        from_date=plan.from_date,
        pairs=tuple(tuple(p) for p in plan.pairs),
        **plan.settings,
    )
    began = time.monotonic()
    # PySpark marks the process as a Spark Connect client in its environment; a spark-submit started from it later
    # (a fallback, or the next task of `dag.test()`) would inherit the mark and refuse to start a classic driver.
    marks = {k: os.environ.get(k) for k in _CONNECT_MARKS}
    spark = SparkSession.builder.remote(url).getOrCreate()
    try:
        timings = build_analytics.run(spark, warehouse, params, log=log.info)
    finally:
        spark.stop()  # releases this run's server-side session; the server itself keeps running
        for key, value in marks.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    timings["session_s"] = round(time.monotonic() - began - timings["total_s"], 2)
    return timings


def driver_java_options(base: str, mode: str) -> str:
    """The spark-submit driver's Java options for a run in `mode`.

    An incremental build is over in seconds: the C1 JIT alone warms up faster. A full rebuild runs for minutes,
    where C2's code pays back its compile time many times over (docs/performance.md).
    """
    return base if mode == "full" else f"{base} -XX:TieredStopAtLevel=1".strip()


class AnalyticsBuildOperator(WarehouseSparkSubmitOperator):
    """Build the analytics tables for the plan of `plan_task_id`: on Spark Connect, or with spark-submit.

    Incremental runs (window, pairs) go to the warm Spark Connect server; full rebuilds, and every run when
    the Variable analytics_engine is spark_submit, run the same application with spark-submit on
    spark_default (a cluster, a backfill). When the server does not answer, the run says so in its log and
    falls back to spark-submit: slower, never half-published (publishing is a later task).
    """

    def __init__(self, *, plan_task_id: str = "plan_refresh", spark_connect_conn_id=SPARK_CONNECT_CONN_ID, **kw):
        super().__init__(**kw)
        self.plan_task_id = plan_task_id
        self.spark_connect_conn_id = spark_connect_conn_id

    def execute(self, context):
        from include.inventory.analytics import plan_from_xcom
        from include.inventory.config import setting

        plan = plan_from_xcom(context["ti"].xcom_pull(task_ids=self.plan_task_id))
        run_id = context["run_id"]
        self.log.info("Plan: %s", plan.summary())
        engine = setting("analytics_engine").strip()
        if plan.mode != "full" and engine == "spark_connect":
            try:
                url = server_url(self.spark_connect_conn_id)
                timings = build(plan, run_id, _jdbc_warehouse(), url, self.spark_connect_conn_id)
                self.log.info("Built on Spark Connect (%s): %s", url.split(";")[0], timings)
                return {"engine": "spark_connect", **timings}
            except SparkConnectUnavailable as exc:
                self.log.warning("%s Falling back to spark-submit on %s for this run.", exc, self._conn_id)
        elif plan.mode != "full":
            self.log.info("Variable analytics_engine=%s: building with spark-submit", engine)
        self.application_args = plan.spark_args(run_id)
        options = driver_java_options((self.conf or {}).get(DRIVER_JAVA_OPTIONS, ""), plan.mode)
        self.conf = {**(self.conf or {}), DRIVER_JAVA_OPTIONS: options}
        super().execute(context)
        return {"engine": "spark_submit"}


def _jdbc_warehouse():
    """spark_jobs.jobio.Warehouse (JDBC URL and credentials) from the connection warehouse_db (inside a task)."""
    from include.inventory.warehouse import Warehouse
    from spark_jobs.jobio import Warehouse as JdbcWarehouse

    w = Warehouse.from_airflow()
    return JdbcWarehouse(w.jdbc_url, w.user, w.password)
