"""The portal is where alert recipients come from: a registered, active inventory manager is in the low-stock
routing of include/inventory/alerts/ for their location; stopping their emails (the account page, closing the
account, or the admin command) takes them out of it."""

from __future__ import annotations

import portal_seed as seed
from portal_helpers import EMAIL, PASSWORD, csrf_token, registered_and_logged_in, request_registration

from include.inventory import alerts, schema
from include.inventory.db import transaction
from include.portal.__main__ import main as portal_cli
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER


def recipients(conn) -> dict[int, list[str]]:
    """What the alert routing reads: active managers' addresses by location."""
    with conn.cursor() as cur:
        found = {loc: [m.email for m in ms] for loc, ms in alerts.active_managers(cur).items()}
    conn.rollback()
    return found


def digests(conn) -> dict[str, set[str]]:
    """Enqueue the low-stock digests for the seeded stock and return the SKUs@warehouse each recipient is sent."""
    with transaction(conn) as cur:
        cur.execute("DELETE FROM alerts.alert_log; DELETE FROM alerts.low_stock_episodes")
    alerts.update_episodes(conn, seed.AS_OF)
    queued = alerts.enqueue_low_stock_digests(conn, seed.THRESHOLD, "ops@example.com", now=seed.AS_OF)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT r.email_address, c.warehouse_id FROM alerts.alert_log a, unnest(a.recipients) r(email_address), "
            "unnest(a.episode_keys) k(key) JOIN alerts.low_stock_episodes e "
            "ON e.episode_id = split_part(k.key, ':', 1)::bigint "
            "JOIN analytics.current_stock c USING (product_id, warehouse_id)"
        )
        found: dict[str, set[int]] = {}
        for address, warehouse_id in cur.fetchall():
            found.setdefault(address, set()).add(warehouse_id)
    conn.rollback()
    assert queued
    return found


def test_a_registered_inventory_manager_receives_their_locations_digest(client, seeded):
    assert recipients(seeded) == {}
    registered_and_logged_in(client, INVENTORY_MANAGER, location_id="2")
    assert recipients(seeded) == {2: [EMAIL]}

    low = {w for p, w in seed.pairs() if seed.quantity(p, w) <= seed.THRESHOLD}
    assert low & {3, 4} and low - {3, 4}  # the seed has low stock in Southport and elsewhere
    sent = digests(seeded)
    assert sent == {EMAIL: low & {3, 4}, "ops@example.com": low - {3, 4}}  # the rest falls back


def test_store_managers_are_not_alert_recipients(client, seeded):
    registered_and_logged_in(client, STORE_MANAGER, location_id="2")
    assert recipients(seeded) == {}


def test_stopping_and_resuming_emails_from_the_account_page(client, seeded):
    registered_and_logged_in(client, INVENTORY_MANAGER, location_id="1")
    page = client.get("/account").text
    assert "On: you receive the low-stock digests for Northfield." in page

    token = csrf_token(client, "/account")
    response = client.post("/account/alerts", data={"csrf_token": token, "alerts": "off"})
    assert response.status_code == 303
    assert "Low-stock emails are off" in client.get("/account").text
    assert recipients(seeded) == {}
    assert EMAIL not in digests(seeded)

    client.post("/account/alerts", data={"csrf_token": token, "alerts": "on"})
    assert recipients(seeded) == {1: [EMAIL]}
    assert digests(seeded)[EMAIL] == {w for p, w in seed.pairs() if w in (1, 2) and seed.quantity(p, w) <= 50}


def test_closing_the_account_stops_the_emails(client, seeded):
    registered_and_logged_in(client, INVENTORY_MANAGER, location_id="3")
    assert recipients(seeded) == {3: [EMAIL]}
    token = csrf_token(client, "/account")
    client.post("/account/deactivate", data={"csrf_token": token, "password": PASSWORD})
    assert recipients(seeded) == {}


def test_admin_command_deactivates_and_reactivates(client, seeded, settings, monkeypatch, capsys):
    registered_and_logged_in(client, INVENTORY_MANAGER, location_id="1")
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", settings.secret_key)

    assert portal_cli(["deactivate", EMAIL.upper(), "--role", INVENTORY_MANAGER]) == 0
    assert "deactivated account" in capsys.readouterr().out
    assert recipients(seeded) == {}
    assert client.get("/api/dashboard").status_code == 401  # logged out too

    assert portal_cli(["activate", EMAIL]) == 0
    assert recipients(seeded) == {1: [EMAIL]}
    assert portal_cli(["deactivate", "nobody@example.com"]) == 1
    assert "no account with email nobody@example.com" in capsys.readouterr().err


def test_registering_claims_an_existing_manager_row(client, seeded):
    """A manager added before the portal existed (seeded, or by hand) registers with their address: the row the
    routing reads is reused, updated and made active, not duplicated."""
    with transaction(seeded) as cur:
        cur.execute(
            "INSERT INTO portal.inventory_managers (name, email, phone, location_id, active) "
            "VALUES ('Old Name', %s, NULL, 3, false) RETURNING manager_id",
            (EMAIL.upper(),),
        )
        (manager_id,) = cur.fetchone()
    registered_and_logged_in(client, INVENTORY_MANAGER, location_id="2", name="Ann Lee")
    with seeded.cursor() as cur:
        cur.execute("SELECT manager_id, name, location_id, active FROM portal.inventory_managers")
        assert cur.fetchall() == [(manager_id, "Ann Lee", 2, True)]
        cur.execute("SELECT manager_id FROM portal.accounts")
        assert cur.fetchall() == [(manager_id,)]
    seeded.rollback()


def test_a_linked_manager_row_cannot_be_claimed_twice(client, make_client, seeded):
    registered_and_logged_in(client, INVENTORY_MANAGER)
    again = make_client("198.51.100.99")
    response = request_registration(again, INVENTORY_MANAGER, email=EMAIL.upper(), name="Someone Else")
    assert response.status_code == 200 and "If that address can be registered" in response.text
    assert "already have an account" in again.mailbox.messages(EMAIL)[-1].get_body(("plain",)).get_content()
    with seeded.cursor() as cur:
        cur.execute("SELECT count(*) FROM portal.inventory_managers")
        assert cur.fetchone() == (1,)
    seeded.rollback()


def test_recipients_from_before_the_move_come_along_with_their_ids(seeded):
    """A warehouse from before the recipients left raw: applying the DDL moves raw.inventory_managers, ids and
    account links and all, into portal.inventory_managers, and drops the raw table."""
    with transaction(seeded) as cur:
        cur.execute(
            "CREATE TABLE raw.inventory_managers (manager_id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "name text NOT NULL, email text NOT NULL UNIQUE, phone text, location_id integer NOT NULL, "
            "active boolean NOT NULL DEFAULT true, created_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute(
            "INSERT INTO raw.inventory_managers (manager_id, name, email, location_id, active) VALUES "
            "(5, 'Donna Kim', 'donna.kim@example.com', 1, true), (7, 'Eli Ray', 'eli.ray@example.com', 2, false)"
        )
        cur.execute(
            "ALTER TABLE portal.accounts DROP CONSTRAINT accounts_manager_id_fkey, ADD CONSTRAINT "
            "accounts_manager_id_fkey FOREIGN KEY (manager_id) REFERENCES raw.inventory_managers (manager_id)"
        )
    schema.create(seeded)
    with seeded.cursor() as cur:
        cur.execute("SELECT manager_id, email, active FROM portal.inventory_managers ORDER BY manager_id")
        assert cur.fetchall() == [(5, "donna.kim@example.com", True), (7, "eli.ray@example.com", False)]
        cur.execute("SELECT to_regclass('raw.inventory_managers')")
        assert cur.fetchone() == (None,)
        cur.execute("SELECT confrelid::regclass::text FROM pg_constraint WHERE conname = 'accounts_manager_id_fkey'")
        assert cur.fetchone() == ("portal.inventory_managers",)
        cur.execute(
            "INSERT INTO portal.inventory_managers (name, email, location_id) VALUES ('New One', 'n@example.com', 3) "
            "RETURNING manager_id"
        )
        assert cur.fetchone()[0] > 7  # the identity continues after the moved ids
    seeded.rollback()
    assert recipients(seeded) == {1: ["donna.kim@example.com"]}
