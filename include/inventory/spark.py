"""SparkSubmitOperator that hands the warehouse credentials to the Spark driver in a private properties file, and
starts the driver JVM from a class-data-sharing archive when it can.

Credentials: SparkSubmitOperator logs its command line and renders `env_vars` into the UI, and for YARN and
Kubernetes the provider's hook turns `env_vars` into `--conf spark.yarn.appMasterEnv.*=...` /
`spark.kubernetes.driverEnv.*=...` arguments, in the argv of every process spark-submit starts. So the JDBC URL, user
and password (`Warehouse.jdbc_properties`) never go through `env_vars` or `--conf`: at execute time they are written
into `spark.properties` in a private temporary directory (0700, the file 0600, deleted when spark-submit is done)
and passed as `--properties-file`. spark-submit reads that file instead of `spark-defaults.conf`, so the defaults
file it would have read (the task's own `properties_file`, else `$SPARK_CONF_DIR/spark-defaults.conf`) is copied in
first. The driver reads the values from its SparkConf (spark_jobs/jobio.py); Spark's UI and event log show the
password property redacted. Where spark-submit hands its configuration on (cluster mode: the YARN staging
directory, the Kubernetes driver's ConfigMap) the values travel with it, as any Spark setting does.

Class data sharing (CDS): a Spark driver loads some 10,000 classes before it runs anything. The first run dumps
them into an archive (`-XX:ArchiveClassesAtExit`), later runs map it (`-XX:SharedArchiveFile`): about 4 s of CPU
less per run on our 2-core machine, a sixth of the minute cycle's Spark work. The archive is keyed by the Java
binary and the Spark version, written under a temporary name and renamed only after a successful run; a JVM that
finds it unusable ignores it (`-Xshare:auto`, the default) and says so in the log.

The archive must never fail a run. The JVM refuses to archive a class path that holds a non-empty directory, and it
says so only at exit, after the job (`Cannot have non-empty directory in paths`, exit code 1). Spark puts
`$SPARK_CONF_DIR` (else `$SPARK_HOME/conf`), `HADOOP_CONF_DIR`, `YARN_CONF_DIR`, `SPARK_DIST_CLASSPATH`,
`SPARK_CLASSPATH` and `spark.driver.extraClassPath` on the driver's class path: when one of them is a non-empty
directory the run goes without CDS and logs why. Should a dump fail that way all the same, the run is repeated once
without CDS, and a marker next to the archive (`<archive>.skip`, saying why) keeps later runs from trying again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseHook

from include.inventory.config import setting
from include.inventory.warehouse import Warehouse

DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
DRIVER_CLASS_PATH = "spark.driver.extraClassPath"
# Environment variables whose entries Spark's launcher puts on the driver's class path (besides the conf directory).
CLASS_PATH_ENV = ("SPARK_CLASSPATH", "HADOOP_CONF_DIR", "YARN_CONF_DIR", "SPARK_DIST_CLASSPATH")
CDS_DIRECTORY_ERROR = "Cannot have non-empty directory in paths"
PROPERTIES_FILE = "spark.properties"
_PROPERTY_LINE = re.compile(r"([^=:\s]+)\s*[=:]?\s*(.*)$")  # the key ends at the first =, : or blank


def python_env() -> dict[str, str]:
    """The driver runs the same interpreter as the worker (pyspark and the job's imports are there)."""
    return {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


def driver_env(warehouse: Warehouse) -> dict[str, str]:
    """The environment for a spark-submit started by hand on this machine (bench): JDBC settings and interpreter.

    Not for the Airflow task: the provider turns env_vars into argv on YARN and Kubernetes (see the module doc).
    """
    return {**warehouse.jdbc_env(), **python_env()}


# ------------------------------------------------------------------------------------------------ properties file


def spark_conf_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The directory spark-submit reads spark-defaults.conf from and puts on the driver's class path.

    $SPARK_CONF_DIR, else $SPARK_HOME/conf, else the conf directory of the pip-installed pyspark (where its
    spark-submit finds its Spark home).
    """
    env = os.environ if environ is None else environ
    if env.get("SPARK_CONF_DIR"):
        return Path(env["SPARK_CONF_DIR"])
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"], "conf")
    spec = importlib.util.find_spec("pyspark")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0], "conf") if locations else None


def defaults_file(properties_file: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file spark-submit would read its defaults from without our --properties-file, if there is one."""
    if properties_file:
        return Path(properties_file)
    conf_dir = spark_conf_dir(environ)
    defaults = conf_dir / "spark-defaults.conf" if conf_dir else None
    return defaults if defaults and defaults.is_file() else None


def _escape(value: str) -> str:
    """A value as java.util.Properties reads it back (Spark loads the file as UTF-8)."""
    escapes = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}
    return "".join(escapes.get(ch, ch) for ch in value)


def properties_text(values: Mapping[str, str]) -> str:
    return "".join(f"{key}={_escape(value)}\n" for key, value in values.items())


@contextmanager
def private_properties(values: Mapping[str, str], defaults: Path | None = None) -> Iterator[Path]:
    """A properties file readable by this user only, holding `defaults`' lines and then `values`; deleted on exit.

    Later lines win in a properties file, so `values` override a default of the same name.
    """
    directory = Path(tempfile.mkdtemp(prefix="inventory-spark-"))  # mode 0700
    try:
        path = directory / PROPERTIES_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            if defaults is not None:
                out.write(defaults.read_bytes())
                # Two newlines: end a last line left open (even one continued with a backslash) before ours.
                out.write(f"\n\n# {PROPERTIES_FILE}: the settings above are {defaults}'s\n".encode())
            out.write(properties_text(values).encode())
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def property_value(text: str, key: str) -> str | None:
    """The last value of `key` in a properties file's text (plain `key=value`, `key: value`, `key value` lines)."""
    found = None
    for raw in text.splitlines():
        line = raw.strip()
        match = None if not line or line[0] in "#!" else _PROPERTY_LINE.match(line)
        if match and match.group(1) == key:
            found = match.group(2).strip()
    return found


# ------------------------------------------------------------------------------------------------ class data sharing


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


def skip_marker(archive: Path) -> Path:
    """The file that keeps later runs from dumping `archive` after a dump failed for a reason we did not foresee."""
    return archive.with_name(archive.name + ".skip")


def classpath_directories(
    conf: Mapping[str, str],
    driver_class_path: str | None = None,
    defaults: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """The non-empty directories on the driver JVM's class path (the JVM archives no class path holding one)."""
    env = os.environ if environ is None else environ
    entries: list[str] = [str(spark_conf_dir(env) or "")]
    for name in CLASS_PATH_ENV:
        entries += env.get(name, "").split(os.pathsep)
    # Whichever of these spark-submit ends up using: counting them all at worst skips an archive it could have had.
    extras = [conf.get(DRIVER_CLASS_PATH), driver_class_path]
    if defaults is not None and defaults.is_file():
        extras.append(property_value(defaults.read_text(errors="replace"), DRIVER_CLASS_PATH))
    for extra in extras:
        entries += (extra or "").split(os.pathsep)
    found = []
    for entry in dict.fromkeys(e.strip() for e in entries if e.strip() and not e.strip().endswith("*")):
        path = Path(entry)
        if path.is_dir() and any(path.iterdir()):
            found.append(path)
    return found


def cds_blocker(archive: Path, directories: list[Path]) -> str | None:
    """Why this run must go without class data sharing, or None when the driver may dump or map `archive`."""
    if directories:
        shown = ", ".join(str(d) for d in directories)
        return (
            f"the driver's class path holds the non-empty directory {shown} (Spark puts SPARK_CONF_DIR, "
            "HADOOP_CONF_DIR, YARN_CONF_DIR and spark.driver.extraClassPath there), and the JVM archives no class "
            "path with one"
        )
    marker = skip_marker(archive)
    if marker.exists():
        first = (marker.read_text(errors="replace").splitlines() or ["(empty)"])[0]
        return f"{marker} says a dump failed here before ({first}); delete that file to try again"
    return None


def is_cds_directory_failure(exc: BaseException) -> bool:
    """The JVM refused, at exit, to write the archive because of a directory on the class path."""
    return CDS_DIRECTORY_ERROR in str(exc)


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
    """SparkSubmitOperator + warehouse credentials in a private properties file + a CDS archive for the driver."""

    def _driver_is_local(self) -> bool:
        """Client mode: the driver JVM starts here, where the archive is (in cluster mode it starts elsewhere)."""
        mode = self._deploy_mode or BaseHook.get_connection(self._conn_id).extra_dejson.get("deploy-mode")
        return (mode or "client") == "client"

    def execute(self, context):
        warehouse = Warehouse.from_airflow()
        # Not a credential among them: on YARN and Kubernetes the provider puts env_vars into argv.
        self.env_vars = {**(self.env_vars or {}), **python_env()}
        own_properties = self.properties_file
        defaults = defaults_file(own_properties)
        with private_properties(warehouse.jdbc_properties(), defaults) as path:
            self.properties_file = str(path)
            try:
                return self._submit_with_cds(context, defaults)
            finally:
                self.properties_file = own_properties

    def _cds_archive(self, defaults: Path | None) -> Path | None:
        directory = cds_dir() if self._driver_is_local() else None
        archive = cds_archive(directory) if directory else None
        if archive is None:
            return None
        blocker = cds_blocker(archive, classpath_directories(self.conf or {}, self.driver_class_path, defaults))
        if blocker:
            self.log.info("No class-data-sharing archive for the driver this run: %s", blocker)
            return None
        return archive

    def _submit_with_cds(self, context, defaults: Path | None):
        java_options = (self.conf or {}).get(DRIVER_JAVA_OPTIONS, "")
        archive = self._cds_archive(defaults)
        options, dump = with_cds(java_options, archive)
        if dump:
            self.log.info("No class-data-sharing archive yet: this run writes %s", archive)
        try:
            result = self._submit(context, options)
        except BaseException as exc:
            if dump:
                dump.unlink(missing_ok=True)
            if not (dump and isinstance(exc, Exception) and is_cds_directory_failure(exc)):
                raise
            # The job itself ran; the JVM failed at exit, writing the archive. Once more without, and never again.
            marker = skip_marker(archive)
            marker.write_text(f"{CDS_DIRECTORY_ERROR} (the JVM, dumping the driver's class-data-sharing archive)\n")
            self.log.warning(
                "The driver JVM could not write its class-data-sharing archive (%s): running again without it. "
                "%s keeps later runs from trying; delete it once the driver's class path holds no non-empty "
                "directory.",
                CDS_DIRECTORY_ERROR,
                marker,
            )
            return self._submit(context, java_options)
        if dump and dump.exists():
            os.replace(dump, archive)  # atomic: a concurrent run sees no archive or a whole one
        return result

    def _submit(self, context, java_options: str):
        conf = {k: v for k, v in (self.conf or {}).items() if k != DRIVER_JAVA_OPTIONS}
        self.conf = {**conf, DRIVER_JAVA_OPTIONS: java_options} if java_options else conf
        self._hook = None  # the provider keeps the first hook it built, with the conf of that time
        return super().execute(context)
