"""Every DAG file imports cleanly, fast, without touching the network, and follows the house defaults."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from include.inventory.dag_defaults import OWNER

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p.name for p in DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, f"DAG import errors: {dagbag.import_errors}"
    assert len(dagbag.dags) >= 1


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_each_file_parses_fast_and_offline(dag_file):
    """Parse one DAG file in a fresh interpreter with sockets disabled; it must not connect and take < 1 s."""
    script = textwrap.dedent(
        f"""
        import socket, time
        from airflow.dag_processing.dagbag import DagBag  # Airflow's own import cost is not the DAG's
        def refuse(*args, **kwargs):
            raise RuntimeError("network access at DAG parse time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        began = time.perf_counter()
        bag = DagBag(dag_folder={str(DAGS_DIR / dag_file)!r})
        elapsed = time.perf_counter() - began
        assert not bag.import_errors, bag.import_errors
        assert bag.dags, "no DAG found"
        print(f"{{elapsed:.3f}}")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    elapsed = float(proc.stdout.strip().splitlines()[-1])
    assert elapsed < 1.0, f"{dag_file} took {elapsed:.2f}s to parse"


def test_tags_owner_retries_and_defaults(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md (its docstring)"
        assert dag.default_args.get("owner") == OWNER, f"{dag_id} does not use include.inventory.dag_defaults"
        for t in dag.tasks:
            assert t.owner == OWNER, f"{dag_id}.{t.task_id} owner is {t.owner}"
            assert t.execution_timeout is not None, f"{dag_id}.{t.task_id} has no execution_timeout"


def test_retries_set(dagbag):
    """Retries are at least 2, except where a task must fail at once (a refusal guard says so explicitly)."""
    no_retry_allowed = {("refresh_inventory_tables_dag", "clear_tables")}
    for dag_id, dag in dagbag.dags.items():
        assert dag.default_args.get("retries", 0) >= 2, f"{dag_id} default retries < 2"
        for t in dag.tasks:
            if (dag_id, t.task_id) not in no_retry_allowed:
                assert t.retries >= 2, f"{dag_id}.{t.task_id} retries={t.retries}"


def test_no_cycles(dagbag):
    for dag in dagbag.dags.values():
        dag.check_cycle()  # raises AirflowDagCycleException on a cycle


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("full", "-XX:+UseParallelGC"), ("window", "-XX:+UseParallelGC -XX:TieredStopAtLevel=1")],
    ids=["full rebuild: the full tiered JIT", "incremental (spark-submit fallback): C1 only"],
)
def test_the_driver_jit_follows_the_plan(dagbag, mode, expected):
    from include.inventory.spark_connect import driver_java_options

    task = dagbag.dags["build_inventory_analytics"].get_task("build_analytics")
    assert driver_java_options(task.conf["spark.driver.extraJavaOptions"], mode) == expected


def test_each_quality_check_is_a_task_instance_of_its_own_and_publish_waits_for_all(dagbag):
    """The gate is mapped over the run's checks (named in the UI by the check); publish needs every one to pass."""
    dag = dagbag.dags["build_inventory_analytics"]
    listing, check, publish = (dag.get_task(t) for t in ("quality_gate.list_checks", "quality_gate.check", "publish"))
    assert check.is_mapped and check.map_index_template == "{{ task.op_kwargs['name'] }}"
    assert [t.task_id for t in check.iter_mapped_dependencies()] == ["quality_gate.list_checks"]
    assert "build_analytics" in listing.upstream_task_ids
    assert publish.upstream_task_ids == {"plan_refresh", "quality_gate.check"}
    assert publish.trigger_rule == "all_success"
