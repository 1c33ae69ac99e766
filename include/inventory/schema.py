"""Create, drop and verify the warehouse schema defined by the DDL files in sql/ddl/.

`EXPECTED_TABLES`, the checklist `verify` holds the database to, is read from the DDL files themselves (a test
keeps that reading equal to what applying them creates). docs/tables.md describes every table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psycopg2.extensions import connection as PgConnection

from include.inventory.db import SQL_DIR, load_sql, transaction

SCHEMAS = ("raw", "staging", "analytics", "sim", "alerts", "portal")

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+\.\w+) \((.*?)\n\);", re.S)
_ALTER = re.compile(r"ALTER TABLE (\w+\.\w+)\s(.*?);", re.S)
_ADD_COLUMN = re.compile(r"ADD COLUMN IF NOT EXISTS (\w+)")
_CONSTRAINT = ("PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK", "FOREIGN", "EXCLUDE")


def _top_level_items(body: str) -> list[str]:
    """A CREATE TABLE body split at the commas outside parentheses."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    return [*items, body[start:]]


def _read_ddl() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Every table the DDL files create, with its columns in order, and the tables declared with a primary key:
    read from the DDL itself (its CREATE TABLE statements and the columns later ALTER TABLEs add), so the DDL
    stays the one source. A test holds this reading to what applying the files really creates."""
    tables: dict[str, list[str]] = {}
    keyed: set[str] = set()
    for name in ddl_files():
        text = "\n".join(line.split("--", 1)[0].rstrip() for line in load_sql(name).splitlines())
        for match in _CREATE.finditer(text):
            columns = [item.split()[0] for item in _top_level_items(match[2]) if item.strip()]
            tables.setdefault(match[1], [c for c in columns if c.upper() not in _CONSTRAINT])
            if "PRIMARY KEY" in match[2].upper():
                keyed.add(match[1])
        for match in _ALTER.finditer(text):
            if match[1] in tables:
                tables[match[1]] += [c for c in _ADD_COLUMN.findall(match[2]) if c not in tables[match[1]]]
    return {table: tuple(columns) for table, columns in tables.items()}, frozenset(keyed)


def ddl_files() -> list[str]:
    return sorted(f"ddl/{p.name}" for p in (SQL_DIR / "ddl").glob("*.sql"))


# What `verify` holds the database to: the tables and columns, and which tables have a primary key.
EXPECTED_TABLES, KEYED_TABLES = _read_ddl()


def create(conn: PgConnection) -> list[str]:
    """Apply every DDL file in order, in one transaction (idempotent: IF NOT EXISTS throughout)."""
    files = ddl_files()
    with transaction(conn) as cur:
        for name in files:
            cur.execute(load_sql(name))
    return files


def drop(conn: PgConnection) -> None:
    with transaction(conn) as cur:
        cur.execute(load_sql("drop_schemas.sql"))


@dataclass
class Verification:
    missing_schemas: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    tables_without_primary_key: list[str] = field(default_factory=list)
    checked_tables: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.missing_schemas or self.missing_tables or self.missing_columns or self.tables_without_primary_key
        )

    def problems(self) -> str:
        parts = []
        for label, items in (
            ("missing schemas", self.missing_schemas),
            ("missing tables", self.missing_tables),
            ("missing columns", self.missing_columns),
            ("tables without a primary key", self.tables_without_primary_key),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts)


def catalog_columns(conn: PgConnection, schemas=SCHEMAS) -> dict[str, list[str]]:
    """Ordinary tables (and their columns, in order) that exist in the given schemas."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.table_schema || '.' || c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = ANY(%s) AND t.table_type = 'BASE TABLE'
            ORDER BY 1, c.ordinal_position
            """,
            (list(schemas),),
        )
        found: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            found.setdefault(table, []).append(column)
    conn.rollback()
    return found


def verify(conn: PgConnection) -> Verification:
    """Compare the database with EXPECTED_TABLES: every schema, table, column and primary key."""
    result = Verification()
    with conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMAS),))
        present = {row[0] for row in cur.fetchall()}
        result.missing_schemas = [s for s in SCHEMAS if s not in present]
        cur.execute(
            """
            SELECT n.nspname || '.' || c.relname
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'p' AND n.nspname = ANY(%s)
            """,
            (list(SCHEMAS),),
        )
        with_pk = {row[0] for row in cur.fetchall()}
    found = catalog_columns(conn)
    for table, columns in EXPECTED_TABLES.items():
        if table not in found:
            result.missing_tables.append(table)
            continue
        result.checked_tables += 1
        result.missing_columns += [f"{table}.{c}" for c in columns if c not in found[table]]
        if table in KEYED_TABLES and table not in with_pk:
            result.tables_without_primary_key.append(table)
    return result
