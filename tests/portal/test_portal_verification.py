"""Verified accounts: nothing is created or changed until the emailed link is followed with the password chosen;
links are signed, single-use and expire; password reset and change; the registration and email limits; answers that
do not tell which addresses exist. Real PostgreSQL, the real SMTP sink (links are read from its messages)."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from db_helpers import rows
from portal_helpers import (
    EMAIL,
    PASSWORD,
    confirm,
    csrf_token,
    login,
    register,
    registered_and_logged_in,
    request_registration,
)

from include.inventory import alerts
from include.inventory.db import transaction
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER

DONNA = "donna.kim@example.com"
NEW_PASSWORD = "orange kettle harbour 42"
DONNAS_PASSWORD = "donna keeps bees in autumn"


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


@pytest.fixture
def donna(seeded):
    """A seeded inventory manager (an alert recipient of Northfield) with no portal account."""
    with transaction(seeded) as cur:
        cur.execute(
            "INSERT INTO portal.inventory_managers (name, email, phone, location_id, active) "
            "VALUES ('Donna Kim', %s, '+1-555-010-0101', 1, true) RETURNING manager_id",
            (DONNA,),
        )
        return cur.fetchone()[0]


def recipient(conn, manager_id: int) -> tuple:
    return rows(
        conn,
        "SELECT name, phone, location_id, active FROM portal.inventory_managers WHERE manager_id = %s",
        (manager_id,),
    )[0]


def active_recipients(conn) -> dict[int, list[str]]:
    with conn.cursor() as cur:
        found = {loc: [m.email for m in ms] for loc, ms in alerts.active_managers(cur).items()}
    conn.rollback()
    return found


# ------------------------------------------------------------------------------------------------ registration


def test_nothing_exists_until_the_emailed_link_is_followed_with_the_password(client, seeded):
    response = request_registration(client, INVENTORY_MANAGER)
    assert response.status_code == 200 and "If that address can be registered, we sent a link" in response.text
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]
    assert active_recipients(seeded) == {}  # not a low-stock recipient yet
    assert login(client, INVENTORY_MANAGER).status_code == 401
    assert client.get("/api/dashboard").status_code == 401

    (message,) = client.mailbox.messages(EMAIL)
    assert message["To"].addresses[0].addr_spec == EMAIL
    assert "Confirm your email address" in message["Subject"]
    link = client.mailbox.last_link(EMAIL)
    assert link.startswith("/verify?token=")
    assert rows(seeded, "SELECT kind, status FROM alerts.alert_log") == [("account", "sent")]  # through the outbox

    opened = client.get(link)  # opening the link changes nothing (mail scanners open links too)
    assert opened.status_code == 200 and "inventory manager at Northfield" in opened.text
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]
    wrong = confirm(client, link, password="not the password chosen")
    assert wrong.status_code == 401 and "not the password chosen when registering" in wrong.text
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]

    done = confirm(client, link)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert client.get("/api/dashboard").status_code == 200
    assert rows(seeded, "SELECT role, email_verified_at IS NOT NULL FROM portal.accounts") == [
        (INVENTORY_MANAGER, True)
    ]
    assert active_recipients(seeded) == {1: [EMAIL]}
    assert client.get(link).status_code == 400  # single use
    assert confirm_status(client, link) == 400


def confirm_status(client, link: str) -> int:
    token = link.split("token=", 1)[1]
    return client.post(
        "/verify",
        data={"token": token, "password": PASSWORD, "csrf_token": csrf_token(client, "/forgot/store_manager")},
    ).status_code


def test_an_existing_recipient_cannot_be_taken_over_or_silenced_without_their_inbox(make_client, seeded, donna):
    before = recipient(seeded, donna)
    mallory = make_client("203.0.113.66")
    # Mallory registers with Donna's address, her own name, phone and location, and a password she knows.
    attack = request_registration(
        mallory,
        INVENTORY_MANAGER,
        email=DONNA,
        name="Mallory Attacker",
        phone="+1 555 666 0000",
        location_id="3",
    )
    assert attack.status_code == 200 and "If that address can be registered" in attack.text
    assert recipient(seeded, donna) == before  # nothing of Donna's row changed
    assert active_recipients(seeded)[1] == [DONNA]  # and her emails still go out
    assert login(mallory, INVENTORY_MANAGER, email=DONNA).status_code == 401  # no account to log in to

    # The link went to Donna's inbox only; Mallory cannot make one up, nor reuse one of her own.
    assert {m["X-Envelope-To"] for m in mallory.mailbox.messages()} == {DONNA}
    assert mallory.get("/verify?token=forged.token.value").status_code == 400
    request_registration(mallory, INVENTORY_MANAGER, email="mallory@example.net", name="Mallory Attacker")
    own = mallory.mailbox.last_link("mallory@example.net")
    forged = own.replace("token=", "token=x")
    assert mallory.get(forged).status_code == 400

    # Donna follows the link out of curiosity: without Mallory's password it creates nothing.
    donnas_browser = make_client("198.51.100.20")
    attack_link = donnas_browser.mailbox.last_link(DONNA)
    assert confirm(donnas_browser, attack_link, password="a guess at what this is").status_code == 401
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]
    assert recipient(seeded, donna) == before

    # Donna registers herself: her own link, her password; her row is claimed with what she typed.
    assert (
        register(
            donnas_browser,
            INVENTORY_MANAGER,
            email=DONNA,
            name="Donna Kim",
            location_id="1",
            password=DONNAS_PASSWORD,
            password_confirm=DONNAS_PASSWORD,
        ).status_code
        == 303
    )
    assert rows(seeded, "SELECT manager_id, name FROM portal.accounts") == [(donna, "Donna Kim")]
    assert recipient(seeded, donna) == ("Donna Kim", "+1 555 010 0199", 1, True)
    # Mallory's pending registration is void now, even if she had got hold of its link.
    assert confirm_status(mallory, attack_link) == 400
    assert login(mallory, INVENTORY_MANAGER, email=DONNA).status_code == 401


def test_links_expire(client, seeded, clock):
    request_registration(client, STORE_MANAGER)
    link = client.mailbox.last_link(EMAIL)
    clock.advance(hours=24, minutes=1)
    assert client.get(link).status_code == 400
    assert confirm_status(client, link) == 400
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(make_client, seeded):
    registered_and_logged_in(make_client("192.0.2.1"), STORE_MANAGER)
    # A hash that costs something (32 MiB), so that a path skipping it would stand out in the timings.
    costly = {"argon2_time_cost": 2, "argon2_memory_kib": 32 * 1024, "emails_per_address_hour": 100}
    timings = {"existing": [], "new": []}
    pages = {}
    for i in range(5):
        for kind, address in (("existing", EMAIL), ("new", f"someone.{i}@example.com")):
            client = make_client(f"192.0.2.{10 + i}", **costly)
            started = time.perf_counter()
            response = request_registration(client, STORE_MANAGER, email=address)
            timings[kind].append(time.perf_counter() - started)
            pages[kind] = (response.status_code, without_csrf(response.text))
    assert pages["existing"] == pages["new"]
    # Both hash the password and write the outbox; the email itself goes out after the answer.
    existing, new = statistics.median(timings["existing"]), statistics.median(timings["new"])
    assert abs(existing - new) < 0.5 * max(existing, new), timings
    # The owner hears that someone tried; nothing else changes.
    notices = [m for m in make_client().mailbox.messages(EMAIL) if "tried to register" in m["Subject"]]
    assert len(notices) == 5
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(1,)]


def test_one_address_gets_at_most_three_portal_emails_an_hour_whoever_asks(make_client, seeded):
    registered_and_logged_in(make_client("192.0.2.1"), STORE_MANAGER)  # the confirmation: email 1
    for i in range(4):
        assert request_registration(make_client(f"192.0.2.{30 + i}"), STORE_MANAGER).status_code == 200
    assert len(make_client().mailbox.messages(EMAIL)) == 3


def test_registrations_are_limited_per_client_address(make_client, seeded, clock):
    client = make_client("203.0.113.40", registrations_per_ip_hour=3)
    for i in range(3):
        assert request_registration(client, STORE_MANAGER, email=f"sign.up.{i}@example.com").status_code == 200
    refused = request_registration(client, STORE_MANAGER, email="sign.up.3@example.com")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert not client.mailbox.messages("sign.up.3@example.com")
    assert request_registration(make_client("203.0.113.41"), STORE_MANAGER, email="x.y@example.com").status_code == 200
    clock.advance(hours=1, minutes=1)
    assert request_registration(client, STORE_MANAGER, email="sign.up.3@example.com").status_code == 200


def test_one_address_gets_at_most_three_portal_emails_an_hour(make_client, seeded):
    for i in range(5):
        assert request_registration(make_client(f"203.0.113.{50 + i}"), STORE_MANAGER).status_code == 200
    assert len(make_client().mailbox.messages(EMAIL)) == 3


# ------------------------------------------------------------------------------------------------ reset, change


def forgot(client, role: str, address: str):
    token = csrf_token(client, f"/forgot/{role}")
    return client.post(f"/forgot/{role}", data={"email": address, "csrf_token": token})


def reset(client, link: str, password: str, again: str | None = None):
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    data = {"token": token, "password": password, "password_confirm": again or password}
    return client.post("/reset", data={**data, "csrf_token": csrf_token(client, "/forgot/store_manager")})


def test_password_reset_by_link_ends_every_session(make_client, seeded, clock):
    phone = registered_and_logged_in(make_client("198.51.100.30"), STORE_MANAGER)
    stranger = make_client("203.0.113.70")
    unknown, known = forgot(stranger, STORE_MANAGER, "nobody@example.com"), forgot(stranger, STORE_MANAGER, EMAIL)
    assert unknown.status_code == known.status_code == 200
    assert without_csrf(unknown.text) == without_csrf(known.text)
    assert not stranger.mailbox.messages("nobody@example.com")
    link = stranger.mailbox.last_link(EMAIL)
    assert link.startswith("/reset?token=")

    laptop = make_client("198.51.100.31")
    weak = reset(laptop, link, "password1234")
    assert weak.status_code == 400 and "too common" in weak.text
    done = reset(laptop, link, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/login/store_manager"
    assert phone.get("/api/dashboard").status_code == 401  # every session ended
    assert laptop.get(link).status_code == 400  # single use
    assert login(laptop, STORE_MANAGER).status_code == 401
    assert login(laptop, STORE_MANAGER, password=NEW_PASSWORD).status_code == 303

    forgot(laptop, STORE_MANAGER, EMAIL)
    late = laptop.mailbox.last_link(EMAIL)
    clock.advance(minutes=61)
    assert laptop.get(late).status_code == 400  # expired


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(make_client, seeded):
    laptop = registered_and_logged_in(make_client("198.51.100.40"), STORE_MANAGER)
    phone = make_client("198.51.100.41")
    assert login(phone, STORE_MANAGER).status_code == 303

    def change(current: str, new: str, again: str | None = None):
        data = {"current_password": current, "new_password": new, "new_password_confirm": again or new}
        return laptop.post("/account/password", data={**data, "csrf_token": csrf_token(laptop, "/account")})

    wrong = change("not my password at all", NEW_PASSWORD)
    assert wrong.status_code == 400 and "The password is wrong." in wrong.text
    weak = change(PASSWORD, "qwerty123456")
    assert weak.status_code == 400 and "too common" in weak.text
    differ = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert differ.status_code == 400 and "The two passwords differ." in differ.text
    assert phone.get("/api/dashboard").status_code == 200

    done = change(PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303
    assert laptop.get("/api/dashboard").status_code == 200  # this browser stays logged in, on a new session
    assert phone.get("/api/dashboard").status_code == 401
    assert login(phone, STORE_MANAGER).status_code == 401
    assert login(phone, STORE_MANAGER, password=NEW_PASSWORD).status_code == 303
