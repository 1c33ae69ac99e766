"""WarehouseSparkSubmitOperator's parts: the private properties file the credentials travel in, and the driver's
class-data-sharing options (dump once under a temporary name, map afterwards, never with a non-empty directory on
the class path). The real spark-submit runs are in tests/integration/test_spark_credentials.py and test_spark_cds.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from include.inventory.spark import (
    CDS_DIRECTORY_ERROR,
    cds_archive,
    cds_blocker,
    classpath_directories,
    defaults_file,
    is_cds_directory_failure,
    private_properties,
    properties_text,
    property_value,
    skip_marker,
    with_cds,
)


def test_first_run_dumps_to_a_temporary_name(tmp_path):
    archive = cds_archive(tmp_path / "cds")
    assert archive is not None and archive.parent == tmp_path / "cds" and archive.suffix == ".jsa"
    options, dump = with_cds("-XX:TieredStopAtLevel=1", archive)
    assert dump is not None and dump.parent == archive.parent and dump != archive
    assert options == f"-XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit={dump} -Xlog:cds=off"
    assert archive.parent.is_dir()  # the JVM does not create it


def test_later_runs_map_the_archive(tmp_path):
    archive = tmp_path / "driver.jsa"
    archive.write_bytes(b"archive")
    options, dump = with_cds("", archive)
    assert (options, dump) == (f"-XX:SharedArchiveFile={archive}", None)


def test_no_java_or_disabled_leaves_the_options_alone():
    assert with_cds("-Xss4m", None) == ("-Xss4m", None)


def test_the_archive_is_keyed_by_java_and_spark(tmp_path, monkeypatch):
    import pyspark

    first = cds_archive(tmp_path)
    assert pyspark.__version__ in first.name
    fake_home = tmp_path / "jdk"
    (fake_home / "bin").mkdir(parents=True)
    (fake_home / "bin" / "java").write_text("#!/bin/sh\n")
    monkeypatch.setenv("JAVA_HOME", str(fake_home))
    assert cds_archive(tmp_path) not in (None, first)  # another Java: another archive
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "missing"))
    assert cds_archive(Path(tmp_path)) is None


# ------------------------------------------------------------------------------------------------ properties file


def test_the_properties_file_is_private_keeps_the_defaults_and_is_gone_afterwards(tmp_path):
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_bytes(b"spark.eventLog.enabled true\nspark.inventory.warehouse.user old\\")  # no final newline
    with private_properties({"spark.inventory.warehouse.user": "loader"}, defaults) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        text = path.read_text()
        assert text.startswith(defaults.read_text())
        assert property_value(text, "spark.eventLog.enabled") == "true"
        assert property_value(text, "spark.inventory.warehouse.user") == "loader"  # ours come last, and win
        assert text.endswith("spark.inventory.warehouse.user=loader\n")
    assert not path.parent.exists()


def test_the_file_is_deleted_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError), private_properties({"k": "v"}) as path:
        raise RuntimeError("spark-submit failed")
    assert not path.parent.exists()


def test_values_are_escaped_as_java_properties():
    assert properties_text({"a": "p\\w=1:#!\n x"}) == "a=p\\\\w=1:#!\\n x\n"


@pytest.mark.parametrize(
    ("line", "value"),
    [("k=/a:/b", "/a:/b"), ("k : v", "v"), ("k   v w", "v w"), ("# k=v", None), ("kk=v", None)],
)
def test_a_properties_line_is_split_at_the_first_separator(line, value):
    assert property_value(line, "k") == value


def test_the_defaults_spark_submit_would_have_read(tmp_path):
    (tmp_path / "spark-defaults.conf").write_text("spark.x 1\n")
    assert defaults_file(None, {"SPARK_CONF_DIR": str(tmp_path)}) == tmp_path / "spark-defaults.conf"
    assert defaults_file(None, {"SPARK_HOME": str(tmp_path.parent)}) is None  # no conf/ there
    assert defaults_file("/etc/own.conf", {"SPARK_CONF_DIR": str(tmp_path)}) == Path("/etc/own.conf")


# ---------------------------------------------------------------------------------------------- CDS, class path


def test_non_empty_directories_on_the_class_path_are_found(tmp_path):
    conf, hadoop, extra, empty, in_defaults = (tmp_path / n for n in ("conf", "hadoop", "extra", "empty", "dflt"))
    for directory in (conf, hadoop, extra, empty, in_defaults):
        directory.mkdir()
    for directory in (conf, hadoop, extra, in_defaults):
        (directory / "some.xml").write_text("<configuration/>")
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_text(f"spark.driver.extraClassPath {in_defaults}:{empty}\n")
    env = {"SPARK_CONF_DIR": str(conf), "HADOOP_CONF_DIR": str(hadoop)}
    found = classpath_directories({"spark.driver.extraClassPath": f"{extra}:{tmp_path}/jars/*"}, None, defaults, env)
    assert found == [conf, hadoop, extra, in_defaults]
    assert classpath_directories({}, str(extra), None, {"SPARK_CONF_DIR": str(empty)}) == [extra]
    assert classpath_directories({}, None, None, {"SPARK_CONF_DIR": str(tmp_path / "absent")}) == []


def test_a_blocked_run_says_why_and_a_marker_blocks_later_runs(tmp_path):
    archive = tmp_path / "driver.jsa"
    assert cds_blocker(archive, []) is None
    assert str(tmp_path / "conf") in cds_blocker(archive, [tmp_path / "conf"])
    skip_marker(archive).write_text(f"{CDS_DIRECTORY_ERROR} (the JVM)\n")
    assert CDS_DIRECTORY_ERROR in cds_blocker(archive, []) and "delete that file" in cds_blocker(archive, [])


def test_the_jvm_failure_is_recognised_in_the_hooks_exception():
    failed = RuntimeError(
        "Cannot execute: spark-submit ... Error code is: 1.\nLast spark-submit output:\n"
        "Error occurred during initialization of VM\nCannot have non-empty directory in paths"
    )
    assert is_cds_directory_failure(failed)
    assert not is_cds_directory_failure(RuntimeError("Cannot execute: spark-submit ... Error code is: 1."))
