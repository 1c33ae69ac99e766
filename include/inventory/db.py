"""SQL helpers shared by tasks, scripts and tests: one transaction, and the SQL files under sql/ by name.

Logic takes a psycopg2 connection as an argument and never looks one up itself: the caller opens it from
`include.inventory.warehouse.Warehouse` (the one place the `warehouse_db` connection is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from psycopg2.extensions import connection as PgConnection

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


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
