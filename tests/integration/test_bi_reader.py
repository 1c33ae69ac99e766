"""The BI role against a real PostgreSQL: bi_reader reads every analytics table and nothing else.

`fresh_schema` applies every sql/ddl file, 090_bi_reader.sql included. The test user is a superuser, so it can
`SET ROLE bi_reader` although the role cannot log in (NOLOGIN until a deployment says otherwise); inside that
role, every statement is checked exactly as it would be for Power BI.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from include.inventory import db
from include.inventory.analytics import BI_ROLE

DDL = "ddl/090_bi_reader.sql"


def apply_bi_ddl(conn, role: str = BI_ROLE) -> None:
    """Run the BI grants as the schema refresh does (one transaction); `role` swaps in a private role name."""
    text = db.load_sql(DDL)
    assert "bi_reader" in text
    with db.transaction(conn) as cur:
        cur.execute(text.replace("bi_reader", role))


def as_role(conn, statement: str, role: str = BI_ROLE) -> list[tuple]:
    """Run one statement as `role` (SET LOCAL: undone with the transaction), then roll back."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.rollback()


def run(conn, statement: str) -> None:
    with db.transaction(conn) as cur:
        cur.execute(statement)


@pytest.fixture
def warehouse(fresh_schema):
    """The schema with two small stand-ins for analytics tables, and a staging table (the declared ones, which the
    schema creates empty, make way for them)."""
    run(
        fresh_schema,
        """
        DROP TABLE analytics.current_stock, staging.current_stock, analytics.kpi_sales_summary;
        CREATE TABLE analytics.current_stock (product_id integer PRIMARY KEY, quantity integer NOT NULL);
        INSERT INTO analytics.current_stock VALUES (1, 10), (2, 0);
        CREATE TABLE staging.current_stock (product_id integer PRIMARY KEY, quantity integer NOT NULL);
        INSERT INTO staging.current_stock VALUES (1, 10);
        """,
    )
    apply_bi_ddl(fresh_schema)  # the re-grant publish and the refresh DAG do: idempotent
    # Created after the grants: readable through the default privilege alone.
    run(
        fresh_schema,
        """
        CREATE TABLE analytics.kpi_sales_summary (total_revenue numeric(18, 2) NOT NULL);
        INSERT INTO analytics.kpi_sales_summary VALUES (123.45);
        """,
    )
    return fresh_schema


def analytics_tables(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'analytics' ORDER BY 1")
        names = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return names


def test_role_exists_without_power(warehouse):
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
            "WHERE rolname = %s",
            (BI_ROLE,),
        )
        assert cur.fetchone() == (False, False, False, False, False)
    warehouse.rollback()


def test_reads_every_analytics_table(warehouse):
    tables = analytics_tables(warehouse)
    assert {"current_stock", "kpi_sales_summary", "publish_log"} <= set(tables)
    for table in tables:
        as_role(warehouse, f"SELECT count(*) FROM analytics.{table}")
    assert as_role(warehouse, "SELECT product_id, quantity FROM analytics.current_stock ORDER BY 1") == [
        (1, 10),
        (2, 0),
    ]
    assert as_role(warehouse, "SELECT total_revenue FROM analytics.kpi_sales_summary") == [(Decimal("123.45"),)]


OTHER_LAYERS = ("raw", "staging", "sim", "alerts")
DENIED = {
    "select": "SELECT * FROM {t}",
    "insert": "INSERT INTO {t} ({c}) VALUES (1)",
    "update": "UPDATE {t} SET {c} = {c}",
    "delete": "DELETE FROM {t}",
}


def a_table_of(conn, layer: str) -> tuple[str, str] | None:
    """Some table of the layer and its first column (quoted), or None when the layer has no table here."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name), quote_ident(column_name) "
            "FROM information_schema.columns WHERE table_schema = %s AND ordinal_position = 1 "
            "ORDER BY table_name LIMIT 1",
            (layer,),
        )
        row = cur.fetchone()
    conn.rollback()
    return row


@pytest.mark.parametrize("action", sorted(DENIED))
@pytest.mark.parametrize("layer", OTHER_LAYERS)
def test_cannot_touch_other_layers(warehouse, layer, action):
    found = a_table_of(warehouse, layer)
    if found is None:
        pytest.skip(f"no table in schema {layer} in this checkout")
    table, column = found
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(warehouse, DENIED[action].format(t=table, c=column))


def test_grants_made_by_hand_are_revoked(warehouse):
    """A stray grant on another layer (to the role, or to PUBLIC) is undone by the next schema refresh."""
    role = sql.Identifier(BI_ROLE)
    with db.transaction(warehouse) as cur:
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA raw TO {}, PUBLIC").format(role))
        cur.execute(sql.SQL("GRANT SELECT ON raw.products TO {}, PUBLIC").format(role))
    as_role(warehouse, "SELECT count(*) FROM raw.products")  # the hole is real
    apply_bi_ddl(warehouse)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(warehouse, "SELECT count(*) FROM raw.products")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO analytics.current_stock VALUES (3, 1)",
        "UPDATE analytics.current_stock SET quantity = 0",
        "DELETE FROM analytics.current_stock",
        "TRUNCATE analytics.current_stock",
        "CREATE TABLE analytics.bi_scratch (id integer)",
        "DROP TABLE analytics.current_stock",
        "ALTER TABLE analytics.current_stock ADD COLUMN note text",
        "INSERT INTO analytics.publish_log (run_id, as_of, tables) VALUES ('x', now(), '{}')",
    ],
)
def test_cannot_write_analytics(warehouse, statement):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(warehouse, statement)


def waits_on_a_lock(observer, pid: int, timeout: float = 20.0) -> bool:
    """Whether backend `pid` comes to wait on a lock within `timeout` seconds (read from another session)."""
    deadline = time.monotonic() + timeout
    with observer.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees one snapshot throughout
            cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
            row = cur.fetchone()
            if row and row[0] == "Lock":
                return True
            time.sleep(0.05)
    return False


def test_ddl_is_idempotent_and_tolerates_a_concurrent_creation(fresh_schema, warehouse_db):
    """Two sessions create the (cluster-wide) role at once; both succeed, and re-runs change nothing.

    A private role name stands in for bi_reader, so the race can be staged without touching the shared role
    other test sessions on this server use. Session A creates the role and holds its transaction open; B's
    CREATE ROLE then waits on A's row and, once A commits, fails with a unique violation the DDL absorbs.
    """
    role = f"bi_reader_t{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []
    try:
        with warehouse_db.connect() as other:
            with fresh_schema.cursor() as cur:
                cur.execute(db.load_sql(DDL).replace("bi_reader", role))  # A: created, not committed

            def session_b():
                try:
                    apply_bi_ddl(other, role)
                except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            b = threading.Thread(target=session_b)
            b.start()
            assert waits_on_a_lock(fresh_schema, other.get_backend_pid()), "B should wait for A's uncommitted role"
            fresh_schema.commit()
            b.join(timeout=20)
            assert not b.is_alive() and errors == []

            for _ in range(3):
                apply_bi_ddl(fresh_schema, role)
            with fresh_schema.cursor() as cur:
                cur.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
                assert cur.fetchall() == [(False,)]  # NOLOGIN by default
                # A deployment lets it log in; the DDL must leave that alone.
                cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
            fresh_schema.commit()
            apply_bi_ddl(fresh_schema, role)
            with fresh_schema.cursor() as cur:
                cur.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
                assert cur.fetchall() == [(True,)]
            fresh_schema.rollback()
    finally:
        fresh_schema.rollback()
        fresh_schema.autocommit = True
        with fresh_schema.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone():
                ident = sql.Identifier(role)
                cur.execute(sql.SQL("DROP OWNED BY {}").format(ident))  # its grants, in this database only
                cur.execute(sql.SQL("DROP ROLE {}").format(ident))
        fresh_schema.autocommit = False


def test_a_plain_database_owner_applies_the_ddl(fresh_schema, warehouse_db):
    """The deployment path (docker/postgres-init.sh): the pipeline logs in as the owner of its database, with no
    CREATEROLE, and bi_reader already exists. Every DDL file must apply as that owner, and the tables it then
    creates in analytics must be readable by bi_reader through the default privilege alone.

    Here the owner is a private role in a private database; the test connection (a superuser) acts as it with
    SET ROLE, so this works on any server the suite can create databases on.
    """
    from include.inventory import schema

    tag = uuid.uuid4().hex[:8]
    owner, dbname = f"inventory_owner_t{tag}", f"test_bi_owner_{tag}"
    with warehouse_db.with_database("postgres").connect() as admin:
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner))
                )
            with warehouse_db.with_database(dbname).connect() as conn:
                with conn.cursor() as cur:
                    cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
                    cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
                    assert cur.fetchone() == (False,)
                conn.commit()
                schema.create(conn)  # as the owner; bi_reader exists (fresh_schema created it)
                schema.create(conn)  # and again, as every refresh does
                assert schema.verify(conn).ok
                # The declared tables are readable, and so is one the owner re-creates later (as a publish that
                # replaces an older release's table does).
                assert as_role(conn, "SELECT count(*) FROM analytics.dim_date") == [(0,)]
                run(
                    conn,
                    "DROP TABLE analytics.sales_daily; CREATE TABLE analytics.sales_daily (units bigint); "
                    "INSERT INTO analytics.sales_daily VALUES (7)",
                )
                assert as_role(conn, "SELECT units FROM analytics.sales_daily") == [(7,)]
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    as_role(conn, "SELECT count(*) FROM raw.products")
        finally:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
                cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))
