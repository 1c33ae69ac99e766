"""SparkSubmitOperator that hands the warehouse credentials to the Spark driver through its environment, and
starts the driver JVM from a class-data-sharing archive.

SparkSubmitOperator logs its whole command line and renders `env_vars` into the UI, so the credentials are
added at execute time, after rendering, from the `warehouse_db` connection; they never appear in argv, in the
rendered fields or in the logs (Airflow masks connection passwords it has read).

Class data sharing (CDS): a Spark driver loads some 10,000 classes before it runs anything. The first run dumps
them into an archive (`-XX:ArchiveClassesAtExit`), later runs map it (`-XX:SharedArchiveFile`): about 4 s of CPU
less per run on our 2-core machine, a sixth of the minute cycle's Spark work. The archive is keyed by the Java
binary and the Spark version, written under a temporary name and renamed only after a successful run; a JVM that
finds it unusable ignores it (`-Xshare:auto`, the default) and says so in the log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseHook

from include.inventory.config import setting
from include.inventory.warehouse import Warehouse

DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def driver_env(warehouse: Warehouse) -> dict[str, str]:
    """What the Spark driver needs in its environment: the warehouse's JDBC settings and this interpreter."""
    return {
        **warehouse.jdbc_env(),
        # The driver runs the same interpreter as the worker (pyspark and the job's imports are there).
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def cds_archive(cache_dir: Path) -> Path | None:
    """Where the driver's class-data-sharing archive lives for this Java and Spark, or None without a Java."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    import pyspark

    binary = Path(java).resolve()
    key = f"{binary}:{binary.stat().st_mtime_ns}:{pyspark.__version__}"
    return cache_dir / f"spark-driver-{pyspark.__version__}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsa"


def with_cds(java_options: str, archive: Path | None) -> tuple[str, Path | None]:
    """The driver's Java options with CDS added, and the temporary path a dump goes to (None when mapping)."""
    if archive is None:
        return java_options, None
    if archive.exists():
        return f"{java_options} -XX:SharedArchiveFile={archive}".strip(), None
    archive.parent.mkdir(parents=True, exist_ok=True)
    dump = archive.with_suffix(f".{os.getpid()}.tmp")
    # Dumping notes every class it cannot archive (signed jars, generated code): a thousand lines nobody needs.
    return f"{java_options} -XX:ArchiveClassesAtExit={dump} -Xlog:cds=off".strip(), dump


def cds_dir() -> Path | None:
    """The Variable spark_cds_dir: empty for $AIRFLOW_HOME/spark-cds, `off` for no class data sharing."""
    value = setting("spark_cds_dir").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"), "spark-cds")


class WarehouseSparkSubmitOperator(SparkSubmitOperator):
    """SparkSubmitOperator + warehouse credentials in the driver's environment + a CDS archive for the driver."""

    def _driver_is_local(self) -> bool:
        """Client mode: the driver JVM starts here, where the archive is (in cluster mode it starts elsewhere)."""
        mode = self._deploy_mode or BaseHook.get_connection(self._conn_id).extra_dejson.get("deploy-mode")
        return (mode or "client") == "client"

    def execute(self, context):
        self.env_vars = {**(self.env_vars or {}), **driver_env(Warehouse.from_airflow())}
        directory = cds_dir() if self._driver_is_local() else None
        archive = cds_archive(directory) if directory else None
        options, dump = with_cds((self.conf or {}).get(DRIVER_JAVA_OPTIONS, ""), archive)
        self.conf = {**(self.conf or {}), DRIVER_JAVA_OPTIONS: options}
        if dump:
            self.log.info("No class-data-sharing archive yet: this run writes %s", archive)
        try:
            result = super().execute(context)
        except BaseException:
            if dump:
                dump.unlink(missing_ok=True)
            raise
        if dump and dump.exists():
            os.replace(dump, archive)  # atomic: a concurrent run sees no archive or a whole one
        return result
