"""Accounts: registration rules, login with throttling, and the alert switch wired to `raw.inventory_managers`.

An inventory manager's account points at their row in `raw.inventory_managers`, the table the low-stock alert
routing reads (`include.inventory.alerts.recipients.active_managers`): registering inserts (or claims) that row,
active, for their location; stopping alerts or deactivating the account sets it inactive, which stops the emails.
Store managers have no row there: they receive no low-stock digest.

Every function takes a cursor (or the settings it needs) as an argument; the app owns the connections.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg2 import errors
from psycopg2.extensions import cursor as PgCursor

from include.inventory.alerts.recipients import InvalidAddress, validate_address
from include.portal.security import Passwords, Throttle, throttle_delay

STORE_MANAGER, INVENTORY_MANAGER = "store_manager", "inventory_manager"
ROLES = {STORE_MANAGER: "Store manager", INVENTORY_MANAGER: "Inventory manager"}
# The field each role adds to the common ones, and its label.
ROLE_FIELD = {STORE_MANAGER: ("store_name", "Store name"), INVENTORY_MANAGER: ("department", "Department")}

MIN_PASSWORD, MAX_PASSWORD = 12, 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]*[0-9]$")
ATTEMPTS_KEPT = timedelta(days=1)


class EmailTaken(Exception):
    pass


class LoginThrottled(Exception):
    def __init__(self, retry_after: timedelta):
        super().__init__(f"too many failed attempts; retry in {retry_after}")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Registration:
    role: str
    name: str
    email: str
    phone: str
    password: str
    address: str
    location_id: int
    store_name: str | None = None
    department: str | None = None

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"Registration(role={self.role!r}, email={self.email!r}, location_id={self.location_id})"


@dataclass(frozen=True)
class Account:
    account_id: int
    role: str
    name: str
    email: str
    phone: str
    address: str
    location_id: int
    location_name: str
    store_name: str | None
    department: str | None
    manager_id: int | None
    alerts_active: bool
    active: bool


def _text(form: Mapping[str, str], key: str) -> str:
    return " ".join(str(form.get(key) or "").split())  # trimmed, inner runs of spaces collapsed


def _check_text(errors_: dict[str, str], key: str, value: str, label: str, low: int, high: int) -> None:
    if not value:
        errors_[key] = f"{label} is required."
    elif len(value) < low or len(value) > high:
        errors_[key] = f"{label} must be {low} to {high} characters long."
    elif _CONTROL.search(value):
        errors_[key] = f"{label} contains characters that are not allowed."


def normalise_email(value: str) -> str:
    return str(value or "").strip().lower()


def validate_registration(
    role: str, form: Mapping[str, str], locations: Mapping[int, str]
) -> tuple[Registration | None, dict[str, str]]:
    """The registration a form describes, or None and one message per invalid field (keyed by field name).

    Rules: name 2-100 characters; an email address alert routing accepts (bare, `name@domain.tld`); a phone number
    (digits with optional +, spaces, dots, dashes, brackets; 7-15 digits); a password of 12-256 characters, not
    the email, typed twice; an address of 5-300 characters; a known location; and the role's own field (store
    name, or department) of 2-100 characters.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    errors_: dict[str, str] = {}
    name, phone, address = _text(form, "name"), _text(form, "phone"), _text(form, "address")
    _check_text(errors_, "name", name, "Name", 2, 100)
    _check_text(errors_, "address", address, "Address", 5, 300)
    extra_key, extra_label = ROLE_FIELD[role]
    extra = _text(form, extra_key)
    _check_text(errors_, extra_key, extra, extra_label, 2, 100)

    email = str(form.get("email") or "").strip()
    if not email:
        errors_["email"] = "Email is required."
    else:
        try:
            email = validate_address(email)
            if len(email) > 254:
                raise InvalidAddress(email)
        except InvalidAddress:
            errors_["email"] = "Enter an email address like name@example.com."

    digits = re.sub(r"\D", "", phone)
    if not phone:
        errors_["phone"] = "Phone is required."
    elif not _PHONE.match(phone) or not 7 <= len(digits) <= 15:
        errors_["phone"] = "Enter a phone number of 7 to 15 digits, e.g. +1 555 010 0199."

    password = str(form.get("password") or "")
    if len(password) < MIN_PASSWORD:
        errors_["password"] = f"Password must have at least {MIN_PASSWORD} characters."
    elif len(password) > MAX_PASSWORD:
        errors_["password"] = f"Password must have at most {MAX_PASSWORD} characters."
    elif len(set(password)) < 4:
        errors_["password"] = "Password is too easy to guess: use more different characters."
    elif email and normalise_email(password) in (normalise_email(email), normalise_email(email).split("@")[0]):
        errors_["password"] = "Password must not be your email address."
    elif password != str(form.get("password_confirm") or ""):
        errors_["password_confirm"] = "The two passwords differ."

    location_id = None
    try:
        location_id = int(str(form.get("location_id") or ""))
    except ValueError:
        pass
    if location_id not in locations:
        errors_["location_id"] = "Choose your location from the list."

    if errors_:
        order = ("name", "email", "phone", "password", "password_confirm", extra_key, "address", "location_id")
        return None, {k: errors_[k] for k in order if k in errors_}  # in the form's order, for the summary
    return (
        Registration(
            role=role,
            name=name,
            email=email,
            phone=phone,
            password=password,
            address=address,
            location_id=location_id,
            store_name=extra if role == STORE_MANAGER else None,
            department=extra if role == INVENTORY_MANAGER else None,
        ),
        {},
    )


def locations(cur: PgCursor) -> dict[int, str]:
    cur.execute("SELECT location_id, location_name FROM raw.warehouse_locations ORDER BY location_name")
    return dict(cur.fetchall())


def register(cur: PgCursor, reg: Registration, passwords: Passwords) -> int:
    """Create the account (and, for an inventory manager, their alert recipient row); returns the account id.

    An inventory manager whose address is already in raw.inventory_managers (seeded, or added by hand before the
    portal existed) and has no account yet claims that row: it takes the registered name, phone and location and
    becomes active. Raises EmailTaken when the role already has an account with that email (any letter case).
    """
    cur.execute(
        "SELECT 1 FROM portal.accounts WHERE role = %s AND lower(email) = lower(%s)",
        (reg.role, reg.email),
    )
    if cur.fetchone():
        raise EmailTaken(reg.email)
    password_hash = passwords.hash(reg.password)
    manager_id = None
    cur.execute("SAVEPOINT register")
    try:
        if reg.role == INVENTORY_MANAGER:
            cur.execute(
                "SELECT m.manager_id, a.account_id FROM raw.inventory_managers m "
                "LEFT JOIN portal.accounts a ON a.manager_id = m.manager_id "
                "WHERE lower(m.email) = lower(%s) FOR UPDATE OF m",
                (reg.email,),
            )
            found = cur.fetchone()
            if found and found[1] is not None:
                raise EmailTaken(reg.email)
            if found:
                manager_id = found[0]
                cur.execute(
                    "UPDATE raw.inventory_managers SET name = %s, phone = %s, location_id = %s, active = true "
                    "WHERE manager_id = %s",
                    (reg.name, reg.phone, reg.location_id, manager_id),
                )
            else:
                cur.execute(
                    "INSERT INTO raw.inventory_managers (name, email, phone, location_id, active) "
                    "VALUES (%s, %s, %s, %s, true) RETURNING manager_id",
                    (reg.name, reg.email, reg.phone, reg.location_id),
                )
                manager_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO portal.accounts (role, name, email, phone, password_hash, address, location_id, store_name, "
            "department, manager_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING account_id",
            (
                reg.role,
                reg.name,
                reg.email,
                reg.phone,
                password_hash,
                reg.address,
                reg.location_id,
                reg.store_name,
                reg.department,
                manager_id,
            ),
        )
        account_id = cur.fetchone()[0]
    except errors.UniqueViolation as exc:  # a concurrent registration of the same email won the race
        cur.execute("ROLLBACK TO SAVEPOINT register")
        raise EmailTaken(reg.email) from exc
    cur.execute("RELEASE SAVEPOINT register")
    return account_id


_ACCOUNT_SELECT = """
    SELECT a.account_id, a.role, a.name, a.email, a.phone, a.address, a.location_id, l.location_name, a.store_name,
           a.department, a.manager_id, coalesce(m.active, false), a.active
    FROM portal.accounts a
    JOIN raw.warehouse_locations l USING (location_id)
    LEFT JOIN raw.inventory_managers m ON m.manager_id = a.manager_id
"""


def get_account(cur: PgCursor, account_id: int) -> Account | None:
    cur.execute(_ACCOUNT_SELECT + " WHERE a.account_id = %s", (account_id,))
    row = cur.fetchone()
    return Account(*row) if row else None


def _record_attempt(cur: PgCursor, email: str, client_ip: str, succeeded: bool, now: datetime) -> None:
    cur.execute(
        "INSERT INTO portal.login_attempts (email, client_ip, succeeded, attempted_at) VALUES (%s, %s, %s, %s)",
        (email, client_ip, succeeded, now),
    )


def authenticate(
    cur: PgCursor,
    role: str,
    email: str,
    password: str,
    client_ip: str,
    passwords: Passwords,
    rule: Throttle,
    now: datetime,
) -> Account | None:
    """The account these credentials open, or None (unknown email, wrong password, deactivated account: the
    caller shows one generic message for all three). Raises LoginThrottled, without checking the password, once
    the client has failed too often (`security.throttle_delay`). Every attempt is recorded.

    The cursor's transaction must commit even when None is returned: the failure is what throttles the next try.
    """
    key = normalise_email(email)[:254]
    # One attempt per (email, address) at a time: parallel guesses cannot slip past the count.
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('portal.login'), hashtext(%s))", (f"{key}|{client_ip}",))
    cur.execute(
        "SELECT attempted_at FROM portal.login_attempts WHERE email = %s AND client_ip = %s AND NOT succeeded "
        "AND attempted_at > %s AND attempted_at > coalesce((SELECT max(attempted_at) FROM portal.login_attempts "
        "WHERE email = %s AND client_ip = %s AND succeeded), '-infinity')",
        (key, client_ip, now - rule.window, key, client_ip),
    )
    pair = [r[0] for r in cur.fetchall()]
    cur.execute(
        "SELECT attempted_at FROM portal.login_attempts WHERE client_ip = %s AND NOT succeeded AND attempted_at > %s",
        (client_ip, now - rule.window),
    )
    per_ip = [r[0] for r in cur.fetchall()]
    delay = throttle_delay(now, pair, per_ip, rule)
    if delay is not None:
        raise LoginThrottled(delay)

    cur.execute(
        "SELECT account_id, password_hash, active FROM portal.accounts WHERE role = %s AND lower(email) = %s",
        (role, key),
    )
    row = cur.fetchone()
    stored = row[1] if row else None
    ok = passwords.verify(stored, password) and row is not None and row[2]
    _record_attempt(cur, key, client_ip, ok, now)
    if not ok:
        return None
    account_id = row[0]
    if passwords.needs_rehash(stored):
        cur.execute(
            "UPDATE portal.accounts SET password_hash = %s WHERE account_id = %s",
            (passwords.hash(password), account_id),
        )
    cur.execute("UPDATE portal.accounts SET last_login_at = %s WHERE account_id = %s", (now, account_id))
    cur.execute("DELETE FROM portal.login_attempts WHERE attempted_at < %s", (now - ATTEMPTS_KEPT,))
    return get_account(cur, account_id)


def set_alerts(cur: PgCursor, account_id: int, active: bool) -> bool:
    """Start or stop an inventory manager's low-stock emails (their raw.inventory_managers row). False when the
    account has no such row (a store manager)."""
    cur.execute(
        "UPDATE raw.inventory_managers m SET active = %s FROM portal.accounts a "
        "WHERE a.manager_id = m.manager_id AND a.account_id = %s AND a.active",
        (active, account_id),
    )
    return cur.rowcount == 1


def deactivate(cur: PgCursor, account_id: int) -> None:
    """The account can no longer log in, and its low-stock emails stop."""
    cur.execute("UPDATE portal.accounts SET active = false WHERE account_id = %s", (account_id,))
    cur.execute(
        "UPDATE raw.inventory_managers SET active = false "
        "WHERE manager_id = (SELECT manager_id FROM portal.accounts WHERE account_id = %s)",
        (account_id,),
    )


def set_active_by_email(cur: PgCursor, email: str, active: bool, role: str | None = None) -> list[tuple[int, str]]:
    """The admin command: (de)activate every account with this email (or only the role's), and their alerts.
    Returns (account_id, role) of the accounts changed."""
    cur.execute(
        "UPDATE portal.accounts SET active = %s WHERE lower(email) = lower(%s) AND (%s::text IS NULL OR role = %s) "
        "RETURNING account_id, role, manager_id",
        (active, email.strip(), role, role),
    )
    changed = cur.fetchall()
    managers = [m for _, _, m in changed if m is not None]
    if managers:
        cur.execute("UPDATE raw.inventory_managers SET active = %s WHERE manager_id = ANY(%s)", (active, managers))
    return [(a, r) for a, r, _ in changed]
