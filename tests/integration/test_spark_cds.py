"""The driver's class-data-sharing archive never fails a run (include/inventory/spark.py).

The JVM refuses to archive a class path that holds a non-empty directory, at exit, after the job has run. Spark
puts SPARK_CONF_DIR on the driver's class path, so a conf directory with anything in it (a log4j2.properties, the
spark-defaults.conf Kubernetes users are told to write) failed every run that was to write the archive. Each test
is a real spark-submit through WarehouseSparkSubmitOperator of a small application that starts no SparkContext
(tests/integration/warehouse_probe_app.py), so each run takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.inventory.spark import CDS_DIRECTORY_ERROR, WarehouseSparkSubmitOperator, cds_archive, cds_blocker

PROBE = Path(__file__).resolve().with_name("warehouse_probe_app.py")
LOG4J2 = """rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


@pytest.fixture
def spark_env(monkeypatch, tmp_path):
    """The archive under tmp_path/cds, the driver on loopback, and no class-path directory from the caller's shell."""
    monkeypatch.setenv("AIRFLOW_VAR_SPARK_CDS_DIR", str(tmp_path / "cds"))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "no-conf"))  # absent: what a fresh install has
    for name in ("SPARK_CLASSPATH", "HADOOP_CONF_DIR", "YARN_CONF_DIR", "SPARK_DIST_CLASSPATH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def probe(out: Path, *args: str, **kw) -> WarehouseSparkSubmitOperator:
    return WarehouseSparkSubmitOperator(
        task_id="probe",
        conn_id="spark_default",
        application=str(PROBE),
        application_args=[str(out), *args],
        conf={"spark.ui.enabled": "false"},
        **kw,
    )


def probe_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_non_empty_spark_conf_dir_runs_without_the_archive(spark_env, monkeypatch, capfd):
    conf_dir = spark_env / "conf"
    conf_dir.mkdir()
    (conf_dir / "log4j2.properties").write_text(LOG4J2)
    (conf_dir / "spark-defaults.conf").write_text("spark.inventory.test.defaults  kept\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf_dir))
    out = spark_env / "probe.jsonl"

    probe(out).execute({})  # before the fix: AirflowException, "Cannot have non-empty directory in paths"

    [seen] = probe_lines(out)
    assert seen["source"] == "conf"
    # The credentials' --properties-file replaces spark-defaults.conf for spark-submit: its settings were kept.
    assert seen["defaults"] == {"spark.inventory.test.defaults": "kept"}
    logged = capfd.readouterr()
    assert "No class-data-sharing archive for the driver this run" in logged.out + logged.err
    assert str(conf_dir) in logged.out + logged.err
    cds = spark_env / "cds"
    assert not cds.exists() or not list(cds.iterdir())  # no archive, no dump left behind, no marker


def test_a_dump_that_fails_all_the_same_runs_once_more_without_and_later_runs_skip(spark_env, capfd):
    # A class-path directory that is empty when the run starts (so nothing can see it coming) and not at its end.
    late = spark_env / "late"
    late.mkdir()
    out = spark_env / "probe.jsonl"

    probe(out, "--touch", str(late), driver_class_path=str(late)).execute({})  # before: AirflowException

    assert len(probe_lines(out)) == 2  # the job ran, the JVM failed at exit, the job ran again without CDS
    logged = capfd.readouterr()
    assert "could not write its class-data-sharing archive" in logged.out + logged.err
    archive = cds_archive(spark_env / "cds")
    assert archive is not None and not archive.exists()
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name + ".skip"]  # no dump left behind
    # Later runs see the marker and go without CDS, whatever their class path.
    assert CDS_DIRECTORY_ERROR in cds_blocker(archive, [])
