"""Who gets alerts: email addresses checked and made safe for headers, and the inventory managers by location."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.db import transaction

logger = logging.getLogger(__name__)


class InvalidAddress(ValueError):
    pass


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\\\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def one_line(value: object) -> str:
    """Text on one line: CR, LF and other control characters become spaces (no header injection)."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", str(value))).strip()


def validate_address(value: str) -> str:
    """A bare address (`name@example.com`), checked with parseaddr and a strict pattern; raises InvalidAddress."""
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidAddress(f"{value!r} is not an email address")
    name, addr = parseaddr(value)
    if name or addr != value.strip() or not _ADDRESS.match(addr):
        raise InvalidAddress(f"{value!r} is not an email address")
    return addr


def parse_recipients(value: str | Iterable[str]) -> list[str]:
    """A comma-separated Variable (or a list) as valid, distinct addresses; invalid ones are logged and skipped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    found: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            addr = validate_address(item)
        except InvalidAddress as exc:
            logger.warning("ignoring recipient: %s", exc)
            continue
        if addr not in found:
            found.append(addr)
    return found


def mailbox(addr: str, display_name: str = "") -> Address:
    """A To/From header value: the address validated, the display name on one line."""
    local, domain = validate_address(addr).split("@")
    return Address(display_name=one_line(display_name), username=local, domain=domain)


def seed_managers(conn: PgConnection, seed: int) -> int:
    """One simulated manager per location (Faker names, example.com addresses). Idempotent; returns rows added.

    Call it after the master data exists. The same seed gives the same managers, so a re-run adds nothing.
    """
    from faker import Faker  # imported here: only seeding needs it, and it takes a while to import

    fake = Faker("en_US")
    added = 0
    with transaction(conn) as cur:
        cur.execute("SELECT location_id FROM raw.warehouse_locations ORDER BY location_id")
        for (location_id,) in cur.fetchall():
            fake.seed_instance(f"{seed}|manager|{location_id}")
            first, last = fake.first_name(), fake.last_name()
            local = re.sub(r"[^a-z0-9]+", "", first.lower()) + "." + re.sub(r"[^a-z0-9]+", "", last.lower())
            # example.com is reserved for documentation: no simulated alert can reach a real mailbox.
            address = f"{local}.{location_id}@example.com"
            cur.execute(
                "INSERT INTO portal.inventory_managers (name, email, phone, location_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (f"{first} {last}", address, fake.numerify("+1-###-###-####"), location_id),
            )
            added += cur.rowcount
    return added


@dataclass(frozen=True)
class Manager:
    manager_id: int
    name: str
    email: str
    location_id: int


def active_managers(cur: PgCursor) -> dict[int, list[Manager]]:
    """Active managers by location; one with an invalid address is skipped (its warehouses fall back)."""
    cur.execute(
        "SELECT manager_id, name, email, location_id FROM portal.inventory_managers WHERE active ORDER BY manager_id"
    )
    by_location: dict[int, list[Manager]] = defaultdict(list)
    for manager_id, name, address, location_id in cur.fetchall():
        try:
            by_location[location_id].append(Manager(manager_id, name, validate_address(address), location_id))
        except InvalidAddress as exc:
            logger.warning("manager %s has an invalid address, not emailing them: %s", manager_id, exc)
    return by_location
