"""Passwords, signed links, session ids, CSRF tokens and the throttle's rule: small functions the app and the tests
share, none of which touches the database.

- Passwords: argon2id through argon2-cffi's PasswordHasher (salted, memory-hard; its PHC string records the
  parameters, so raising them later rehashes each password at its owner's next login). `password_problem` is the
  strength rule: 12-256 characters, not one of the 100,000 most common passwords (data/, SecLists), not containing
  the email's local part.
- Links in emails (`LinkSigner`): an itsdangerous signature over (row id, random secret), with its own salt per
  purpose and a maximum age; the database keeps only the secret's sha256 and marks the row used, so a link works
  once, until it expires, and cannot be forged or guessed.
- Sessions: a random id in the (signed) cookie, its sha256 in portal.sessions.
- Throttle: `throttle_delay` decides from the recent failed password checks whether one may go ahead.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from include.portal.config import PortalSettings

CSRF_FIELD = "csrf_token"
MIN_PASSWORD, MAX_PASSWORD = 12, 256
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords-100k.txt.gz"
# A valid argon2id hash of a random password: verified against when an email has no account, so that answering
# "no such user" takes as long as "wrong password" (no account enumeration by timing).
_DUMMY_PASSWORD = secrets.token_urlsafe(16)


def make_hasher(settings: PortalSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


class Passwords:
    """Hash and verify with one hasher; `verify` never raises for a wrong password or a malformed hash.

    Both are CPU-bound (tens of milliseconds with the production parameters): call them with no database
    connection held, so slow guesses cannot starve the pool.
    """

    def __init__(self, hasher: PasswordHasher):
        self.hasher = hasher
        self._dummy = hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The 100,000 most common passwords of SecLists' 10-million-password-list (MIT; data/README.md), lower-cased."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def password_problem(password: str, email: str = "") -> str | None:
    """What is wrong with a new password, as a message for the form, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"Password must have at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Password must have at most {MAX_PASSWORD} characters."
    lowered = password.lower()
    local = email.strip().lower().split("@")[0] if "@" in email else ""
    if len(local) >= 3 and local in lowered:
        return "Password must not contain your email address."
    if len(set(password)) < 4 or lowered in common_passwords():
        return "This password is too common or too easy to guess: choose another, e.g. a few unrelated words."
    return None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, submitted: str | None) -> bool:
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def digest(secret: str) -> bytes:
    """What the database keeps of a session id or a link's secret: its sha256 (a stolen table opens nothing)."""
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class LinkSigner:
    """Signed, expiring link tokens for one purpose ("verify", "reset"): `dumps(row_id, secret)` / `loads(token)`."""

    def __init__(self, secret_key: str, purpose: str, max_age: timedelta):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=f"portal-link-{purpose}")
        self.max_age = max_age

    def dumps(self, row_id: int, secret: str) -> str:
        return self._serializer.dumps([row_id, secret])

    def loads(self, token: str) -> tuple[int, str] | None:
        """(row id, secret) of a genuine, unexpired token, else None. Single use is the database's part."""
        try:
            row_id, secret = self._serializer.loads(token or "", max_age=int(self.max_age.total_seconds()))
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return None
        if not isinstance(row_id, int) or not isinstance(secret, str):
            return None
        return row_id, secret


class DeviceCookie:
    """A browser that has proved an account's password (or its inbox) gets a signed cookie naming the account and a
    random device id. Checks from such a browser are throttled by their own failures only, so attackers elsewhere
    (or behind the same address) cannot lock its owner out (OWASP's "device cookies")."""

    NAME = "portal_device"
    KEPT = 5  # accounts remembered per browser

    def __init__(self, secret_key: str, max_age: timedelta):
        self._serializer = URLSafeTimedSerializer(secret_key, salt="portal-device")
        self.max_age = max_age

    def read(self, value: str | None) -> dict[int, str]:
        """account id -> device id, from a genuine, unexpired cookie (else empty)."""
        if not value:
            return {}
        try:
            pairs = self._serializer.loads(value, max_age=int(self.max_age.total_seconds()))
            return {int(a): str(d) for a, d in pairs}
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return {}

    def add(self, value: str | None, account_id: int) -> tuple[str, str]:
        """The new cookie value with this account (the same device id if it had one), and that device id."""
        devices = self.read(value)
        device = devices.pop(account_id, None) or secrets.token_urlsafe(16)
        kept = [[account_id, device], *([a, d] for a, d in devices.items())][: self.KEPT]
        return self._serializer.dumps(kept), device


@dataclass(frozen=True)
class Throttle:
    """The limits on failed password checks within `window` (docs/portal.md, "Throttling")."""

    max_failures: int = 5  # per (account, address) since its last success there; per device for a known device
    max_failures_per_account: int = 10  # per account, over every address not known to it
    max_failures_per_ip: int = 50  # per address, over every account it is not known to
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class RecentFailures:
    """Failed checks within the window: for this account from this address (since its last success there), for this
    account from untrusted checks anywhere, from this address by untrusted checks for any account, and (for a
    known device) from this device."""

    pair: Sequence[datetime] = ()
    account: Sequence[datetime] = ()
    ip: Sequence[datetime] = ()
    device: Sequence[datetime] = ()


def throttle_delay(
    now: datetime, failures: RecentFailures, rule: Throttle, device_known: bool, address_known: bool
) -> timedelta | None:
    """How long the client must wait before its password may be checked, or None when it may be checked now.

    - A known device (a valid device cookie for this account) is held back by its own failures only.
    - Otherwise the (account, address) pair is limited to `max_failures` since its last success.
    - A check from an address that is not known to the account (no success from it within 30 days) is also held
      back once the account has `max_failures_per_account` failures from such addresses (a guesser spreading over
      many addresses), or the address has `max_failures_per_ip` over all accounts (one address spraying many).
      A known address passes these two: the colleague behind a noisy office address still gets in.
    Once a limit is reached, checks wait until the oldest counted failure leaves the window.
    """
    if device_known:
        limits = [(failures.device, rule.max_failures)]
    else:
        limits = [(failures.pair, rule.max_failures)]
        if not address_known:
            limits += [(failures.account, rule.max_failures_per_account), (failures.ip, rule.max_failures_per_ip)]
    waits = []
    for times, limit in limits:
        recent = sorted(t for t in times if t > now - rule.window)
        if len(recent) >= limit:
            waits.append(recent[len(recent) - limit] + rule.window - now)
    if not waits:
        return None
    return max(max(waits), timedelta(seconds=1))
