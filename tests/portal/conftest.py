"""Fixtures for the portal tests: the seeded warehouse (portal_seed.py), a real SMTP sink on loopback (the portal's
emails arrive there and the tests follow the links in them), a clock the tests move, settings and TestClients.

Password hashing uses argon2id with small parameters here (the production defaults take ~50 ms a hash, which
adds up over many registrations and logins); test_portal_accounts.py checks the defaults themselves.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import portal_seed as seed
import pytest
from portal_helpers import Mailbox, TestClient

from include.inventory.warehouse import Warehouse
from include.portal.app import create_app
from include.portal.config import PortalSettings, SmtpSettings


class Clock:
    """The portal's clock in tests: starts at the real time (the outbox stamps rows with now()), moves on by a
    millisecond at each reading (so events keep their order) and by hand (`advance`)."""

    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def seeded(fresh_schema):
    """The warehouse schema anew, with master data, every analytics table and one publish."""
    seed.seed_all(fresh_schema)
    return fresh_schema


@pytest.fixture
def mailbox(tmp_path):
    """A real SMTP server (aiosmtpd) on a free loopback port, writing each message to a folder."""
    box = Mailbox(tmp_path / "mail")
    box.start()
    yield box
    box.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def as_role(uri: str, role: str, password: str = "") -> str:
    """The same database, logged in as `role` (the local cluster trusts loopback; elsewhere PORTAL_DB_PASSWORD)."""
    parts = urlsplit(Warehouse.from_uri(uri).uri)
    auth = quote(role) + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.hostname}:{parts.port or 5432}"))


@pytest.fixture(scope="session")
def portal_uri(warehouse_uri) -> str:
    """The portal connects as its own role, portal_app, as it does in every deployment."""
    return as_role(warehouse_uri, "portal_app", os.environ.get("PORTAL_DB_PASSWORD", ""))


@pytest.fixture
def settings(portal_uri, mailbox) -> PortalSettings:
    return PortalSettings(
        database_url=portal_uri,
        smtp=SmtpSettings(host="127.0.0.1", port=mailbox.port, ssl=False, starttls=False),
        secret_key="test-secret-key-" + "x" * 32,
        poll_seconds=1,
        kpi_period_days=seed.PERIOD_DAYS,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        db_pool_size=2,
    )


@pytest.fixture
def make_client(settings, seeded, mailbox, clock):
    """A function returning a new TestClient (its own cookies), optionally from another address or settings.
    Each client knows the mailbox (`client.mailbox`), so the helpers can follow the links the portal emails."""
    clients = []

    def make(ip: str = "198.51.100.7", **overrides) -> TestClient:
        app = create_app(replace(settings, **overrides) if overrides else settings, clock=clock)
        client = TestClient(app, follow_redirects=False, client=(ip, 50000))
        client.mailbox = mailbox
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
