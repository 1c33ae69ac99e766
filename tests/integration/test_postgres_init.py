"""docker/postgres-init.sh against a real PostgreSQL: what Compose's PostgreSQL runs on its first start and
astro's inventory-db-init runs at every start (docker-compose.override.yml), so it must set up a bare server and
leave a set-up one as it is.

It runs on the test server with names of its own (the script takes them from the environment) and removes them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from psycopg2 import sql

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "postgres-init.sh"


def psql_dir() -> str:
    for candidate in (os.environ.get("PG_BIN_DIR"), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)):
        if candidate and Path(candidate, "psql").exists():
            return candidate
    found = shutil.which("psql")
    if not found:
        pytest.skip("no psql client on this machine (Debian's postgresql-client, or PG_BIN_DIR)")
    return str(Path(found).parent)


@pytest.fixture
def server(warehouse_db):
    """The test server as libpq environment variables, a superuser connection, and cleanup of what the test made."""
    env = {
        "PATH": f"{psql_dir()}:{os.environ['PATH']}",
        "PGHOST": warehouse_db.host,
        "PGPORT": str(warehouse_db.port),
        "POSTGRES_USER": warehouse_db.user or "postgres",
        **({"PGPASSWORD": warehouse_db.password} if warehouse_db.password else {}),
    }
    with warehouse_db.with_database("postgres").connect() as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            if not cur.fetchone()[0]:
                pytest.skip("the test server's user may not create roles")
        made: list[tuple[str, str]] = []
        yield env, admin, made
        with admin.cursor() as cur:
            for kind, name in reversed(made):
                cur.execute(sql.SQL(f"DROP {kind} IF EXISTS {{}}").format(sql.Identifier(name)))


def run(env: dict, **names: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT)], env={**env, **names}, capture_output=True, text=True, timeout=60, check=False
    )


def one(admin, query: str, *args):
    with admin.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchone()


def test_sets_up_the_warehouse_and_is_safe_to_run_again(server):
    env, admin, made = server
    tag = uuid.uuid4().hex[:8]
    db, owner, metadata = f"inventory_{tag}", f"inventory_{tag}_owner", f"airflow_{tag}"
    made += [("ROLE", owner), ("DATABASE", db), ("ROLE", metadata), ("DATABASE", metadata)]
    names = {
        "WAREHOUSE_DB": db,
        "WAREHOUSE_DB_USER": owner,
        "WAREHOUSE_DB_PASSWORD": "it's-a-test",  # a quote: passwords are quoted, never spliced
        "AIRFLOW_DB": metadata,
        "AIRFLOW_DB_PASSWORD": "another-test",
    }
    for attempt in (1, 2):
        proc = run(env, **names)
        assert proc.returncode == 0, f"run {attempt}: {proc.stderr}"
        assert f"database {db} (owner {owner})" in proc.stdout
        assert proc.stderr == "", f"run {attempt} printed: {proc.stderr}"

    assert one(admin, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", db) == (owner,)
    assert one(admin, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", metadata) == (metadata,)
    login = "SELECT rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s"
    assert one(admin, login, owner) == (True, True)
    assert one(admin, login, metadata) == (True, True)
    # bi_reader may connect to the warehouse; the portal's own role may connect and act as bi_reader (its
    # dashboards); the owner is not handed bi_reader any more (the portal no longer logs in as it).
    assert one(admin, "SELECT has_database_privilege('bi_reader', %s, 'CONNECT')", db) == (True,)
    assert one(admin, "SELECT has_database_privilege('portal_app', %s, 'CONNECT')", db) == (True,)
    assert one(admin, "SELECT pg_has_role('portal_app', 'bi_reader', 'MEMBER')") == (True,)
    assert one(admin, "SELECT pg_has_role(%s, 'bi_reader', 'MEMBER')", owner) == (False,)
    # Nobody else may connect to either database; the metadata owner not to the warehouse.
    for name in (db, metadata):
        assert one(admin, "SELECT has_database_privilege('public', %s, 'CONNECT')", name) == (False,)
    assert one(admin, "SELECT has_database_privilege(%s, %s, 'CONNECT')", metadata, db) == (False,)


def test_without_an_airflow_password_only_the_warehouse_is_made(server):
    """astro's run: Airflow's metadata lives in astro's database `postgres`, no `airflow` database is made."""
    env, admin, made = server
    tag = uuid.uuid4().hex[:8]
    db, owner, metadata = f"inventory_{tag}", f"inventory_{tag}_owner", f"airflow_{tag}"
    made += [("ROLE", owner), ("DATABASE", db)]
    proc = run(env, WAREHOUSE_DB=db, WAREHOUSE_DB_USER=owner, WAREHOUSE_DB_PASSWORD="x", AIRFLOW_DB=metadata)
    assert proc.returncode == 0, proc.stderr
    assert one(admin, "SELECT count(*) FROM pg_database WHERE datname = %s", metadata) == (0,)
    assert one(admin, "SELECT count(*) FROM pg_roles WHERE rolname = %s", metadata) == (0,)


def test_refuses_to_run_without_the_warehouse_password(server):
    env, admin, _ = server
    proc = run(env, WAREHOUSE_DB=f"inventory_{uuid.uuid4().hex[:8]}")
    assert proc.returncode != 0
    assert "WAREHOUSE_DB_PASSWORD" in proc.stderr
