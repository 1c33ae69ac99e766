"""Accounts: registration proved by an emailed link, password checks with throttling, sessions, password reset and
change, and the alert switch wired to the manager's alert recipient row.

An inventory manager's account points at their row in `portal.inventory_managers`, the table the low-stock alert
routing reads (`include.inventory.alerts.recipients.active_managers`): confirming a registration inserts (or claims)
that row, active, for their location; stopping alerts or closing the account sets it inactive, which stops the
emails. Nothing of that row changes before the address is proved. Store managers have no row there.

Every function takes a cursor as an argument (the app owns the connections) and the time as `now` (the app's
clock), so tests can move time. None of them hashes or verifies a password: the app does that with no database
connection held (`security.Passwords`), and passes hashes in.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg2.extensions import cursor as PgCursor

from include.inventory.alerts.recipients import InvalidAddress, validate_address
from include.portal.security import RecentFailures, Throttle, digest, new_secret, password_problem, throttle_delay

STORE_MANAGER, INVENTORY_MANAGER = "store_manager", "inventory_manager"
ROLES = {STORE_MANAGER: "Store manager", INVENTORY_MANAGER: "Inventory manager"}
# The field each role adds to the common ones, and its label.
ROLE_FIELD = {STORE_MANAGER: ("store_name", "Store name"), INVENTORY_MANAGER: ("department", "Department")}

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]*[0-9]$")
FAILURES_KEPT = timedelta(days=1)
ENDED_KEPT = timedelta(days=7)
HOUR = timedelta(hours=1)


class EmailTaken(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after: timedelta):
        super().__init__(f"too many failed attempts; retry in {retry_after}")
        self.retry_after = retry_after


class RateLimited(Exception):
    """Too many registrations or reset requests from one client address."""


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
    return str(value or "").strip().lower()[:254]


def account_key(role: str, email: str) -> str:
    """What password checks are counted by: the role and the email as typed (it need not have an account)."""
    return f"{role}:{normalise_email(email)}"


def new_password_errors(form: Mapping[str, str], email: str, field: str = "password") -> dict[str, str]:
    """The strength rule (`security.password_problem`) and the confirmation field, as form errors."""
    password = str(form.get(field) or "")
    problem = password_problem(password, email)
    if problem:
        return {field: problem}
    if password != str(form.get(f"{field}_confirm") or ""):
        return {f"{field}_confirm": "The two passwords differ."}
    return {}


def validate_registration(
    role: str, form: Mapping[str, str], locations: Mapping[int, str]
) -> tuple[Registration | None, dict[str, str]]:
    """The registration a form describes, or None and one message per invalid field (keyed by field name).

    Rules: name 2-100 characters; an email address alert routing accepts (bare, `name@domain.tld`); a phone number
    (digits with optional +, spaces, dots, dashes, brackets; 7-15 digits); a password `security.password_problem`
    accepts, typed twice; an address of 5-300 characters; a known location; and the role's own field (store name,
    or department) of 2-100 characters.
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

    errors_.update(new_password_errors(form, email if "email" not in errors_ else ""))

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
            password=str(form.get("password")),
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


# ------------------------------------------------------------------------------------------------ rate limits


def _rate_limit(cur: PgCursor, kind: str, key: str, limit: int, now: datetime) -> bool:
    """Record one event of `kind` for `key`; False, recording nothing, when `limit` were recorded within the hour."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('portal.rate'), hashtext(%s))", (f"{kind}|{key}",))
    cur.execute(
        "SELECT count(*) FROM portal.rate_events WHERE kind = %s AND key = %s AND happened_at > %s",
        (kind, key, now - HOUR),
    )
    if cur.fetchone()[0] >= limit:
        return False
    cur.execute("INSERT INTO portal.rate_events (kind, key, happened_at) VALUES (%s, %s, %s)", (kind, key, now))
    return True


def may_email(cur: PgCursor, address: str, limit: int, now: datetime) -> bool:
    """At most `limit` portal emails per address per hour, so nobody can flood a mailbox through the forms."""
    return _rate_limit(cur, "email", normalise_email(address), limit, now)


# ------------------------------------------------------------------------------------------------ registration


@dataclass(frozen=True)
class RegistrationRequest:
    """What a registration form led to: a new pending registration (with the secret for its link), or the address
    already has an account (`existing`: its name, active or not). The page shows the same message either way."""

    registration_id: int | None
    secret: str | None
    existing: Account | None


def request_registration(
    cur: PgCursor, reg: Registration, password_hash: str, client_ip: str, now: datetime, ttl: timedelta, limit: int
) -> RegistrationRequest:
    """Record a registration waiting for its link. Changes no account and no alert recipient: that happens when the
    link is followed (`confirm_registration`). Raises RateLimited after `limit` registrations from the client
    address within an hour."""
    if not _rate_limit(cur, "register", client_ip, limit, now):
        raise RateLimited()
    cur.execute(
        "SELECT account_id FROM portal.accounts WHERE role = %s AND lower(email) = lower(%s)", (reg.role, reg.email)
    )
    found = cur.fetchone()
    if found:
        return RegistrationRequest(None, None, get_account(cur, found[0], include_inactive=True))
    secret = new_secret()
    cur.execute(
        "INSERT INTO portal.registrations (role, name, email, phone, password_hash, address, location_id, store_name, "
        "department, token_hash, client_ip, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING registration_id",
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
            digest(secret),
            client_ip,
            now,
            now + ttl,
        ),
    )
    return RegistrationRequest(cur.fetchone()[0], secret, None)


@dataclass(frozen=True)
class PendingRegistration:
    registration_id: int
    role: str
    name: str
    email: str
    location_name: str
    password_hash: str


def pending_registration(
    cur: PgCursor, registration_id: int, secret: str, now: datetime, lock: bool = False
) -> PendingRegistration | None:
    """The registration a link names, when the link's secret matches and it is neither used nor expired."""
    cur.execute(
        "SELECT r.registration_id, r.role, r.name, r.email, l.location_name, r.password_hash, r.token_hash "
        "FROM portal.registrations r JOIN raw.warehouse_locations l USING (location_id) "
        "WHERE r.registration_id = %s AND r.confirmed_at IS NULL AND r.expires_at > %s"
        + (" FOR UPDATE OF r" if lock else ""),
        (registration_id, now),
    )
    row = cur.fetchone()
    if row is None or not hmac.compare_digest(bytes(row[6]), digest(secret)):
        return None
    return PendingRegistration(*row[:6])


def confirm_registration(cur: PgCursor, registration_id: int, secret: str, now: datetime) -> int:
    """Create the account of a proved registration; returns its id. For an inventory manager, their alert
    recipient row is created, or, if the address is already a recipient without an account (seeded, or added by
    hand), claimed: it takes the registered name, phone and location and becomes active. Other registrations
    waiting for the same address expire. Raises EmailTaken when the role already has an account with that email
    (another link was followed first), LookupError when the link is no longer valid."""
    pending = pending_registration(cur, registration_id, secret, now, lock=True)
    if pending is None:
        raise LookupError("this link is not valid (any more)")
    cur.execute(
        "SELECT pg_advisory_xact_lock(hashtext('portal.account'), hashtext(%s))",
        (account_key(pending.role, pending.email),),
    )
    cur.execute(
        "SELECT 1 FROM portal.accounts WHERE role = %s AND lower(email) = lower(%s)", (pending.role, pending.email)
    )
    if cur.fetchone():
        raise EmailTaken(pending.email)
    cur.execute(
        "SELECT role, name, email, phone, password_hash, address, location_id, store_name, department "
        "FROM portal.registrations WHERE registration_id = %s",
        (registration_id,),
    )
    role, name, email, phone, password_hash, address, location_id, store_name, department = cur.fetchone()
    manager_id = None
    if role == INVENTORY_MANAGER:
        cur.execute(
            "SELECT m.manager_id, a.account_id FROM portal.inventory_managers m "
            "LEFT JOIN portal.accounts a ON a.manager_id = m.manager_id "
            "WHERE lower(m.email) = lower(%s) FOR UPDATE OF m",
            (email,),
        )
        found = cur.fetchone()
        if found and found[1] is not None:
            raise EmailTaken(email)
        if found:
            manager_id = found[0]
            cur.execute(
                "UPDATE portal.inventory_managers SET name = %s, phone = %s, location_id = %s, active = true "
                "WHERE manager_id = %s",
                (name, phone, location_id, manager_id),
            )
        else:
            cur.execute(
                "INSERT INTO portal.inventory_managers (name, email, phone, location_id, active) "
                "VALUES (%s, %s, %s, %s, true) RETURNING manager_id",
                (name, email, phone, location_id),
            )
            manager_id = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO portal.accounts (role, name, email, phone, password_hash, address, location_id, store_name, "
        "department, manager_id, email_verified_at, password_changed_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING account_id",
        (role, name, email, phone, password_hash, address, location_id, store_name, department, manager_id, now, now),
    )
    account_id = cur.fetchone()[0]
    cur.execute(
        "UPDATE portal.registrations SET confirmed_at = %s, account_id = %s WHERE registration_id = %s",
        (now, account_id, registration_id),
    )
    cur.execute(
        "UPDATE portal.registrations SET expires_at = %s WHERE role = %s AND lower(email) = lower(%s) "
        "AND confirmed_at IS NULL AND expires_at > %s",
        (now, role, email, now),
    )
    return account_id


_ACCOUNT_SELECT = """
    SELECT a.account_id, a.role, a.name, a.email, a.phone, a.address, a.location_id, l.location_name, a.store_name,
           a.department, a.manager_id, coalesce(m.active, false), a.active
    FROM portal.accounts a
    JOIN raw.warehouse_locations l USING (location_id)
    LEFT JOIN portal.inventory_managers m ON m.manager_id = a.manager_id
"""


def get_account(cur: PgCursor, account_id: int, include_inactive: bool = False) -> Account | None:
    cur.execute(_ACCOUNT_SELECT + " WHERE a.account_id = %s", (account_id,))
    row = cur.fetchone()
    account = Account(*row) if row else None
    return account if account is not None and (account.active or include_inactive) else None


def find_account(cur: PgCursor, role: str, email: str) -> tuple[int, str, bool] | None:
    """(account id, password hash, active) of the role's account with this email, any letter case."""
    cur.execute(
        "SELECT account_id, password_hash, active FROM portal.accounts WHERE role = %s AND lower(email) = %s",
        (role, normalise_email(email)),
    )
    return cur.fetchone()


# ------------------------------------------------------------------------------------------------ password checks


@dataclass(frozen=True)
class CheckRules:
    throttle: Throttle
    known_address: timedelta  # a success from an address makes it known to the account this long


def begin_password_check(
    cur: PgCursor,
    key: str,
    client_ip: str,
    device: str | None,
    purpose: str,
    rules: CheckRules,
    now: datetime,
) -> int:
    """Decide whether a password may be checked now for account `key` (`account_key`), and record the check as
    failed until `password_check_succeeded` says otherwise. Returns the check's id; raises Throttled, recording
    nothing, when the client must wait (`security.throttle_delay`).

    `device` is the device id of a valid device cookie for this account, or None. Checks of one account wait for
    each other here (an advisory lock), so parallel guesses cannot slip past the count.
    """
    rule = rules.throttle
    since = now - rule.window
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('portal.check'), hashtext(%s))", (key,))
    cur.execute(
        "SELECT checked_at FROM portal.password_checks WHERE account_key = %s AND client_ip = %s AND NOT succeeded "
        "AND checked_at > %s AND check_id > coalesce((SELECT max(check_id) FROM portal.password_checks "
        "WHERE account_key = %s AND client_ip = %s AND succeeded), 0)",
        (key, client_ip, since, key, client_ip),
    )
    pair = [r[0] for r in cur.fetchall()]
    cur.execute(
        "SELECT checked_at FROM portal.password_checks WHERE account_key = %s AND NOT succeeded AND NOT trusted "
        "AND checked_at > %s",
        (key, since),
    )
    per_account = [r[0] for r in cur.fetchall()]
    cur.execute(
        "SELECT checked_at FROM portal.password_checks WHERE client_ip = %s AND NOT succeeded AND NOT trusted "
        "AND checked_at > %s",
        (client_ip, since),
    )
    per_ip = [r[0] for r in cur.fetchall()]
    per_device: list[datetime] = []
    if device:
        cur.execute(
            "SELECT checked_at FROM portal.password_checks WHERE account_key = %s AND device = %s AND NOT succeeded "
            "AND checked_at > %s",
            (key, device, since),
        )
        per_device = [r[0] for r in cur.fetchall()]
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM portal.password_checks WHERE account_key = %s AND client_ip = %s AND succeeded "
        "AND checked_at > %s)",
        (key, client_ip, now - rules.known_address),
    )
    address_known = cur.fetchone()[0]
    failures = RecentFailures(pair=pair, account=per_account, ip=per_ip, device=per_device)
    delay = throttle_delay(now, failures, rule, device_known=device is not None, address_known=address_known)
    if delay is not None:
        raise Throttled(delay)
    cur.execute(
        "INSERT INTO portal.password_checks (account_key, client_ip, device, trusted, purpose, succeeded, checked_at) "
        "VALUES (%s, %s, %s, %s, %s, false, %s) RETURNING check_id",
        (key, client_ip, device, device is not None or address_known, purpose, now),
    )
    return cur.fetchone()[0]


def password_check_succeeded(cur: PgCursor, check_id: int, now: datetime, known_address: timedelta) -> None:
    cur.execute("UPDATE portal.password_checks SET succeeded = true WHERE check_id = %s", (check_id,))
    # Housekeeping, on successes only (rare enough, and never on the guessing path).
    cur.execute(
        "DELETE FROM portal.password_checks WHERE checked_at < %s AND (NOT succeeded OR checked_at < %s)",
        (now - FAILURES_KEPT, now - known_address),
    )
    cur.execute("DELETE FROM portal.rate_events WHERE happened_at < %s", (now - FAILURES_KEPT,))
    cur.execute("DELETE FROM portal.sessions WHERE revoked_at < %s", (now - ENDED_KEPT,))
    cur.execute("DELETE FROM portal.registrations WHERE expires_at < %s", (now - ENDED_KEPT,))
    cur.execute("DELETE FROM portal.password_resets WHERE expires_at < %s", (now - ENDED_KEPT,))


def record_login(cur: PgCursor, account_id: int, now: datetime, new_hash: str | None = None) -> None:
    """A successful login: its time, and the password's hash rehashed with the current parameters when given."""
    if new_hash is not None:
        cur.execute("UPDATE portal.accounts SET password_hash = %s WHERE account_id = %s", (new_hash, account_id))
    cur.execute("UPDATE portal.accounts SET last_login_at = %s WHERE account_id = %s", (now, account_id))


# ------------------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class SessionRules:
    idle: timedelta
    absolute: timedelta
    touch: timedelta  # last_seen_at is written at most this often


def create_session(cur: PgCursor, account_id: int, client_ip: str, now: datetime) -> str:
    """A new session; returns its id (for the cookie). Only the id's sha256 is stored."""
    session_id = new_secret()
    cur.execute(
        "INSERT INTO portal.sessions (session_hash, account_id, client_ip, created_at, last_seen_at) "
        "VALUES (%s, %s, %s, %s, %s)",
        (digest(session_id), account_id, client_ip, now, now),
    )
    return session_id


def session_account(cur: PgCursor, session_id: str, now: datetime, rules: SessionRules) -> int | None:
    """The account of a live session, or None: unknown id, revoked, unused for `idle`, or older than `absolute`
    (the last two are revoked here, with the reason)."""
    key = digest(session_id)
    cur.execute(
        "SELECT account_id, created_at, last_seen_at, revoked_at FROM portal.sessions WHERE session_hash = %s",
        (key,),
    )
    row = cur.fetchone()
    if row is None or row[3] is not None:
        return None
    account_id, created_at, last_seen_at, _ = row
    reason = "idle" if now - last_seen_at > rules.idle else "expired" if now - created_at > rules.absolute else None
    if reason:
        revoke_session(cur, session_id, now, reason)
        return None
    if now - last_seen_at >= rules.touch:
        cur.execute("UPDATE portal.sessions SET last_seen_at = %s WHERE session_hash = %s", (now, key))
    return account_id


def revoke_session(cur: PgCursor, session_id: str, now: datetime, reason: str) -> None:
    cur.execute(
        "UPDATE portal.sessions SET revoked_at = %s, revoked_reason = %s WHERE session_hash = %s "
        "AND revoked_at IS NULL",
        (now, reason, digest(session_id)),
    )


def revoke_sessions(cur: PgCursor, account_id: int, now: datetime, reason: str) -> int:
    """End every session of the account (password changed or reset, account closed); returns how many."""
    cur.execute(
        "UPDATE portal.sessions SET revoked_at = %s, revoked_reason = %s WHERE account_id = %s AND revoked_at IS NULL",
        (now, reason, account_id),
    )
    return cur.rowcount


# ------------------------------------------------------------------------------------------------ passwords


def set_password(cur: PgCursor, account_id: int, password_hash: str, now: datetime, reason: str) -> None:
    """Store a new password hash and end every session of the account."""
    cur.execute(
        "UPDATE portal.accounts SET password_hash = %s, password_changed_at = %s WHERE account_id = %s",
        (password_hash, now, account_id),
    )
    revoke_sessions(cur, account_id, now, reason)


def request_reset(
    cur: PgCursor, role: str, email: str, client_ip: str, now: datetime, ttl: timedelta, limit: int
) -> tuple[Account, int, str] | None:
    """A password reset for the role's active account with this email: (account, reset id, secret for the link),
    or None when there is no such account. Raises RateLimited after `limit` requests from the address in an hour."""
    if not _rate_limit(cur, "reset", client_ip, limit, now):
        raise RateLimited()
    found = find_account(cur, role, email)
    if found is None or not found[2]:
        return None
    secret = new_secret()
    cur.execute(
        "INSERT INTO portal.password_resets (account_id, token_hash, client_ip, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING reset_id",
        (found[0], digest(secret), client_ip, now, now + ttl),
    )
    (reset_id,) = cur.fetchone()
    return get_account(cur, found[0]), reset_id, secret


def reset_account(cur: PgCursor, reset_id: int, secret: str, now: datetime, lock: bool = False) -> Account | None:
    """The active account a reset link is for, when the link is genuine, unused and unexpired."""
    cur.execute(
        "SELECT account_id, token_hash FROM portal.password_resets WHERE reset_id = %s AND used_at IS NULL "
        "AND expires_at > %s" + (" FOR UPDATE" if lock else ""),
        (reset_id, now),
    )
    row = cur.fetchone()
    if row is None or not hmac.compare_digest(bytes(row[1]), digest(secret)):
        return None
    return get_account(cur, row[0])


def complete_reset(cur: PgCursor, reset_id: int, secret: str, password_hash: str, now: datetime) -> Account | None:
    """Use a reset link: the new password, every session ended, every other reset link of the account void."""
    account = reset_account(cur, reset_id, secret, now, lock=True)
    if account is None:
        return None
    set_password(cur, account.account_id, password_hash, now, "password reset")
    cur.execute(
        "UPDATE portal.password_resets SET used_at = %s WHERE account_id = %s AND used_at IS NULL",
        (now, account.account_id),
    )
    return account


def password_hash_of(cur: PgCursor, account_id: int) -> str:
    cur.execute("SELECT password_hash FROM portal.accounts WHERE account_id = %s", (account_id,))
    return cur.fetchone()[0]


# ------------------------------------------------------------------------------------------------ alerts, closing


def set_alerts(cur: PgCursor, account_id: int, active: bool) -> bool:
    """Start or stop an inventory manager's low-stock emails (their recipient row). False when the account has no
    such row (a store manager)."""
    cur.execute(
        "UPDATE portal.inventory_managers m SET active = %s FROM portal.accounts a "
        "WHERE a.manager_id = m.manager_id AND a.account_id = %s AND a.active",
        (active, account_id),
    )
    return cur.rowcount == 1


def deactivate(cur: PgCursor, account_id: int, now: datetime) -> None:
    """The account can no longer log in, its sessions end, and its low-stock emails stop."""
    cur.execute("UPDATE portal.accounts SET active = false WHERE account_id = %s", (account_id,))
    cur.execute(
        "UPDATE portal.inventory_managers SET active = false "
        "WHERE manager_id = (SELECT manager_id FROM portal.accounts WHERE account_id = %s)",
        (account_id,),
    )
    revoke_sessions(cur, account_id, now, "account closed")


def set_active_by_email(
    cur: PgCursor, email: str, active: bool, role: str | None = None, now: datetime | None = None
) -> list[tuple[int, str]]:
    """The admin command: (de)activate every account with this email (or only the role's), and their alerts;
    deactivating ends their sessions. Returns (account_id, role) of the accounts changed."""
    cur.execute(
        "UPDATE portal.accounts SET active = %s WHERE lower(email) = lower(%s) AND (%s::text IS NULL OR role = %s) "
        "RETURNING account_id, role, manager_id",
        (active, email.strip(), role, role),
    )
    changed = cur.fetchall()
    managers = [m for _, _, m in changed if m is not None]
    if managers:
        cur.execute("UPDATE portal.inventory_managers SET active = %s WHERE manager_id = ANY(%s)", (active, managers))
    if not active:
        if now is None:
            cur.execute("SELECT clock_timestamp()")
            (now,) = cur.fetchone()
        for account_id, _, _ in changed:
            revoke_sessions(cur, account_id, now, "deactivated by an administrator")
    return [(a, r) for a, r, _ in changed]
