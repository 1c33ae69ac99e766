"""Fixtures for the portal tests: the seeded warehouse (portal_seed.py), settings and TestClients.

Password hashing uses argon2id with small parameters here (the production defaults take ~50 ms a hash, which
adds up over many registrations and logins); test_portal_security.py checks the defaults themselves.
"""

from __future__ import annotations

from dataclasses import replace

import portal_seed as seed
import pytest
from portal_helpers import TestClient

from include.portal.app import create_app
from include.portal.config import PortalSettings


@pytest.fixture
def seeded(fresh_schema):
    """The warehouse schema anew, with master data, every analytics table and one publish."""
    seed.seed_all(fresh_schema)
    return fresh_schema


@pytest.fixture
def settings(warehouse_uri) -> PortalSettings:
    return PortalSettings(
        database_url=warehouse_uri,
        secret_key="test-secret-key-" + "x" * 32,
        poll_seconds=1,
        kpi_period_days=seed.PERIOD_DAYS,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        db_pool_size=2,
    )


@pytest.fixture
def make_client(settings, seeded):
    """A function returning a new TestClient (its own cookies), optionally from another address or settings."""
    clients = []

    def make(ip: str = "198.51.100.7", **overrides) -> TestClient:
        app = create_app(replace(settings, **overrides) if overrides else settings)
        client = TestClient(app, follow_redirects=False, client=(ip, 50000))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
