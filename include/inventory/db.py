"""Warehouse database access shared by tasks, scripts and tests.

Inside Airflow, tasks get a connection from the `warehouse_db` connection through PostgresHook; scripts outside
Airflow read the same URI from AIRFLOW_CONN_WAREHOUSE_DB. Either way the logic below takes a psycopg2
connection as an argument: it never looks one up itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg2
from psycopg2.extensions import connection as PgConnection

from include.inventory.config import WAREHOUSE_CONN_ID

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LOCAL_DEFAULT_URI = "postgresql://inventory@127.0.0.1:55432/inventory"


def warehouse_uri() -> str:
    """The warehouse URI for code running outside Airflow (same env var Airflow reads the connection from)."""
    env_name = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"
    return os.environ.get(env_name, LOCAL_DEFAULT_URI)


def libpq_dsn(uri: str) -> str:
    """Airflow accepts postgres:// and postgresql+psycopg2://; libpq wants postgresql://."""
    for prefix in ("postgresql+psycopg2://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql://" + uri[len(prefix) :]
    return uri


def connect(uri: str | None = None, **kwargs) -> PgConnection:
    return psycopg2.connect(libpq_dsn(uri or warehouse_uri()), connect_timeout=10, **kwargs)


def airflow_connection() -> PgConnection:
    """A psycopg2 connection from the Airflow connection `warehouse_db` (call inside a task only).

    Built from the connection's fields rather than PostgresHook.get_conn(), which returns a psycopg 3
    connection under SQLAlchemy 2; our loaders use psycopg2's COPY and execute_values.
    """
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(WAREHOUSE_CONN_ID)
    return psycopg2.connect(
        host=c.host or "127.0.0.1",
        port=c.port or 5432,
        dbname=c.schema or "postgres",
        user=c.login,
        password=c.password,
        connect_timeout=10,
        application_name="inventory-airflow",
    )


@contextmanager
def transaction(conn: PgConnection) -> Iterator:
    """One transaction: commit on success, roll back on any error."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


@cache
def load_sql(name: str) -> str:
    """The text of sql/<name>; names are relative paths like 'ddl/020_raw.sql'."""
    path = (SQL_DIR / name).resolve()
    if SQL_DIR not in path.parents:
        raise ValueError(f"{name!r} is not a file under {SQL_DIR}")
    return path.read_text()
