"""Scale-out: the analytics DAG, unchanged, on a real Spark standalone cluster gives the `local[2]` tables.

A master and two one-core workers are started on loopback from the pyspark installation (the same
`spark-class` launchers a cluster runs), `spark_default` is pointed at the master, and the DAG runs for the same
logical date on the same raw data once on `local[2]` and once on the cluster (both full rebuilds). The published
tables must be equal, row for row; and the cluster run must really have run there: the master lists the
finished application, and each worker ran one of its executors, which fetched the JDBC driver from the
driver (`--jars`) and ran tasks, the JDBC reads among them.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from analytics_helpers import published, run_analytics
from spark_standalone import executor_logs, standalone_cluster

from include.inventory import analytics, config
from include.inventory import simulation as sim

pytestmark = pytest.mark.slow

CONFIG = sim.SimConfig(seed=808, locations=2, warehouses=3, suppliers=5, shrinkage_per_pair_day=0.05)
END = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 25
PRODUCTS = 30
RUN_AT = END + timedelta(hours=1)


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A standalone master and two one-core workers on 127.0.0.1 (tests/integration/spark_standalone.py)."""
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def history(airflow_db, simulated_history):
    """DAYS days of history for PRODUCTS products x 3 warehouses (fixed seed)."""
    with simulated_history(CONFIG, END, DAYS, PRODUCTS, "cluster") as conn:
        yield conn


def publishes(conn) -> list[str]:
    """The mode of every publish so far, oldest first."""
    with conn.cursor() as cur:
        cur.execute("SELECT mode FROM analytics.publish_log ORDER BY publish_id")
        out = [mode for (mode,) in cur.fetchall()]
    conn.rollback()
    return out


def test_cluster_run_publishes_the_local_tables(history, spark_cluster, monkeypatch):
    run_analytics(RUN_AT, full_refresh=True)  # spark_default as configured: local[2]
    local = published(history)
    local_publishes = publishes(history)
    assert all(local.values()), {t: len(rows) for t, rows in local.items()}

    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": "spark://127.0.0.1", "port": spark_cluster.port}),
    )
    # The driver (spark-submit, client mode) binds to loopback like the daemons, whatever the hostname resolves to.
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    started = time.monotonic()
    run_analytics(RUN_AT, full_refresh=True)
    print(f"\ncluster run of build_inventory_analytics: {time.monotonic() - started:.1f} s")

    # It ran on the cluster, not silently in local mode: the master ran exactly this application, ...
    apps = spark_cluster.status()["completedapps"]
    assert [(a["name"].split()[0], a["state"]) for a in apps] == [("build_inventory_analytics", "FINISHED")], apps
    # ... both workers ran an executor for it, each fetched the JDBC driver the task passed as --jars (the
    # Variable spark_jdbc_jar) from the driver, and ran tasks (the JDBC reads among them).
    jar = f"/jars/{Path(config.env_setting('spark_jdbc_jar')).name}"
    logs = executor_logs(spark_cluster, apps[0]["id"])
    ran = {str(work_dir): (jar in text, "Running task" in text) for work_dir, text in logs.items()}
    assert all(fetched and tasks for fetched, tasks in ran.values()), ran
    # The executors ran JVM tasks only: no Python worker (PythonRunner logs each Python task it runs).
    assert not [str(work_dir) for work_dir, text in logs.items() if "PythonRunner" in text]
    # The cluster run's build passed the gate and was published (a full publish applies only rows that changed,
    # so equal tables keep their rows: the publish log shows it) ...
    assert publishes(history) == [*local_publishes, "full"]
    # ... with exactly the local[2] rows.
    cluster = published(history)
    assert set(cluster) == set(local) == set(analytics.EXPECTED_TABLES)
    for table in analytics.EXPECTED_TABLES:
        assert cluster[table] == local[table], table
