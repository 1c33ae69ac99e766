"""The project-local cluster's roles (tools/localpg.py): nothing of the product connects as a
superuser, and a cluster made before the roles is handed to them. Runs where the suite uses the local cluster
(scripts/env.sh sets LOCAL_PG_ADMIN_URL); a configured server has its own roles."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg2 import sql

from include.inventory.warehouse import Warehouse
from tools import localpg

pytestmark = pytest.mark.skipif(not os.environ.get("LOCAL_PG_ADMIN_URL"), reason="not on the project-local cluster")


@pytest.fixture
def cluster() -> localpg.Cluster:
    port = urlsplit(os.environ["LOCAL_PG_ADMIN_URL"]).port
    return localpg.Cluster(data_dir=Path("unused"), port=port, bin_dir=Path("unused"), user=None)


def connect(url: str):
    return Warehouse.from_uri(url).connect()


def test_the_product_roles_exist_and_none_is_a_superuser(cluster):
    with connect(cluster.url("postgres")) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
                (list(localpg.ROLES),),
            )
            assert cur.fetchall() == [
                ("airflow", False, True),
                ("bi_reader", False, False),
                ("inventory", False, True),
                ("portal_app", False, True),
            ]
            cur.execute("SELECT pg_has_role('portal_app', 'bi_reader', 'MEMBER')")
            assert cur.fetchone() == (True,)
            cur.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)",
                (list(localpg.DATABASES),),
            )
            assert dict(cur.fetchall()) == localpg.DATABASES


def test_objects_the_superuser_made_are_handed_to_the_owner(cluster):
    name = f"test_handover_{uuid.uuid4().hex[:8]}"
    with connect(cluster.url("postgres")) as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            with connect(cluster.url(name)) as conn, conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE SCHEMA raw; CREATE TABLE raw.t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);"
                    "CREATE VIEW raw.v AS SELECT id FROM raw.t; CREATE TABLE public.ab_user (id serial PRIMARY KEY)"
                )
            cluster._hand_over(name, "inventory")
            cluster._hand_over(name, "inventory")  # again: nothing left to hand over, no error
            with connect(cluster.url(name)) as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname IN ('raw', 'public')"
                )
                assert cur.fetchall() == [("inventory",)]
                cur.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'raw'")
                assert cur.fetchone() == ("inventory",)
        finally:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
