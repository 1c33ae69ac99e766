"""spark-submit exactly as the analytics DAG runs it: the command comes from the DAG's own operator settings.

The `build_analytics` task of `build_inventory_analytics` is loaded from the DAG file, and its conf, jars, driver
memory and name go through the Spark provider's hook, which builds the command line the task would run. The
warehouse credentials reach the driver through its environment (`include.inventory.spark.driver_env`: a spark-submit
started here, on this machine); the DAG's operator writes them into a private properties file instead, which the job
reads first (spark_jobs/jobio.py), so both give the job the same settings.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = PROJECT_ROOT / "dags" / "build_inventory_analytics.py"
BUILD_APP = PROJECT_ROOT / "spark_jobs" / "build_analytics.py"


@dataclass(frozen=True)
class SubmitSettings:
    conn_id: str
    conf: dict
    driver_memory: str
    name: str
    jars: str


@cache
def dag_settings() -> SubmitSettings:
    """The build_analytics task's spark-submit settings, read from the DAG (the jar Variable rendered from env)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    if bag.import_errors:
        raise RuntimeError(f"{DAG_FILE.name} does not import: {bag.import_errors}")
    task = bag.dags["build_inventory_analytics"].get_task("build_analytics")
    jar = os.environ.get("AIRFLOW_VAR_SPARK_JDBC_JAR") or os.environ.get(
        "SPARK_JDBC_JAR", "/usr/share/java/postgresql.jar"
    )
    return SubmitSettings(task._conn_id, dict(task.conf or {}), task._driver_memory, task.name, jar)


def submit_command(application: Path, args: list[str], extra_conf: dict | None = None) -> list[str]:
    """The spark-submit argv for `application`, built by the provider's hook from the DAG task's settings."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    s = dag_settings()
    hook = SparkSubmitHook(
        conf={**s.conf, **(extra_conf or {})},
        conn_id=s.conn_id,
        jars=s.jars,
        driver_memory=s.driver_memory,
        name=s.name,
        application_args=args,
    )
    return hook._build_spark_submit_command(str(application))  # the command hook.submit() would run


@dataclass
class SparkRun:
    seconds: float
    returncode: int
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since launch, line)

    def tail(self, n: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


def run(command: list[str], env: dict[str, str], log_path: Path | None = None) -> SparkRun:
    """Run spark-submit, keeping every output line with the time it appeared; raise with the tail on failure."""
    began = time.monotonic()
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.monotonic() - began, line.rstrip("\n")))
    returncode = proc.wait()
    result = SparkRun(time.monotonic() - began, returncode, lines)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(f"{t:8.2f} {line}\n" for t, line in lines))
    if returncode != 0:
        raise RuntimeError(f"spark-submit {command[-1]} failed (exit {returncode}):\n{result.tail()}")
    return result
