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
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SESSION_DBS: list[str] = []
_SERVER = None  # the configured server (a Warehouse): this session's databases are created on it


def _admin(server, statement: sql.Composable) -> None:
    with server.with_database("postgres").connect("inventory-tests") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)


def pytest_configure(config):
    """Runs before any test module imports Airflow: the env vars decide which databases Airflow uses."""
    global _SERVER
    sys.path.insert(0, str(PROJECT_ROOT))
    from include.inventory.warehouse import Warehouse

    # Where the session's databases are made: the local cluster's superuser (LOCAL_PG_ADMIN_URL, set by
    # scripts/env.sh; the pipeline and the portal themselves connect as their own roles), or the configured server.
    admin = os.environ.get("LOCAL_PG_ADMIN_URL")
    _SERVER = Warehouse.from_uri(admin.rstrip("/") + "/postgres") if admin else Warehouse.from_env()
    tag = uuid.uuid4().hex[:8]
    warehouse, metadata = f"test_inventory_{tag}", f"test_airflow_{tag}"
    try:
        for name in (warehouse, metadata):
            _admin(_SERVER, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _SESSION_DBS.append(name)
    except psycopg2.OperationalError as exc:
        raise pytest.UsageError(
            f"cannot reach PostgreSQL at {_SERVER} ({exc}). Run the suite with `make test`, which starts the "
            "project-local cluster, or set AIRFLOW_CONN_WAREHOUSE_DB to a server you can create databases on."
        ) from exc
    os.environ["AIRFLOW_CONN_WAREHOUSE_DB"] = _SERVER.with_database(warehouse).uri
    os.environ.pop("PORTAL_DATABASE_URL", None)  # scripts/env.sh's points at the developer's own database
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _SERVER.with_database(metadata).sqlalchemy_url
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
    # The tests publish simulated days of the past: measured against the clock, every run would be "behind".
    # The freshness tests set their own limit.
    os.environ["AIRFLOW_VAR_FRESHNESS_LIMIT_MINUTES"] = "0"


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
        _admin(_SERVER, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def warehouse_uri() -> str:
    return os.environ["AIRFLOW_CONN_WAREHOUSE_DB"]


@pytest.fixture(scope="session")
def warehouse_db(warehouse_uri):
    """This session's warehouse database as the pipeline sees it (include.inventory.warehouse.Warehouse)."""
    from include.inventory.warehouse import Warehouse

    return Warehouse.from_uri(warehouse_uri)


@pytest.fixture(scope="session")
def simulated_history(warehouse_db):
    """`with simulated_history(config, end, days, products, tag) as conn:` a connection to this session's warehouse,
    its schema created anew and loaded with `products` products of the snapshot catalogue, `config`'s master data
    and `days` one-day batches of simulated history ending at `end`."""

    @contextmanager
    def open_history(config, end, days: int, products: int, tag: str):
        from include.inventory import schema, simulation
        from include.inventory.catalogue import SnapshotCatalogue, load_catalogue_records

        with warehouse_db.connect() as conn:
            schema.drop(conn)
            schema.create(conn)
            load_catalogue_records(conn, SnapshotCatalogue().fetch_products(), "snapshot", f"catalogue-{tag}", products)
            simulation.ensure_master_data(conn, config)
            simulation.run_windows(conn, config, simulation.day_windows(end, days))
            yield conn

    return open_history


@pytest.fixture
def conn(warehouse_db):
    """A connection to this session's warehouse database."""
    with warehouse_db.connect("inventory-tests") as connection:
        yield connection


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
