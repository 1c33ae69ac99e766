"""No warehouse password in any process's command line, on each Spark master we can run here.

The Spark provider's hook turns `env_vars` into `--conf spark.yarn.appMasterEnv.*=...` (YARN) and
`spark.kubernetes.driverEnv.*=...` (Kubernetes) arguments, so with credentials in the driver's environment the
password was in the argv of spark-submit's processes on those masters. WarehouseSparkSubmitOperator now writes them
into a private properties file instead (include/inventory/spark.py), and the job reads them from its SparkConf.

Each test runs a real spark-submit through the operator and the provider's hook, with a distinctive password on the
warehouse connection (the local cluster trusts loopback, so the password is carried but not checked), while a
thread reads every process's /proc/<pid>/cmdline every 20 ms. The application (warehouse_probe_app.py) reports
what reached the driver: the password's SHA-256, from the conf, not from the environment.

- local[*] and a standalone master (one worker): the job also runs a JDBC query with those credentials, on the
  executors (the standalone executor is a process of its own, launched by the worker).
- YARN client mode: spark-submit runs for real with `--master yarn` (HADOOP_CONF_DIR names a ResourceManager that
  does not exist); the probe reads its conf and stops before it would contact it. That is as far as YARN goes here
  (no YARN can run on this machine): spark-submit's own command line and its driver.
- Kubernetes: the provider refuses `k8s://` without the cncf-kubernetes provider, which is not installed; the
  operator hands the hook the same env_vars and properties file there as on YARN.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from spark_standalone import standalone_cluster

from include.inventory.spark import PROPERTIES_FILE, WarehouseSparkSubmitOperator

PROBE = Path(__file__).resolve().with_name("warehouse_probe_app.py")
SECRET = f"pw-{uuid.uuid4().hex}"  # a string no other process on the machine has in its command line
JDBC_JAR = os.environ.get("SPARK_JDBC_JAR", "/usr/share/java/postgresql.jar")


class ArgvWatch:
    """Reads every process's command line every `interval` s while the `with` block runs.

    `leaks`: the command lines, of any process, that contained `needle`; `spark`: every distinct (pid, argv) that
    names a Spark class (the spark-submit and spark-class scripts, Spark's launcher, the JVMs), to show the watch saw
    the run; `parents`: each sampled pid's parent; `properties`: (file mode, directory mode) of each
    --properties-file seen.
    """

    def __init__(self, needle: str, interval: float = 0.02):
        self.needle, self.interval = needle.encode(), interval
        self.leaks: dict[int, str] = {}
        self.spark: set[tuple[int, tuple[str, ...]]] = set()
        self.parents: dict[int, int] = {}
        self.properties: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._before: set[int] = set()

    def __enter__(self) -> ArgvWatch:
        # Processes already running (this session's Spark Connect server, the `spark` fixture's JVM) are not ours.
        self._before = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
        self.sample()

    def sample(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "cmdline").read_bytes()
            except OSError:  # the process is gone
                continue
            if self.needle in raw:
                self.leaks[int(entry.name)] = raw.replace(self.needle, b"<SECRET>").replace(b"\0", b" ").decode()
            if b"org.apache.spark." in raw:
                pid, argv = int(entry.name), raw.decode(errors="replace").rstrip("\0").split("\0")
                self.spark.add((pid, tuple(argv)))
                # /proc/<pid>/stat is "pid (comm) state ppid ...", and comm may hold blanks.
                with contextlib.suppress(OSError, IndexError, ValueError):
                    self.parents[pid] = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
                if "--properties-file" in argv:
                    self._note_properties(Path(argv[argv.index("--properties-file") + 1]))

    def _note_properties(self, path: Path) -> None:
        if str(path) not in self.properties:
            try:
                modes = (stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode))
            except OSError:
                return
            self.properties[str(path)] = modes

    def jvms(self, main_class: str) -> dict[int, list[str]]:
        """The argv of each JVM this test started, directly or not, seen running `main_class` (not Spark's launcher,
        which only prints the command), by pid; other sessions on the machine may run Spark too. A child the JVM
        forks to start a process (the driver's Python) shows the JVM's argv until it execs: it is not counted."""
        argv_of: dict[int, tuple[str, ...]] = {}
        for pid, argv in sorted(self.spark, key=lambda seen: len(seen[1])):  # a read during exec may be cut short
            argv_of[pid] = argv
        return {
            pid: list(argv)
            for pid, argv in argv_of.items()
            if pid not in self._before
            and Path(argv[0]).name == "java"
            and main_class in argv
            and "org.apache.spark.launcher.Main" not in argv
            and argv_of.get(self.parents.get(pid, -1)) != argv
            and self._descends_from_us(pid)
        }

    def _descends_from_us(self, pid: int) -> bool:
        seen = set()
        while pid in self.parents and pid not in seen:
            seen.add(pid)
            pid = self.parents[pid]
            if pid == os.getpid():
                return True
        return False


@pytest.fixture
def secret_warehouse(monkeypatch, warehouse_db, tmp_path):
    """warehouse_db with the password SECRET; no CDS archive (tests/integration/test_spark_cds.py covers it)."""
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DB", replace(warehouse_db, password=SECRET).uri)
    monkeypatch.setenv("AIRFLOW_VAR_SPARK_CDS_DIR", "off")
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "no-conf"))  # the developer's own settings stay out
    return warehouse_db


def use_master(monkeypatch, host: str, **extra) -> None:
    connection = {"conn_type": "spark", "host": host, **({"extra": extra} if extra else {})}
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(connection))


def run_probe(out: Path, *args: str) -> tuple[WarehouseSparkSubmitOperator, ArgvWatch]:
    operator = WarehouseSparkSubmitOperator(
        task_id="probe",
        conn_id="spark_default",
        application=str(PROBE),
        application_args=[str(out), *args],
        jars=JDBC_JAR,
        name="warehouse-probe",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1"},
    )
    with ArgvWatch(SECRET) as watch:
        operator.execute({})
    return operator, watch


def check(watch: ArgvWatch, out: Path, warehouse, capfd) -> dict:
    """What every master must show: no leak, the watch saw the driver, the credentials reached it from the conf."""
    assert not watch.leaks, f"the password is in the command line of: {watch.leaks}"
    drivers = watch.jvms("org.apache.spark.deploy.SparkSubmit")
    assert len(drivers) == 1, {pid: argv[-3:] for pid, argv in drivers.items()}  # the watch saw the driver
    # The properties file was private while it existed, and is gone now.
    assert list(watch.properties.values()) == [(0o600, 0o700)], watch.properties
    [path] = watch.properties
    assert Path(path).name == PROPERTIES_FILE and not Path(path).parent.exists()
    [seen] = [json.loads(line) for line in out.read_text().splitlines()]
    assert seen["source"] == "conf" and not seen["password_in_environment"]
    assert seen["password_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
    assert (seen["url"], seen["user"]) == (warehouse.jdbc_url, warehouse.user)
    logged = capfd.readouterr()
    assert SECRET not in logged.out + logged.err  # nor in the task log (spark-submit's command and its output)
    return seen


def test_local(secret_warehouse, monkeypatch, tmp_path, capfd):
    use_master(monkeypatch, "local[*]")
    out = tmp_path / "probe.jsonl"
    _, watch = run_probe(out, "--query")
    seen = check(watch, out, secret_warehouse, capfd)
    assert seen["current_user"] == secret_warehouse.user  # the JDBC query ran with the credentials it was given


def test_yarn_client_mode(secret_warehouse, monkeypatch, tmp_path, capfd):
    hadoop_conf = tmp_path / "hadoop-conf"
    hadoop_conf.mkdir()
    (hadoop_conf / "yarn-site.xml").write_text(
        "<configuration><property><name>yarn.resourcemanager.address</name><value>127.0.0.1:9</value>"
        "</property></configuration>\n"
    )
    monkeypatch.setenv("HADOOP_CONF_DIR", str(hadoop_conf))
    use_master(monkeypatch, "yarn", **{"deploy-mode": "client"})
    out = tmp_path / "probe.jsonl"
    operator, watch = run_probe(out)  # no --query: no SparkContext, so no ResourceManager is contacted
    check(watch, out, secret_warehouse, capfd)
    [driver] = watch.jvms("org.apache.spark.deploy.SparkSubmit").values()
    assert driver[driver.index("--master") + 1] == "yarn" and "--properties-file" in driver
    # spark-submit's own command line, as the hook builds it (and logs it): the password is not in it either.
    command = operator._hook._build_spark_submit_command(str(PROBE))
    assert "--properties-file" in command and not [arg for arg in command if SECRET in arg]
    assert not [arg for arg in command if "WAREHOUSE_" in arg]  # no credential among the appMasterEnv settings


@pytest.mark.slow
def test_standalone(secret_warehouse, monkeypatch, tmp_path, capfd):
    with standalone_cluster(tmp_path / "cluster", workers=1) as cluster:
        use_master(monkeypatch, cluster.master_url)
        out = tmp_path / "probe.jsonl"
        _, watch = run_probe(out, "--query")
        apps = cluster.status()["completedapps"]
    seen = check(watch, out, secret_warehouse, capfd)
    assert seen["current_user"] == secret_warehouse.user
    assert [(a["name"], a["state"]) for a in apps] == [("warehouse-probe", "FINISHED")]
    # The query ran on the cluster's executor, a JVM of its own the worker started: its argv was watched too.
    assert watch.jvms("org.apache.spark.executor.CoarseGrainedExecutorBackend")
