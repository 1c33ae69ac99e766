"""The portal's database role, portal_app: a real connection as that role (the one the app uses) may do what the
portal needs and gets a permission error for anything else: writing raw, staging, analytics or sim, reading
what it has no business with, or touching the outbox rows that are not its own."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest
from portal_helpers import EMAIL, registered_and_logged_in

from include.inventory import alerts
from include.inventory.alerts.outbox import enqueue as outbox_enqueue
from include.inventory.db import transaction
from include.inventory.warehouse import Warehouse
from include.portal.accounts import INVENTORY_MANAGER


@pytest.fixture
def as_portal(portal_uri, seeded):
    with Warehouse.from_uri(portal_uri).connect() as conn:
        yield conn


def refused(conn, statement: str) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    except psycopg2.errors.InsufficientPrivilege:
        return True
    finally:
        conn.rollback()
    return False


def test_the_portal_role_is_no_superuser_and_connects_as_itself(as_portal):
    with as_portal.cursor() as cur:
        cur.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        assert cur.fetchone() == ("portal_app", False, False, False)
    as_portal.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO raw.warehouse_locations (location_id, location_name, city, country) VALUES (99, 'X', 'X', 'X')",
        "UPDATE raw.warehouse SET capacity = 1",
        "DELETE FROM raw.products",
        "SELECT count(*) FROM raw.products",  # nothing to read there either: only locations and warehouses
        "CREATE TABLE raw.portal_was_here (x int)",
        "UPDATE analytics.current_stock SET quantity = 0",
        "DELETE FROM analytics.publish_log",
        "INSERT INTO analytics.publish_log (run_id, as_of, tables) VALUES ('x', now(), '{}')",
        "CREATE TABLE analytics.portal_was_here (x int)",
        "CREATE TABLE staging.portal_was_here (x int)",
        "DELETE FROM sim.shrinkage_events",
        "DELETE FROM alerts.low_stock_episodes",
        "DELETE FROM alerts.alert_log",
        "UPDATE alerts.alert_log SET mime = 'x'",
    ],
)
def test_the_portal_role_cannot_write_the_other_layers(as_portal, statement):
    assert refused(as_portal, statement)


def test_it_reads_master_data_and_dashboards_and_writes_its_own_schema(as_portal):
    with transaction(as_portal) as cur:
        cur.execute("SELECT count(*) FROM raw.warehouse_locations")
        assert cur.fetchone()[0] == 3
        cur.execute("SET LOCAL ROLE bi_reader")
        cur.execute("SELECT count(*) FROM analytics.current_stock")
        assert cur.fetchone()[0] > 0
    with transaction(as_portal) as cur:
        cur.execute(
            "INSERT INTO portal.inventory_managers (name, email, location_id) VALUES ('A B', 'a.b@example.com', 2)"
        )
        cur.execute("DELETE FROM portal.inventory_managers WHERE email = 'a.b@example.com'")


def test_it_sees_and_sends_only_its_own_outbox_rows(make_client, as_portal, seeded):
    registered_and_logged_in(make_client(), INVENTORY_MANAGER)  # one 'account' email, sent by the portal
    with transaction(seeded) as cur:  # and a low-stock email, as the alerting code (the owner) writes them
        msg = alerts.build_message(sender="a@example.com", to=[], subject="low", text="x")
        outbox_enqueue(cur, "low_stock", msg, ["someone@example.com"], "low", 1)
    with as_portal.cursor() as cur:
        cur.execute("SELECT kind, recipients FROM alerts.alert_log")
        assert cur.fetchall() == [("account", [EMAIL])]
        cur.execute("UPDATE alerts.alert_log SET status = 'pending', sent_at = NULL WHERE kind = 'low_stock'")
        assert cur.rowcount == 0
    as_portal.rollback()
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # the row-level policy's check
        with transaction(as_portal) as cur:
            outbox_enqueue(cur, "low_stock", msg, ["victim@example.com"], "forged", 1)
