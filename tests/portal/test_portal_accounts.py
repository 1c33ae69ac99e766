"""Registration, login, cookies, CSRF and throttling through the app (TestClient) on the real PostgreSQL.

Registering means following the link the portal emails (portal_helpers.register reads it from the SMTP sink);
test_portal_verification.py tests that flow itself, test_portal_sessions.py the sessions and the throttle's rules."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import psycopg2.errors
import pytest
from argon2 import PasswordHasher
from db_helpers import rows
from portal_helpers import (
    EMAIL,
    PASSWORD,
    csrf_token,
    login,
    register,
    registered_and_logged_in,
    registration,
    request_registration,
)

from include.portal import accounts
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER
from include.portal.app import LOGIN_FAILED, SESSION_COOKIE
from include.portal.config import PortalSettings
from include.portal.security import Passwords, make_hasher

# ------------------------------------------------------------------------------------------------ registration


@pytest.mark.parametrize("role", [STORE_MANAGER, INVENTORY_MANAGER])
def test_register_then_log_in_then_log_out(client, seeded, role):
    response = register(client, role)  # the link from the email, then the password chosen: logged in
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    assert "Your email address is confirmed" in client.get("/dashboard").text
    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303

    response = login(client, role)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert ("Inventory · Northfield" if role == INVENTORY_MANAGER else "Sales · Northfield Store") in page.text

    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/dashboard").headers["location"] == "/"
    assert client.get("/api/dashboard").status_code == 401


def test_the_password_is_stored_as_a_salted_argon2id_hash(client, seeded):
    register(client, STORE_MANAGER)
    register(client, INVENTORY_MANAGER)  # same password, same email, other role
    hashes = [r[0] for r in rows(seeded, "SELECT password_hash FROM portal.accounts ORDER BY account_id")]
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # a random salt each
    for stored in hashes:
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert PasswordHasher().verify(stored, PASSWORD)


def test_production_hashing_parameters():
    settings = PortalSettings(database_url="postgresql://x@y/z", secret_key="k" * 40)
    stored = Passwords(make_hasher(settings)).hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_weaker_hash_is_upgraded_at_the_next_login(client, make_client, seeded):
    register(client, STORE_MANAGER)  # the test settings hash with t=1, m=1024
    stronger = make_client(argon2_time_cost=2, argon2_memory_kib=2048)
    assert login(stronger, STORE_MANAGER).status_code == 303
    (stored,) = rows(seeded, "SELECT password_hash FROM portal.accounts")[0]
    assert "$m=2048,t=2,p=1$" in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_invalid_fields_are_shown_with_messages_and_kept_except_passwords(client, seeded):
    response = request_registration(
        client, STORE_MANAGER, email="not-an-email", phone="12", password_confirm="something else"
    )
    assert response.status_code == 400
    page = response.text
    assert "Enter an email address like name@example.com." in page
    assert "Enter a phone number of 7 to 15 digits" in page
    assert 'aria-invalid="true"' in page and 'role="alert"' in page
    assert 'value="not-an-email"' in page and 'value="Ann Lee"' in page  # kept
    assert PASSWORD not in page  # never sent back
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]
    assert rows(seeded, "SELECT count(*) FROM portal.registrations") == [(0,)]


@pytest.mark.parametrize(
    "password, message",
    [
        ("password1234", "too common"),  # accepted before: 12 characters, in the common-password list
        ("qwerty123456", "too common"),
        ("ann.lee-is-my-name", "must not contain your email"),
        ("short pass", "at least 12 characters"),
    ],
)
def test_weak_passwords_are_refused(client, seeded, password, message):
    response = request_registration(client, STORE_MANAGER, password=password, password_confirm=password)
    assert response.status_code == 400 and message in response.text
    assert rows(seeded, "SELECT count(*) FROM portal.registrations") == [(0,)]


def test_markup_in_fields_is_escaped(client, seeded):
    response = request_registration(client, STORE_MANAGER, name="<script>alert(1)</script>", email="bad")
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_emails_are_unique_per_role_whatever_the_case(client, seeded):
    assert register(client, STORE_MANAGER).status_code == 303
    again = request_registration(client, STORE_MANAGER, email="Ann.Lee@Example.COM")
    assert again.status_code == 200 and "If that address can be registered" in again.text  # says nothing more
    notice = client.mailbox.messages(EMAIL)[-1]
    assert "already have an account" in notice.get_body(("plain",)).get_content()
    assert register(client, INVENTORY_MANAGER).status_code == 303  # the other role may use it
    assert rows(seeded, "SELECT role FROM portal.accounts ORDER BY role") == [(INVENTORY_MANAGER,), (STORE_MANAGER,)]
    with seeded.cursor() as cur, pytest.raises(psycopg2.errors.UniqueViolation):
        cur.execute(
            "INSERT INTO portal.accounts (role, name, email, phone, password_hash, address, location_id, store_name) "
            "VALUES ('store_manager', 'X', 'ANN.LEE@example.com', '5550100', '$argon2id$x', 'Somewhere', 1, 'S')"
        )
    seeded.rollback()


def test_unknown_role_and_location_are_refused(client, seeded):
    assert client.get("/register/admin").status_code == 404
    response = request_registration(client, STORE_MANAGER, location_id="999")
    assert response.status_code == 400 and "Choose your location from the list." in response.text


def test_the_registration_form_lists_the_locations(client, seeded):
    page = client.get("/register/inventory_manager").text
    for name in ("Northfield", "Southport", "Eastbrook"):
        assert f">{name}</option>" in page
    assert 'name="department"' in page and 'name="store_name"' not in page
    assert 'name="store_name"' in client.get("/register/store_manager").text


# ------------------------------------------------------------------------------------------------ login


def test_login_errors_are_generic(client, seeded):
    register(client, STORE_MANAGER)
    wrong_password = login(client, STORE_MANAGER, password="not the password at all")
    unknown_email = login(client, STORE_MANAGER, email="nobody@example.com")
    other_role = login(client, INVENTORY_MANAGER)  # registered as a store manager only
    for response in (wrong_password, unknown_email, other_role):
        assert response.status_code == 401
        assert LOGIN_FAILED in response.text
        assert "not registered" not in response.text.lower() and "unknown" not in response.text.lower()
    assert rows(seeded, "SELECT count(*) FROM portal.password_checks WHERE NOT succeeded") == [(3,)]


def test_login_is_throttled_per_account_and_address(make_client, seeded):
    first = make_client("203.0.113.1")
    register(first, STORE_MANAGER)
    for _ in range(5):
        assert login(first, STORE_MANAGER, password="wrong password, again").status_code == 401
    first.cookies.clear()  # a browser without the device cookie (test_portal_sessions.py covers those)
    blocked = login(first, STORE_MANAGER)  # the right password, but too many failures
    assert blocked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in blocked.text
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert "/dashboard" not in blocked.headers.get("location", "")

    # The same account from another address is not locked out (an attacker cannot lock a manager out).
    other = make_client("203.0.113.2")
    assert login(other, STORE_MANAGER).status_code == 303


def test_throttle_counts_per_address_over_all_emails(make_client, seeded):
    register(make_client("203.0.113.8"), STORE_MANAGER)
    sprayer = make_client("203.0.113.9", login_max_failures_per_ip=4)
    for i in range(4):
        assert login(sprayer, STORE_MANAGER, email=f"guess{i}@example.com").status_code == 401
    assert login(sprayer, STORE_MANAGER).status_code == 429  # an address unknown to the account
    assert login(make_client("203.0.113.8", login_max_failures_per_ip=4), STORE_MANAGER).status_code == 303


def test_throttle_expires_and_a_success_resets_the_count(make_client, seeded, clock):
    register(make_client("192.0.2.1"), STORE_MANAGER)
    client = make_client("192.0.2.5", login_max_failures=3)

    def attempt(password: str, minute: float) -> int:
        client.cookies.clear()  # no device cookie: the (account, address) rule applies
        clock.now = t0 + timedelta(minutes=minute)
        return login(client, STORE_MANAGER, password=password).status_code

    t0 = clock.now
    assert attempt("wrong", 0) == 401 and attempt("wrong", 0) == 401
    assert attempt(PASSWORD, 1) == 303  # a success clears the count
    for minute in (2, 3, 4):
        assert attempt("wrong", minute) == 401
    client.cookies.clear()
    clock.now = t0 + timedelta(minutes=5)
    blocked = login(client, STORE_MANAGER)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == str(12 * 60)
    assert attempt(PASSWORD, 17 + 1 / 60) == 303  # the oldest failure aged out


def test_a_deactivated_account_cannot_log_in(client, seeded):
    register(client, STORE_MANAGER)
    with seeded.cursor() as cur:
        cur.execute("UPDATE portal.accounts SET active = false")
    seeded.commit()
    response = login(client, STORE_MANAGER)
    assert response.status_code == 401 and LOGIN_FAILED in response.text


# ------------------------------------------------------------------------------------------------ sessions, CSRF


def test_session_cookie_is_signed_httponly_and_lax(client, seeded):
    registered_and_logged_in(client, STORE_MANAGER)
    response = login(client, STORE_MANAGER)
    (cookie,) = [c.lower() for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP locally (https_only=False)
    # The cookie carries a random session id and the CSRF token: no account id, email, password or hash.
    payload = json.loads(base64.b64decode(client.cookies[SESSION_COOKIE].split(".")[0] + "=="))
    assert set(payload) == {"sid", "csrf"}
    assert rows(
        seeded,
        "SELECT count(*) FROM portal.sessions WHERE session_hash = sha256(%s::bytea)",
        (payload["sid"].encode(),),
    ) == [(1,)]  # stored hashed
    assert rows(
        seeded, "SELECT count(*) FROM portal.sessions WHERE session_hash = %s::bytea", (payload["sid"].encode(),)
    ) == [(0,)]


def test_secure_cookies_when_https_only(make_client, seeded):
    client = make_client(https_only=True)
    page = client.get("/login/store_manager")
    assert "secure" in page.headers["set-cookie"].lower()


def test_a_tampered_or_foreign_cookie_is_not_a_session(client, make_client, seeded):
    registered_and_logged_in(client, STORE_MANAGER)
    value = client.cookies[SESSION_COOKIE]
    payload, rest = value.split(".", 1)
    forged = base64.b64encode(json.dumps({"sid": "guessed", "account_id": 1}).encode()).decode()
    client.cookies.set(SESSION_COOKIE, forged.rstrip("=") + "." + rest)
    assert client.get("/api/dashboard").status_code == 401

    other_key = make_client(secret_key="another-secret-key-" + "y" * 32)
    other_key.cookies.set(SESSION_COOKIE, value)  # signed with the first key
    assert other_key.get("/api/dashboard").status_code == 401


POSTS = [
    "/register/store_manager",
    "/verify",
    "/login/store_manager",
    "/logout",
    "/forgot/store_manager",
    "/reset",
    "/account/alerts",
    "/account/password",
    "/account/deactivate",
]


@pytest.mark.parametrize("path", POSTS)
def test_every_form_needs_the_csrf_token(client, seeded, path):
    csrf_token(client, "/login/store_manager")  # a session exists, with its token
    data = {**registration(STORE_MANAGER), "password": PASSWORD}
    missing = client.post(path, data=data)
    wrong = client.post(path, data={**data, "csrf_token": "forged"})
    for response in (missing, wrong):
        assert response.status_code == 403
        assert "This form has expired or did not come from this site." in response.text
    assert rows(seeded, "SELECT count(*) FROM portal.accounts") == [(0,)]
    assert rows(seeded, "SELECT count(*) FROM portal.registrations") == [(0,)]
    assert rows(seeded, "SELECT count(*) FROM portal.password_checks") == [(0,)]
    assert rows(seeded, "SELECT count(*) FROM alerts.alert_log") == [(0,)]


def test_a_token_from_another_session_is_refused(make_client, seeded):
    alice, mallory = make_client(), make_client()
    token = csrf_token(mallory, "/register/store_manager")
    response = alice.post("/register/store_manager", data={**registration(STORE_MANAGER), "csrf_token": token})
    assert response.status_code == 403


def test_login_gives_a_new_csrf_token(client, seeded):
    register(client, STORE_MANAGER)
    before = csrf_token(client, "/login/store_manager")
    login(client, STORE_MANAGER)
    after = csrf_token(client, "/account")
    assert before != after
    assert client.post("/logout", data={"csrf_token": before}).status_code == 403


def test_security_headers(client, seeded):
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline script: the CSP would block it


# ------------------------------------------------------------------------------------------------ account page


def test_closing_the_account_needs_the_password_and_logs_out(client, seeded):
    registered_and_logged_in(client, INVENTORY_MANAGER)
    token = csrf_token(client, "/account")
    wrong = client.post("/account/deactivate", data={"csrf_token": token, "password": "not my password"})
    assert wrong.status_code == 400 and "The password is wrong." in wrong.text
    assert rows(seeded, "SELECT active FROM portal.accounts") == [(True,)]

    done = client.post("/account/deactivate", data={"csrf_token": token, "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert rows(
        seeded, "SELECT a.active, m.active FROM portal.accounts a JOIN portal.inventory_managers m USING (manager_id)"
    ) == [(False, False)]
    assert client.get("/api/dashboard").status_code == 401
    assert rows(seeded, "SELECT count(*) FROM portal.sessions WHERE revoked_at IS NULL") == [(0,)]
    assert login(client, INVENTORY_MANAGER).status_code == 401


def test_a_session_ends_when_the_account_is_deactivated_elsewhere(client, seeded):
    registered_and_logged_in(client, STORE_MANAGER)
    assert client.get("/api/dashboard").status_code == 200
    with seeded.cursor() as cur:
        accounts.set_active_by_email(cur, EMAIL.upper(), False)
    seeded.commit()
    assert client.get("/api/dashboard").status_code == 401
