"""The minute cycle through Airflow's own code paths: the minute ingest DAG, then the analytics DAG, by dag.test().

A cycle is one run of `insert_fake_inventory_dag` for one minute after the history (catalogue from a dummyjson
stand-in on loopback, master data, simulate and load, audit check), then one run of `build_inventory_analytics`
as of that minute's end (plan, incremental build on the Spark Connect server given by `spark_connect_default`,
quality gate, publish, alerts to an SMTP sink).
dag.test() runs every task in this process, as the tests do; a real deployment adds its scheduler's latency.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
MINUTE_DAG = "insert_fake_inventory_dag"
ANALYTICS_DAG = "build_inventory_analytics"


LOG_FILE: Path | None = None  # where the DAG runs' own output goes (set by the runner); None: to the console


@contextmanager
def _quiet():
    """Send what dag.test() and the tasks print to LOG_FILE, so the console shows the bench's progress only."""
    if LOG_FILE is None:
        yield
        return
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("a") as f, redirect_stdout(f), redirect_stderr(f):
        yield


@cache
def load_dag(dag_id: str):
    """Parsed once per process: every cycle runs the same DAG object (and none pays the parse)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    if bag.import_errors:
        raise RuntimeError(f"{dag_id} does not import: {bag.import_errors}")
    return bag.dags[dag_id]


def _succeeded(run, what: str, must_run: tuple[str, ...] = ()) -> dict[str, float]:
    """Task durations of a successful run; raise unless the run and every task in `must_run` succeeded.

    dag.test() can end a run it cannot schedule further ("No tasks to run") without failing it, so the run's
    state alone does not prove the minute was loaded.
    """
    tis = run.get_task_instances()
    states: dict[str, set[str]] = {}  # a mapped task (the quality checks) has one instance per check
    for ti in tis:
        states.setdefault(ti.task_id, set()).add(ti.state)
    if run.state != "success" or any(states.get(t) != {"success"} for t in must_run):
        raise RuntimeError(f"{what} did not succeed: run {run.state}, tasks {states}")
    durations: dict[str, float] = {}
    for ti in tis:
        if ti.start_date and ti.end_date:
            durations[ti.task_id] = durations.get(ti.task_id, 0.0) + (ti.end_date - ti.start_date).total_seconds()
    return durations


def run_minute(start: datetime) -> dict[str, float]:
    """One run of the minute DAG for [start, start + 1 min); returns its tasks' durations."""
    with _quiet():
        # The minute DAG's timetable names a run by its interval's end: this run covers [start, start + 1 min).
        run = load_dag(MINUTE_DAG).test(logical_date=start + timedelta(minutes=1))
    if run.data_interval_start != start or run.data_interval_end != start + timedelta(minutes=1):
        got = f"{run.data_interval_start}..{run.data_interval_end}"
        raise RuntimeError(f"expected the window {start} + 1 min, got {got}")
    return _succeeded(run, f"{MINUTE_DAG} at {start}", ("simulate_and_load", "record_batch"))


def run_analytics(logical_date: datetime, full_refresh: bool = False) -> dict[str, float]:
    with _quiet():
        run = load_dag(ANALYTICS_DAG).test(logical_date=logical_date, run_conf={"full_refresh": full_refresh})
    must_run = ("build_analytics", "quality_gate.list_checks", "quality_gate.check", "publish")
    return _succeeded(run, f"{ANALYTICS_DAG} at {logical_date}", must_run)


@dataclass
class CycleSample:
    seconds: float  # ingest start (the minute's end) -> alerts sent
    ingest_seconds: float
    analytics_seconds: float
    published_seconds: float  # ingest start -> the publish committed: what a dashboard reader waits for
    mode: str  # the analytics run's mode (analytics.publish_log): pairs, window or full
    tasks: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


def last_publish(uri: str) -> tuple[str, datetime]:
    """(mode, published_at) of the newest publish in the warehouse at `uri`."""
    from include.inventory.warehouse import Warehouse

    with Warehouse.from_uri(uri).connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT mode, published_at FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1")
        return cur.fetchone()


def run_cycle(start: datetime, uri: str, cpu_roots: dict[str, list[int]] | None = None) -> CycleSample:
    """Ingest the minute starting at `start`, then build and publish the analytics as of its end.

    `cpu_roots`: process trees whose CPU seconds the cycle reports (bench.cpu), e.g. this process, the Spark
    Connect server and PostgreSQL.
    """
    from datetime import UTC

    from bench import cpu

    cpu_before = cpu.reading(cpu_roots) if cpu_roots else {}
    began_at, began = datetime.now(UTC), time.monotonic()
    tasks = run_minute(start)
    ingested = time.monotonic()
    tasks.update(run_analytics(start + timedelta(minutes=1)))
    done = time.monotonic()
    cpu_used = cpu.delta(cpu_before, cpu.reading(cpu_roots)) if cpu_roots else {}
    mode, published_at = last_publish(uri)
    published = (published_at - began_at).total_seconds()
    return CycleSample(done - began, ingested - began, done - ingested, published, mode, tasks, cpu_used)
