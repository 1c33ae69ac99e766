"""The driver's class-data-sharing options: dump once under a temporary name, map afterwards."""

from __future__ import annotations

from pathlib import Path

from include.inventory.spark import cds_archive, with_cds


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
