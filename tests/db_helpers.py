"""Database helpers the test tiers share: read rows, and the published tables for tests that write their own."""

from __future__ import annotations

from psycopg2 import sql

from spark_jobs import registry


def rows(conn, statement: str, params=()) -> list[tuple]:
    """The statement's rows, in a transaction of their own (rolled back)."""
    with conn.cursor() as cur:
        cur.execute(statement, params)
        found = cur.fetchall()
    conn.rollback()
    return found


def create_published_tables(cur, names: list[str] | None = None) -> list[str]:
    """The published tables (all, or `names`) as spark_jobs/registry.py declares them (the DDL's own statement:
    columns, types, key, indexes), re-created empty and then relaxed so a test fills only the columns it reads: no
    NOT NULL outside the key, refreshed_at defaulting to now()."""
    names = names or list(registry.TABLES)
    for table in (registry.TABLES[n] for n in names):
        name = sql.Identifier(table.name)
        cur.execute(sql.SQL("DROP TABLE IF EXISTS analytics.{}").format(name))
        cur.execute(registry.create_table(table, "analytics"))
        for column in (c.name for c in table.columns if c.name not in table.keys):
            cur.execute(
                sql.SQL("ALTER TABLE analytics.{} ALTER COLUMN {} DROP NOT NULL").format(name, sql.Identifier(column))
            )
        cur.execute(sql.SQL("ALTER TABLE analytics.{} ALTER COLUMN refreshed_at SET DEFAULT now()").format(name))
    return names
