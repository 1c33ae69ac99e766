"""The one-machine reference: the analytics as PostgreSQL-native `INSERT ... SELECT` (bench/pg_native.sql).

Writes to the bench database's own schema `native_sql` (tables created LIKE the published ones), in one
transaction, as a publish would. `verify` compares its rows with the published tables (`refreshed_at` aside), so
the comparison with the Spark application is like for like on the tables it covers (`TABLES`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg2 import sql

from include.inventory import db

SQL_FILE = Path(__file__).with_name("pg_native.sql")
_SECTION = re.compile(r"^-- table: (\w+)\s*$", re.M)


def sections() -> dict[str, str]:
    """Table name -> the statements that build it, in file order."""
    text = SQL_FILE.read_text()
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


TABLES = tuple(sections())


def setup(conn) -> None:
    """Create native_sql.<table> LIKE analytics.<table> (columns, types, primary key) for every covered table.

    Created afresh each time: a reused bench database may hold them in an older release's shape.
    """
    with db.transaction(conn) as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS native_sql")
        for table in TABLES:
            t = sql.Identifier(table)
            cur.execute(sql.SQL("DROP TABLE IF EXISTS native_sql.{t}").format(t=t))
            cur.execute(sql.SQL("CREATE TABLE native_sql.{t} (LIKE analytics.{t} INCLUDING ALL)").format(t=t))


@dataclass
class NativeRun:
    seconds: float
    tables: dict[str, float]  # seconds per table
    rows: dict[str, int]


def run(conn, as_of: datetime, window_days: int) -> NativeRun:
    """Build every covered table as of `as_of` (demand over `window_days` complete days) in one transaction."""
    params = {
        "as_of": as_of,
        "window_days": window_days,
        "last_day": (as_of.astimezone(UTC) - timedelta(microseconds=1)).date(),
        "refreshed_at": datetime.now(UTC),
    }
    began = time.monotonic()
    timings, rows = {}, {}
    with db.transaction(conn) as cur:
        # What a DBA gives a batch job: sorts and hashes in memory rather than temp files, and no JIT (its
        # compile time, about 1 s here, buys nothing on queries this size).
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("SET LOCAL jit = off")
        for table, statements in sections().items():
            step = time.monotonic()
            cur.execute(statements, params)
            rows[table] = cur.rowcount  # the INSERT's, the last statement of the section
            timings[table] = time.monotonic() - step
    return NativeRun(time.monotonic() - began, timings, rows)


def verify(conn) -> dict[str, int]:
    """Rows in one of native_sql.<t> and analytics.<t> but not the other (multiset, refreshed_at aside): 0 = equal."""
    differences = {}
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'refreshed_at'",
                (f"native_sql.{table}",),
            )
            columns = sql.SQL(cur.fetchone()[0])  # names read from the catalogue, quoted by quote_ident
            t = sql.Identifier(table)
            cur.execute(
                sql.SQL(
                    "SELECT (SELECT count(*) FROM (SELECT {c} FROM native_sql.{t} EXCEPT ALL "
                    "SELECT {c} FROM analytics.{t}) a) + (SELECT count(*) FROM (SELECT {c} FROM analytics.{t} "
                    "EXCEPT ALL SELECT {c} FROM native_sql.{t}) b)"
                ).format(c=columns, t=t)
            )
            differences[table] = cur.fetchone()[0]
    conn.rollback()
    return differences
