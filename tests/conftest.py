"""Shared fixtures: a private warehouse database and Airflow metadata database per test session.

`make test` starts the project-local PostgreSQL (or uses AIRFLOW_CONN_WAREHOUSE_DB when configured). Here we
create two fresh databases on that server for this session, point Airflow and our code at them through the
same environment variables production uses, and drop them at the end, so no test run sees another's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SESSION_DBS: list[str] = []
_SERVER_URI: str | None = None


def _server_uri() -> str:
    """Where the session's databases are made: the local cluster's superuser (LOCAL_PG_ADMIN_URL, set by
    scripts/env.sh; the pipeline and the portal themselves connect as their own roles), or the configured server."""
    from include.inventory.db import libpq_dsn, warehouse_uri

    if os.environ.get("LOCAL_PG_ADMIN_URL"):
        return libpq_dsn(os.environ["LOCAL_PG_ADMIN_URL"]).rstrip("/")
    uri = libpq_dsn(warehouse_uri())
    return uri.rsplit("/", 1)[0]


def _admin(server: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(f"{server}/postgres", connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def pytest_configure(config):
    """Runs before any test module imports Airflow: the env vars decide which databases Airflow uses."""
    global _SERVER_URI
    sys.path.insert(0, str(PROJECT_ROOT))
    _SERVER_URI = _server_uri()
    tag = uuid.uuid4().hex[:8]
    warehouse, metadata = f"test_inventory_{tag}", f"test_airflow_{tag}"
    try:
        for name in (warehouse, metadata):
            _admin(_SERVER_URI, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _SESSION_DBS.append(name)
    except psycopg2.OperationalError as exc:
        raise pytest.UsageError(
            f"cannot reach PostgreSQL at {_SERVER_URI} ({exc}). Run the suite with `make test`, which starts the "
            "project-local cluster, or set AIRFLOW_CONN_WAREHOUSE_DB to a server you can create databases on."
        ) from exc
    os.environ["AIRFLOW_CONN_WAREHOUSE_DB"] = f"{_SERVER_URI}/{warehouse}"
    os.environ.pop("PORTAL_DATABASE_URL", None)  # scripts/env.sh's points at the developer's own database
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
        f"postgresql+psycopg2://{_SERVER_URI.split('://', 1)[1]}/{metadata}"
    )
    home = Path(tempfile.mkdtemp(prefix="airflow-home-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    # Failure notifications of tasks that fail on purpose must not reach a sink someone runs on the default port:
    # point smtp_default at the discard port (connections are refused; the alert stays pending in the outbox).
    # Tests of email delivery start their own SMTP server and pass its address explicitly.
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": 9, "extra": {"disable_tls": True, "disable_ssl": True}}
    )
    # A Spark Connect server of this session's own (never a developer's on 15002), started on first use by the
    # `spark_connect_server` fixture; until then incremental analytics runs fall back to spark-submit.
    os.environ["SPARK_CONNECT_PORT"] = str(_free_port())
    os.environ["AIRFLOW_CONN_SPARK_CONNECT_DEFAULT"] = json.dumps(
        {"conn_type": "spark_connect", "host": "sc://127.0.0.1", "port": int(os.environ["SPARK_CONNECT_PORT"])}
    )
    os.environ.pop("AIRFLOW_VAR_ANALYTICS_ENGINE", None)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_unconfigure(config):
    if not _SESSION_DBS:
        return
    try:
        from airflow import settings

        settings.dispose_orm()
    except Exception:  # noqa: BLE001 - best effort before dropping the database
        pass
    for name in _SESSION_DBS:
        _admin(_SERVER_URI, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def warehouse_uri() -> str:
    return os.environ["AIRFLOW_CONN_WAREHOUSE_DB"]


@pytest.fixture
def conn(warehouse_uri):
    """A connection to this session's warehouse database."""
    from include.inventory import db

    connection = db.connect(warehouse_uri)
    yield connection
    connection.close()


@pytest.fixture
def fresh_schema(conn):
    """The warehouse schema dropped and created anew for this test."""
    from include.inventory import schema

    schema.drop(conn)
    schema.create(conn)
    return conn


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database migrated for this session (dag.test() needs it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert proc.returncode == 0, f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def spark_connect_server(tmp_path_factory):
    """This session's Spark Connect server (tools/spark_connect.py), on the port the connection points at."""
    from tools import spark_connect

    server = spark_connect.Server(
        port=int(os.environ["SPARK_CONNECT_PORT"]),
        master="local[2]",
        driver_memory="1g",
        jdbc_jar=os.environ.get("SPARK_JDBC_JAR", "/usr/share/java/postgresql.jar"),
        directory=tmp_path_factory.mktemp("spark-connect"),
    )
    assert spark_connect.start(server) == 0, server.log_file.read_text()[-3000:]
    yield f"sc://127.0.0.1:{server.port}"
    spark_connect.stop(server)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole test run."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("inventory-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()
