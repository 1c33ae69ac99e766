"""Server-side sessions (logout, idle and absolute expiry on the portal's clock), the password-check throttle across
endpoints and addresses, and the connection pool: password hashing never holds a connection, connections are kept.
TestClient on the real PostgreSQL; time moves through the injected clock, never by sleeping."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from db_helpers import rows
from portal_helpers import EMAIL, PASSWORD, csrf_token, login, registered_and_logged_in

from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER
from include.portal.app import SESSION_COOKIE
from include.portal.security import DeviceCookie


def log_out(client) -> None:
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/account")}).status_code == 303


# ------------------------------------------------------------------------------------------------ sessions


def test_a_cookie_saved_before_logout_gets_401(make_client, seeded):
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER)
    saved = client.cookies[SESSION_COOKIE]
    log_out(client)
    thief = make_client("203.0.113.5")
    thief.cookies.set(SESSION_COOKIE, saved)
    for path in ("/api/dashboard", "/api/watermark", "/dashboard/live"):
        assert thief.get(path).status_code == 401
    assert thief.get("/dashboard").headers["location"] == "/"
    assert rows(seeded, "SELECT revoked_reason FROM portal.sessions") == [("logged out",)]


def test_a_session_ends_after_30_idle_minutes(client, seeded, clock):
    registered_and_logged_in(client, STORE_MANAGER)
    for _ in range(3):  # in use every 25 minutes: alive
        clock.advance(minutes=25)
        assert client.get("/api/dashboard").status_code == 200
    clock.advance(minutes=30, seconds=1)
    assert client.get("/api/dashboard").status_code == 401
    assert rows(seeded, "SELECT revoked_reason FROM portal.sessions") == [("idle",)]


def test_a_session_ends_8_hours_after_login_however_busy(client, seeded, clock):
    registered_and_logged_in(client, STORE_MANAGER)
    for _ in range(7 * 4 + 3):  # every 15 minutes for 7 h 45 min
        clock.advance(minutes=15)
        assert client.get("/api/watermark").status_code == 200
    clock.advance(minutes=15, seconds=1)
    assert client.get("/api/watermark").status_code == 401
    assert rows(seeded, "SELECT revoked_reason FROM portal.sessions") == [("expired",)]
    assert login(client, STORE_MANAGER).status_code == 303  # a new login starts a new session


def test_expiry_is_configurable(make_client, seeded, clock):
    client = registered_and_logged_in(make_client(session_idle_seconds=60, session_touch_seconds=10), STORE_MANAGER)
    clock.advance(seconds=50)
    assert client.get("/api/dashboard").status_code == 200
    clock.advance(seconds=61)
    assert client.get("/api/dashboard").status_code == 401


def test_closing_the_account_ends_its_sessions_everywhere(make_client, seeded):
    laptop = registered_and_logged_in(make_client("198.51.100.1"), INVENTORY_MANAGER)
    phone = make_client("198.51.100.2")
    assert login(phone, INVENTORY_MANAGER).status_code == 303
    token = csrf_token(laptop, "/account")
    assert laptop.post("/account/deactivate", data={"csrf_token": token, "password": PASSWORD}).status_code == 303
    assert phone.get("/api/dashboard").status_code == 401
    assert rows(seeded, "SELECT count(*) FROM portal.sessions WHERE revoked_at IS NULL") == [(0,)]


# ------------------------------------------------------------------------------------------------ throttle


def guess_everywhere(make_client, victim, total: int) -> list[int]:
    """`total` wrong passwords for the victim's account, from as many addresses, through login, the account page's
    password change and its close-account form (a stolen session cookie, no device cookie)."""
    statuses = []
    for i in range(total):
        attacker = make_client(f"203.0.113.{100 + i}")
        endpoint = ("login", "change", "deactivate")[i % 3]
        if endpoint == "login":
            statuses.append(login(attacker, INVENTORY_MANAGER, password=f"guess number {i}").status_code)
            continue
        attacker.cookies.set(SESSION_COOKIE, victim.cookies[SESSION_COOKIE])
        token = csrf_token(attacker, "/account")
        if endpoint == "change":
            data = {"current_password": f"guess number {i}", "new_password": "whatever it takes 1"}
            data["new_password_confirm"] = data["new_password"]
            response = attacker.post("/account/password", data={**data, "csrf_token": token})
        else:
            response = attacker.post("/account/deactivate", data={"password": f"guess number {i}", "csrf_token": token})
        statuses.append(response.status_code)
    return statuses


def test_guessing_is_throttled_per_account_across_addresses_and_endpoints(make_client, seeded):
    victim = registered_and_logged_in(make_client("198.51.100.10"), INVENTORY_MANAGER)
    statuses = guess_everywhere(make_client, victim, 12)
    assert statuses[:10] == [401, 400, 400] * 3 + [401]  # wrong, wrong, wrong... from 10 addresses
    assert statuses[10:] == [429, 429]  # then held back, whichever form and address
    assert rows(seeded, "SELECT DISTINCT purpose FROM portal.password_checks WHERE NOT succeeded ORDER BY 1") == [
        ("change",),
        ("deactivate",),
        ("login",),
    ]
    # The right password from yet another unknown address waits too: the guesser cannot tell it worked.
    assert login(make_client("203.0.113.200"), INVENTORY_MANAGER).status_code == 429
    # The owner is not locked out: their browser (device cookie) and their usual address still get in.
    assert login(victim, INVENTORY_MANAGER).status_code == 303
    new_browser_same_office = make_client("198.51.100.10")
    assert login(new_browser_same_office, INVENTORY_MANAGER).status_code == 303
    assert rows(seeded, "SELECT active FROM portal.accounts") == [(True,)]


def test_a_noisy_address_does_not_lock_out_a_colleague_behind_it(make_client, seeded):
    office = "192.0.2.77"
    colleague = registered_and_logged_in(make_client(office, login_max_failures_per_ip=8), STORE_MANAGER)
    log_out(colleague)
    other_colleague = make_client(office, login_max_failures_per_ip=8)
    registered_and_logged_in(other_colleague, STORE_MANAGER, email="bo.chen@example.com")
    log_out(other_colleague)
    noisy = make_client(office, login_max_failures_per_ip=8)
    # Someone in the office sprays guesses at many accounts, and at the colleague's own.
    for i in range(8):
        assert login(noisy, STORE_MANAGER, email=f"user{i}@example.com").status_code == 401
    for _ in range(5):
        login(noisy, STORE_MANAGER, password="is it this one?")
    assert login(noisy, STORE_MANAGER, email="user99@example.com").status_code == 429  # the noisy one waits
    assert login(noisy, STORE_MANAGER).status_code == 429

    # The colleague, in their own browser, with the right password: in. The other colleague too, from a new
    # browser (the address is known to their account, and nobody guessed at it).
    assert login(colleague, STORE_MANAGER).status_code == 303
    fresh = make_client(office, login_max_failures_per_ip=8)
    assert login(fresh, STORE_MANAGER, email="bo.chen@example.com").status_code == 303


def test_a_forged_or_foreign_device_cookie_earns_nothing(make_client, seeded):
    victim = registered_and_logged_in(make_client("198.51.100.50"), STORE_MANAGER)
    attacker = make_client("203.0.113.51", login_max_failures=2)
    (account_id,) = rows(seeded, "SELECT account_id FROM portal.accounts")[0]
    foreign = DeviceCookie("another-secret-key-" + "z" * 32, timedelta(days=30)).add(None, account_id)[0]
    for value in (foreign, victim.cookies[DeviceCookie.NAME] + "x"):
        attacker.cookies.set(DeviceCookie.NAME, value)
        login(attacker, STORE_MANAGER, password="guess one")
    attacker.cookies.set(DeviceCookie.NAME, foreign)
    assert login(attacker, STORE_MANAGER).status_code == 429
    assert login(victim, STORE_MANAGER).status_code == 303


# ------------------------------------------------------------------------------------------------ connections


def test_password_checks_hold_no_database_connection(make_client, seeded):
    """With a pool of one connection, a reader's request goes through while a login is inside the (blocked)
    password verification: the check borrowed no connection for it."""
    registered_and_logged_in(make_client(), STORE_MANAGER)
    guesser = make_client("203.0.113.9", db_pool_size=1)
    passwords = guesser.app.state.passwords
    inside, release = threading.Event(), threading.Event()
    original = passwords.verify

    def slow_verify(stored, password):
        inside.set()
        assert release.wait(30)
        return original(stored, password)

    passwords.verify = slow_verify
    token = csrf_token(guesser, "/login/store_manager")
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(
            response=guesser.post(
                "/login/store_manager", data={"email": EMAIL, "password": "a wrong guess", "csrf_token": token}
            )
        )
    )
    worker.start()
    try:
        assert inside.wait(30)
        # The guesser's app has one connection; while its login sits in verify, the connection is free to use
        # (were it held, this would wait for it and time out).
        with guesser.app.state.db.transaction() as cur:
            cur.execute("SELECT count(*) FROM portal.sessions")
            assert cur.fetchone()[0] >= 1
    finally:
        release.set()
        worker.join(30)
    assert result["response"].status_code == 401


def test_the_pool_keeps_its_connections(make_client, seeded, warehouse_uri):
    client = registered_and_logged_in(make_client(db_pool_size=2), STORE_MANAGER)

    def portal_backends() -> set[int]:
        return {
            r[0]
            for r in rows(
                seeded,
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'inventory-portal' "
                "AND datname = current_database()",
            )
        }

    client.get("/api/dashboard")
    before = portal_backends()
    for _ in range(10):
        assert client.get("/api/watermark").status_code == 200
    after = portal_backends()
    assert 0 < len(before) <= 2 and after == before  # the same backends, none opened or closed


@pytest.mark.parametrize("path", ["/api/dashboard", "/account"])
def test_requests_without_a_session_never_reach_the_dashboards(client, seeded, path):
    response = client.get(path)
    assert response.status_code in (401, 303)
