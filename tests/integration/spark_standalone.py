"""A Spark standalone cluster on loopback for the integration tests: a master and workers started from the pyspark
installation (the same `spark-class` launchers a cluster runs), stopped with their executors.

    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2) as cluster:
        ...  # cluster.master_url, cluster.port; cluster.status() is the master's JSON view
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_CLASS = Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"
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


@contextmanager
def standalone_cluster(root: Path, workers: int = 2) -> Iterator[SparkCluster]:
    """A standalone master and `workers` workers (1 core, 1 GiB each) on 127.0.0.1, stopped with their executors."""
    root.mkdir(parents=True, exist_ok=True)
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
        for i in range(workers):
            cluster.work_dirs.append(root / f"worker-{i}")
            cluster.logs.append(root / f"worker-{i}.log")
            worker = ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1", "--memory", "1g"]
            places = ["--work-dir", str(cluster.work_dirs[-1]), "--webui-port", str(free_port())]
            daemons.append(start_daemon(cluster.logs[-1], [*worker, *places, cluster.master_url], env))
        deadline, alive = time.monotonic() + STARTUP_TIMEOUT_S, 0
        while alive < workers:
            exited = [d.args[1] for d in daemons if d.poll() is not None]
            if exited or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Spark standalone cluster at {cluster.master_url} not up after {STARTUP_TIMEOUT_S} s "
                    f"({alive}/{workers} workers ALIVE; exited: {exited or 'none'}):\n{cluster.log_tails()}"
                )
            with contextlib.suppress(OSError):  # the master's web UI is not listening yet
                alive = sum(w["state"] == "ALIVE" for w in cluster.status()["workers"])
            time.sleep(1)
        yield cluster
    finally:
        stop_daemons(daemons)


def executor_logs(cluster: SparkCluster, app_id: str) -> dict[Path, str]:
    """Each worker's executor stderr for the application, by worker work dir (empty when it ran none)."""
    return {
        work_dir: "".join(p.read_text(errors="replace") for p in sorted((work_dir / app_id).glob("*/stderr")))
        for work_dir in cluster.work_dirs
    }
