"""A local Spark Connect server: the warm Spark runtime the minute's analytics run on (`make airflow` starts it).

It is Spark's own server (org.apache.spark.sql.connect.service.SparkConnectServer, from the pyspark wheel),
started with spark-submit as a long-lived application on `local[2]`, the PostgreSQL JDBC driver on its class
path, listening on 127.0.0.1 only. The connection `spark_connect_default` points at it (scripts/env.sh).

    python -m tools.spark_connect start    # start (or find running) and wait until it answers
    python -m tools.spark_connect stop
    python -m tools.spark_connect status
    python -m tools.spark_connect check    # fails, naming SPARK_CONNECT_PORT, when another program holds the port

Settings (environment): SPARK_CONNECT_PORT (15002), SPARK_CONNECT_MASTER (local[2]; a cluster's master URL
works too), SPARK_CONNECT_DRIVER_MEMORY (2g), SPARK_JDBC_JAR, SPARK_CONNECT_DIR (.local/spark-connect: pid
file and log).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@dataclass(frozen=True)
class Server:
    port: int
    master: str
    driver_memory: str
    jdbc_jar: str
    directory: Path

    @classmethod
    def from_env(cls) -> Server:
        return cls(
            port=int(os.environ.get("SPARK_CONNECT_PORT", "15002")),
            master=os.environ.get("SPARK_CONNECT_MASTER", "local[2]"),
            driver_memory=os.environ.get("SPARK_CONNECT_DRIVER_MEMORY", "2g"),
            jdbc_jar=os.environ.get("SPARK_JDBC_JAR", "/usr/share/java/postgresql.jar"),
            directory=Path(os.environ.get("SPARK_CONNECT_DIR", PROJECT_ROOT / ".local" / "spark-connect")),
        )

    @property
    def pid_file(self) -> Path:
        return self.directory / "server.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    def command(self) -> list[str]:
        spark_submit = shutil.which("spark-submit")
        if not spark_submit:
            raise SystemExit("spark-submit is not on the PATH: run `make install` and `source scripts/env.sh` first")
        return [
            spark_submit,
            "--class",
            SERVER_CLASS,
            "--name",
            "Spark Connect server (inventory analytics)",
            "--master",
            self.master,
            "--driver-memory",
            self.driver_memory,
            "--jars",
            self.jdbc_jar,
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            f"spark.connect.grpc.binding.port={self.port}",
            "--conf",
            "spark.sql.session.timeZone=UTC",
            "--conf",
            "spark.ui.showConsoleProgress=false",
            # A session left by a client that died is dropped after 10 idle minutes (Spark's default: 60).
            "--conf",
            "spark.connect.session.manager.defaultSessionTimeout=10m",
            "--conf",
            "spark.driver.extraJavaOptions=-XX:+UseParallelGC",
            "spark-internal",
        ]


def answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid(server: Server) -> int | None:
    """The running server's pid, or None. A server this process started and that has exited is reaped first: a
    zombie still answers kill(pid, 0), and `stop` would wait out its whole timeout for it."""
    try:
        pid = int(server.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:  # not our child: whoever started it reaps it
        pass
    try:
        os.kill(pid, 0)
        return pid
    except OSError:
        return None


def check(server: Server) -> int:
    """0 when the port is free or a server this project started answers there; 1, naming the variable, when
    another program holds it (`make airflow` stops at once then, instead of pointing spark_connect_default at it).
    """
    if answers(server.port) and _pid(server) is None:
        print(
            f"spark-connect: port {server.port} is taken by another program (not a server this project started): "
            f"set SPARK_CONNECT_PORT to a free port, e.g. `SPARK_CONNECT_PORT={server.port + 1} make airflow`",
            file=sys.stderr,
        )
        return 1
    return 0


def start(server: Server, wait_seconds: float = 180) -> int:
    if check(server):
        return 1
    if answers(server.port):
        print(f"spark-connect: already running on 127.0.0.1:{server.port} (pid {_pid(server)})")
        return 0
    if not Path(server.jdbc_jar).exists():
        raise SystemExit(f"spark-connect: the JDBC driver {server.jdbc_jar} is missing (SPARK_JDBC_JAR; make install)")
    server.directory.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with server.log_file.open("ab") as log:
        proc = subprocess.Popen(
            server.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    server.pid_file.write_text(str(proc.pid))
    print(f"spark-connect: starting on 127.0.0.1:{server.port} ({server.master}), log {server.log_file}", flush=True)
    while time.monotonic() - began < wait_seconds:
        if answers(server.port):
            print(f"spark-connect: up on sc://127.0.0.1:{server.port} in {time.monotonic() - began:.1f}s")
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = server.log_file.read_text(errors="replace").splitlines()[-15:]
    print("spark-connect: the server did not come up; last lines of its log:\n  " + "\n  ".join(tail), file=sys.stderr)
    stop(server)
    return 1


def stop(server: Server, wait_seconds: float = 30) -> int:
    pid = _pid(server)
    if pid is None:
        print("spark-connect: not running")
        server.pid_file.unlink(missing_ok=True)
        return 0
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and _pid(server) is not None:
        time.sleep(0.3)
    if _pid(server) is not None:
        os.killpg(pid, signal.SIGKILL)
    server.pid_file.unlink(missing_ok=True)
    print(f"spark-connect: stopped (pid {pid})")
    return 0


def status(server: Server) -> int:
    pid = _pid(server)
    up = answers(server.port)
    print(f"spark-connect: {'answering' if up else 'not answering'} on 127.0.0.1:{server.port}; pid {pid or '-'}")
    return 0 if up else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status", "check"))
    command = parser.parse_args(argv).command
    server = Server.from_env()
    return {"start": start, "stop": stop, "status": status, "check": check}[command](server)


if __name__ == "__main__":
    raise SystemExit(main())
