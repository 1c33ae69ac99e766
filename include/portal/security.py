"""Passwords, CSRF tokens and the login throttle's rule: small functions the app and the tests share.

- Passwords: argon2id through argon2-cffi's PasswordHasher (salted, memory-hard; its PHC string records the
  parameters, so raising them later rehashes each password at its owner's next login).
- CSRF: one random token per session, kept in the signed session cookie, sent back in a hidden field by every
  form and compared in constant time. The session cookie itself is SameSite=Lax and HttpOnly.
- Throttle: `throttle_delay` decides from the recent failures whether a login attempt may go ahead.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from include.portal.config import PortalSettings

CSRF_FIELD = "csrf_token"
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
    """Hash and verify with one hasher; `verify` never raises for a wrong password or a malformed hash."""

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


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, submitted: str | None) -> bool:
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    max_failures_per_ip: int
    window: timedelta


def throttle_delay(
    now: datetime,
    pair_failures: Sequence[datetime],
    ip_failures: Sequence[datetime],
    rule: Throttle,
) -> timedelta | None:
    """How long the client must wait before trying again, or None when the attempt may go ahead.

    pair_failures: the failed attempts for this email from this address within the window and since its last
    success; ip_failures: every failed attempt from this address within the window. Once a limit is reached,
    attempts are refused (without checking the password) until the oldest counted failure leaves the window.
    """
    waits = []
    for failures, limit in ((pair_failures, rule.max_failures), (ip_failures, rule.max_failures_per_ip)):
        recent = sorted(t for t in failures if t > now - rule.window)
        if len(recent) >= limit:
            waits.append(recent[len(recent) - limit] + rule.window - now)
    if not waits:
        return None
    return max(max(waits), timedelta(seconds=1))
