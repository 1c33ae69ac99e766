"""Scale-out: the analytics DAG, unchanged, on a real Spark standalone cluster gives the `local[2]` tables.

A master and two one-core workers are started on loopback from the pyspark installation (the same
`spark-class` launchers a cluster runs), `spark_default` is pointed at the master, and the DAG runs for the same
logical date on the same raw data once on `local[2]` and once on the cluster (both full rebuilds). The published
tables must be equal, row for row; and the cluster run must really have run there: the master lists the
finished application, and each worker ran one of its executors, which fetched the JDBC driver from the
driver (`--jars`) and ran tasks, the JDBC reads among them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyspark
import pytest
from analytics_helpers import published, run_analytics

from include.inventory import analytics, config
from include.inventory import simulation as sim

pytestmark = pytest.mark.slow

SPARK_CLASS = Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"
CONFIG = sim.SimConfig(seed=808, locations=2, warehouses=3, suppliers=5, shrinkage_per_pair_day=0.05)
END = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 25
PRODUCTS = 30
RUN_AT = END + timedelta(hours=1)
WORKERS = 2
STARTUP_TIMEOUT_S = 120


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens on it, else a port the kernel picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError("unreachable: binding port 0 always succeeds")


def tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class SparkCluster:
    master_url: str
    port: int
    webui: str
    work_dirs: list[Path]
    logs: list[Path]

    def status(self) -> dict:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever http_proxy says
        with no_proxy.open(f"{self.webui}/json/", timeout=5) as response:
            return json.load(response)

    def log_tails(self) -> str:
        return "\n".join(f"--- {log.name}\n{tail(log)}" for log in self.logs)


def start_daemon(log: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`spark-class ARGS` in a session (process group) of its own, so stopping it stops its executors too."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(SPARK_CLASS), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_daemons(daemons: list[subprocess.Popen], timeout_s: float = 20) -> None:
    """SIGTERM every daemon's process group, SIGKILL what is left of a group after `timeout_s`."""
    for daemon in daemons:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for daemon in daemons:
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=max(0.1, deadline - time.monotonic()))
        try:  # executors the worker forked are in its group and may outlive it for a moment
            while time.monotonic() < deadline:
                os.killpg(daemon.pid, 0)
                time.sleep(0.2)
            os.killpg(daemon.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        daemon.wait()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A standalone master and two workers (1 core, 1 GiB each) on 127.0.0.1, stopped with their executors."""
    root = tmp_path_factory.mktemp("spark-cluster")
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_PID_DIR": str(root / "pids"),
        "SPARK_DAEMON_MEMORY": "512m",
        # The job runs no Python on executors; were it to, this is the interpreter they would start.
        "PYSPARK_PYTHON": sys.executable,
    }
    port, webui_port = free_port(7077), free_port()  # the usual 7077 unless something else holds it
    cluster = SparkCluster(f"spark://127.0.0.1:{port}", port, f"http://127.0.0.1:{webui_port}", [], [])
    daemons: list[subprocess.Popen] = []
    try:
        cluster.logs.append(root / "master.log")
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
        daemons.append(start_daemon(cluster.logs[-1], [*master, "--webui-port", str(webui_port)], env))
        for i in range(WORKERS):
            cluster.work_dirs.append(root / f"worker-{i}")
            cluster.logs.append(root / f"worker-{i}.log")
            worker = ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1", "--memory", "1g"]
            places = ["--work-dir", str(cluster.work_dirs[-1]), "--webui-port", str(free_port())]
            daemons.append(start_daemon(cluster.logs[-1], [*worker, *places, cluster.master_url], env))
        deadline, alive = time.monotonic() + STARTUP_TIMEOUT_S, 0
        while alive < WORKERS:
            exited = [d.args[1] for d in daemons if d.poll() is not None]
            if exited or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Spark standalone cluster at {cluster.master_url} not up after {STARTUP_TIMEOUT_S} s "
                    f"({alive}/{WORKERS} workers ALIVE; exited: {exited or 'none'}):\n{cluster.log_tails()}"
                )
            with contextlib.suppress(OSError):  # the master's web UI is not listening yet
                alive = sum(w["state"] == "ALIVE" for w in cluster.status()["workers"])
            time.sleep(1)
        yield cluster
    finally:
        stop_daemons(daemons)


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


def executor_logs(cluster: SparkCluster, app_id: str) -> dict[Path, str]:
    """Each worker's executor stderr for the application, by worker work dir (empty when it ran none)."""
    return {
        work_dir: "".join(p.read_text(errors="replace") for p in sorted((work_dir / app_id).glob("*/stderr")))
        for work_dir in cluster.work_dirs
    }


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
